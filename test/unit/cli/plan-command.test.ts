import { describe, expect, it } from 'vitest';
import { formatPlan } from '../../../src/cli/plan-command.js';
import { configYaml, loadText } from '../../helpers/config-text.js';

const serviceOf = (lines: readonly string[]) => loadText(configYaml([], ['rollout:', ...lines.map((line) => `  ${line}`)])).services[0]!;

describe('shiftproxy plan', () => {
  it("prints the README's headline schedule, with how the bake compares with stable", () => {
    const service = serviceOf([
      'strategy: canary',
      'canary: { weight: 10, interval: 5m }',
      'bakeTime: 5m',
      'analysis:',
      '  alarms:',
      '    - { name: canary-errors, metric: error_rate, role: canary, window: 1m, max: 0.05, minRequests: 20 }',
      '    - { name: worse-than-stable, metric: error_rate, relativeTo: stable, maxRatio: 2, confidence: 0.95 }',
      '    - { name: canary-p99, metric: latency_p99, role: canary, window: 1m, max: 0.5 }',
    ]);
    expect(formatPlan(service, 200)).toBe(
      [
        'shop: canary, blue -> green',
        '  at        weight  hold                canary requests at 200 rps',
        '  +0s          10%  5m                  6,000',
        '  +5m         100%  -                   0',
        '  +5m         bake  5m                  60,000',
        '  +10m        done  promoted            -',
        '  total 10m, canary requests ~66,000',
        '  analysis every 10s: canary-errors, worse-than-stable, canary-p99; rollback after 2 failed or 3 inconclusive checks in a row',
        '  progress deadline: 30m beyond the schedule',
        "  note: the bake (100%, 5m): worse-than-stable compares the canary's current window with stable's last full 1m window before its weight reached 0, a frozen baseline",
        '',
      ].join('\n'),
    );
  });

  it('warns, after the schedule, about every alarm that can never decide somewhere', () => {
    const service = serviceOf([
      'strategy: steps',
      'steps: [ { weight: 0, pause: 10m }, { weight: 100 } ]',
      'bakeTime: 15m',
      'analysis:',
      '  alarms:',
      '    - { name: canary-errors, metric: error_rate, role: canary, window: 1m, max: 0.05 }',
      '    - { name: stable-errors, metric: error_rate, role: stable, window: 1m, max: 0.05 }',
    ]);
    expect(formatPlan(service, undefined).split('\n').filter((line) => line.startsWith('  warning: '))).toEqual([
      '  warning: step 1 (0%, 10m): canary-errors can never be evaluated: the canary takes no traffic at 0%',
      '  warning: the bake (100%, 15m): stable-errors can never be evaluated: stable takes no traffic at 100%',
    ]);
  });

  it('gives adaptive steps, every time after them and the canary requests as ranges, and says how the sequential judge decides', () => {
    const service = serviceOf([
      'strategy: steps',
      'steps:',
      '  - { weight: 10, pause: { min: 1m, max: 5m } }',
      '  - { weight: 50, pause: { min: 1m, max: 5m } }',
      '  - { weight: 100 }',
      'bakeTime: 5m',
      'analysis:',
      '  judge: sequential',
      '  falseRollbackRate: 0.01',
      '  alarms:',
      '    - { name: errors, metric: error_rate, relativeTo: stable, maxRatio: 2 }',
      '    - { name: p99, metric: latency_p99, relativeTo: stable, maxRatio: 1.5, window: 5m }',
    ]);
    expect(formatPlan(service, 100)).toBe(
      [
        'shop: steps, blue -> green',
        '  at        weight  hold                canary requests at 100 rps',
        '  +0s          10%  1m-5m adaptive      600-3,000',
        '  +1m-5m       50%  1m-5m adaptive      3,000-15,000',
        '  +2m-10m     100%  -                   0',
        '  +2m-10m     bake  5m                  30,000',
        '  +7m-15m     done  promoted            -',
        '  total 7m-15m, canary requests ~33,600-48,000',
        '  an adaptive step advances at the first check after its minimum that shows the canary no worse than stable, else at its maximum',
        '  analysis every 10s: errors, p99; rollback after 2 failed or 3 inconclusive checks in a row',
        '  sequential judge for errors, p99: a healthy canary is rolled back with probability at most 0.01 over the whole rollout, however often it is checked; a comparison shown worse rolls back at once',
        '  progress deadline: 30m beyond the schedule',
        "  note: the bake (100%, 5m): errors judges the canary's requests since stable's weight reached 0 against stable's last full 1m window before it, a frozen baseline",
        "  note: the bake (100%, 5m): p99 judges the canary's requests since stable's weight reached 0 against stable's last full 5m window before it, a frozen baseline",
        '',
      ].join('\n'),
    );
  });
});

import { describe, expect, it } from 'vitest';
import { alarmCoverage } from '../../../src/analysis/alarm-coverage.js';
import { compileStrategy } from '../../../src/strategies/compile-strategy.js';
import { configYaml, loadText } from '../../helpers/config-text.js';

/** The coverage of the `shop` service's rollout, given as YAML lines under `rollout:`. */
function coverageOf(rollout: readonly string[], options: Parameters<typeof alarmCoverage>[2] = {}) {
  const top = ['metrics: { prometheus: { url: "http://127.0.0.1:9091" } }'];
  const service = loadText(configYaml(top, ['rollout:', ...rollout.map((line) => `  ${line}`)])).services[0]!;
  return alarmCoverage(compileStrategy(service.rollout), service.rollout.analysis, options);
}

const CANARY_ERRORS = '    - { name: canary-errors, metric: error_rate, role: canary, window: 1m, max: 0.05, minRequests: 20 }';
const STABLE_ERRORS = '    - { name: stable-errors, metric: error_rate, role: stable, window: 1m, max: 0.05 }';
const WORSE = '    - { name: worse-than-stable, metric: error_rate, relativeTo: stable, maxRatio: 2 }';
const SLOWER = '    - { name: slower, metric: latency_p99, relativeTo: stable, maxRatio: 2 }';

describe('alarm coverage: where an alarm can never decide, said before anything runs', () => {
  it("the README's headline config: every alarm decides everywhere, and the bake compares with a frozen baseline", () => {
    const coverage = coverageOf(
      ['strategy: canary', 'canary: { weight: 10, interval: 5m }', 'bakeTime: 5m', 'analysis:', '  alarms:', CANARY_ERRORS, WORSE],
      { rps: 200 },
    );
    expect(coverage).toEqual({
      warnings: [],
      notes: ["the bake (100%, 5m): worse-than-stable compares the canary's current window with stable's last full 1m window before its weight reached 0, a frozen baseline"],
    });
  });

  it('an alarm on a role without traffic: role stable at 100%, role canary at 0%', () => {
    const { warnings } = coverageOf(['strategy: steps', 'steps: [ { weight: 0, pause: 5m }, { weight: 100 } ]', 'bakeTime: 10m', 'analysis:', '  alarms:', CANARY_ERRORS, STABLE_ERRORS]);
    expect(warnings).toEqual([
      'step 1 (0%, 5m): canary-errors can never be evaluated: the canary takes no traffic at 0%',
      'the bake (100%, 10m): stable-errors can never be evaluated: stable takes no traffic at 100%',
    ]);
  });

  it('a comparison at 0% with no canary traffic before it, or after too short a stretch; a baseline too old late in a long bake', () => {
    const { warnings, notes } = coverageOf([
      'strategy: steps',
      'steps: [ { weight: 0, pause: 5m }, { weight: 10, pause: 30s }, { weight: 0, pause: 2m }, { weight: 50, pause: 10m }, { weight: 100 } ]',
      'bakeTime: 2h',
      'analysis:',
      '  alarms:',
      WORSE,
      STABLE_ERRORS,
    ]);
    expect(warnings).toEqual([
      'step 1 (0%, 5m): worse-than-stable can never be evaluated: the canary takes no traffic at 0% and has taken none before in this rollout',
      'step 3 (0%, 2m): worse-than-stable can never be evaluated: the canary takes no traffic at 0%, and it took traffic for only 30s before, less than its 1m window',
      'the bake (100%, 2h): worse-than-stable cannot be evaluated after its first 1h: the frozen baseline is then more than 1h old',
      'the bake (100%, 2h): stable-errors can never be evaluated: stable takes no traffic at 100%',
    ]);
    expect(notes).toEqual([
      "the bake (100%, 2h): worse-than-stable compares the canary's current window with stable's last full 1m window before its weight reached 0, a frozen baseline",
    ]);
  });

  it('a step at 0% no alarm can judge ends as planned; a bake right after the start needs history from before the rollout', () => {
    const blueGreen = coverageOf(['strategy: steps', 'steps: [ { weight: 0, pause: 5m }, { weight: 100 } ]', 'bakeTime: 5m', 'analysis:', '  alarms:', CANARY_ERRORS, WORSE]);
    expect(blueGreen.warnings).toEqual([
      'step 1 (0%, 5m): canary-errors can never be evaluated: the canary takes no traffic at 0%',
      'step 1 (0%, 5m): worse-than-stable can never be evaluated: the canary takes no traffic at 0% and has taken none before in this rollout',
      'step 1 (0%, 5m): no alarm can judge it; it ends as planned, since no client reaches the canary at 0%',
    ]);
    expect(blueGreen.notes).toEqual([
      "the bake (100%, 5m): worse-than-stable compares the canary's current window with stable's last full 1m window before its weight reached 0, a frozen baseline",
    ]);
    const allAtOnce = coverageOf(['strategy: all-at-once', 'bakeTime: 5m', 'analysis:', '  alarms:', WORSE]);
    expect(allAtOnce).toEqual({
      warnings: [],
      notes: [
        "the bake (100%, 5m): worse-than-stable compares the canary's current window with stable's last full 1m window before its weight reached 0, a frozen baseline (partly from before the rollout: the proxy must have served for 1m when it starts)",
      ],
    });
  });

  it('at a given rate: a window that can never hold what the alarm needs, live or frozen, only reports inconclusive', () => {
    const { warnings } = coverageOf(
      ['strategy: linear', 'linear: { step: 25, interval: 1m }', 'bakeTime: 5m', 'analysis:', '  alarms:', CANARY_ERRORS, SLOWER],
      { rps: 10 },
    );
    // Stable's share falls as the canary's grows: its window holds the most at a step's first check.
    expect(warnings).toEqual([
      'step 1 (25%, 1m): slower can never be evaluated at 10 requests/s: its 1m window holds at most about 150 canary requests, and it needs 500, so it only reports inconclusive there (3 in a row roll back)',
      'step 2 (50%, 1m): slower can never be evaluated at 10 requests/s: its 1m window holds at most about 300 canary requests, and it needs 500, so it only reports inconclusive there (3 in a row roll back)',
      'step 2 (50%, 1m): slower can never be evaluated at 10 requests/s: its 1m window holds at most about 425 stable requests, and it needs 500, so it only reports inconclusive there (3 in a row roll back)',
      'step 3 (75%, 1m): slower can never be evaluated at 10 requests/s: its 1m window holds at most about 450 canary requests, and it needs 500, so it only reports inconclusive there (3 in a row roll back)',
      'step 3 (75%, 1m): slower can never be evaluated at 10 requests/s: its 1m window holds at most about 275 stable requests, and it needs 500, so it only reports inconclusive there (3 in a row roll back)',
      'the bake (100%, 5m): slower can never be evaluated at 10 requests/s: its frozen 1m window holds at most about 150 stable requests, and it needs 500, so it only reports inconclusive there (3 in a row roll back)',
    ]);
  });

  it('PromQL alarms always apply; manual steps of unknown length are not second-guessed', () => {
    const { warnings } = coverageOf([
      'strategy: steps',
      'steps: [ { weight: 20, pause: manual }, { weight: 0, pause: 5m }, { weight: 100 } ]',
      'analysis:',
      '  alarms:',
      '    - { name: prom-5xx, promql: "sum(rate(x[1m]))", max: 0.01 }',
      WORSE,
    ]);
    expect(warnings).toEqual([]);
  });

  it('the sequential judge: no window minimum to warn about, and a canary back at 0% keeps the evidence gathered before', () => {
    const thin = '    - { name: worse-than-stable, metric: error_rate, relativeTo: stable, maxRatio: 2, minRequests: 500 }';
    const rollout = ['strategy: steps', 'steps: [ { weight: 5, pause: 5m }, { weight: 0, pause: 5m }, { weight: 100 } ]', 'analysis:', '  alarms:', thin];
    expect(coverageOf(rollout, { rps: 10 }).warnings).toEqual([
      'step 1 (5%, 5m): worse-than-stable can never be evaluated at 10 requests/s: its 1m window holds at most about 30 canary requests, and it needs 500, so it only reports inconclusive there (3 in a row roll back)',
      "step 2 (0%, 5m): worse-than-stable can never be evaluated at 10 requests/s: its frozen 1m window holds at most about 30 canary requests, and it needs 500, so it only reports inconclusive there (3 in a row roll back)",
    ]);
    const sequential = coverageOf([...rollout.slice(0, 2), 'analysis:', '  judge: sequential', '  alarms:', thin], { rps: 10 });
    expect(sequential).toEqual({
      warnings: ['step 2 (0%, 5m): no alarm can judge it; it ends as planned, since no client reaches the canary at 0%'],
      notes: ['step 2 (0%, 5m): worse-than-stable is not judged: the canary takes no traffic at 0%, and the evidence gathered before stands'],
    });
  });
});

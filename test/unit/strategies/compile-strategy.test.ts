import { describe, expect, it } from 'vitest';
import type { RolloutConfig } from '../../../src/core/config-types.js';
import { BadRequestError } from '../../../src/core/errors.js';
import { compileStrategy, linearSteps } from '../../../src/strategies/compile-strategy.js';
import { plannedDurationMs } from '../../../src/strategies/step-plan.js';

const M = 60_000;

function rollout(overrides: Partial<RolloutConfig> = {}): RolloutConfig {
  return {
    strategy: 'canary',
    canary: { weight: 10, intervalMs: 5 * M },
    linear: { step: 10, intervalMs: M },
    steps: [],
    bakeTimeMs: 0,
    hooks: { timeoutMs: 30_000 },
    progressDeadlineMs: 30 * M,
    analysis: { intervalMs: 10_000, failureLimit: 2, inconclusiveLimit: 3, judge: 'fixed', falseRollbackRate: 0.05, alarms: [] },
    ...overrides,
  };
}

describe('strategies compile to exact steps', () => {
  it('canary: the weight for one interval, then everything', () => {
    expect(compileStrategy(rollout({ canary: { weight: 20, intervalMs: 3 * M } })).steps).toEqual([
      { weight: 20, hold: 3 * M },
      { weight: 100, hold: 0 },
    ]);
  });

  it('linear: +step every interval up to 100, the last increment possibly smaller', () => {
    expect(compileStrategy(rollout({ strategy: 'linear', linear: { step: 30, intervalMs: 2 * M } })).steps).toEqual([
      { weight: 30, hold: 2 * M },
      { weight: 60, hold: 2 * M },
      { weight: 90, hold: 2 * M },
      { weight: 100, hold: 0 },
    ]);
    expect(linearSteps(10, M).map((s) => s.weight)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    expect(linearSteps(100, M)).toEqual([{ weight: 100, hold: 0 }]);
    expect(linearSteps(33.3, M).map((s) => s.weight)).toEqual([33.3, 66.6, 99.9, 100]);
  });

  it('all-at-once: 100% in one step, then the bake', () => {
    expect(compileStrategy(rollout({ strategy: 'all-at-once', bakeTimeMs: 10 * M }))).toEqual({
      strategy: 'all-at-once',
      steps: [{ weight: 100, hold: 0 }],
      bakeTimeMs: 10 * M,
    });
  });

  it('blue-green: a 0% preview (test traffic only), held for --interval if given, then everything', () => {
    expect(compileStrategy(rollout({ strategy: 'blue-green' })).steps).toEqual([
      { weight: 0, hold: 0 },
      { weight: 100, hold: 0 },
    ]);
    expect(compileStrategy(rollout({ strategy: 'blue-green' }), { intervalMs: 2 * M }).steps).toEqual([
      { weight: 0, hold: 2 * M },
      { weight: 100, hold: 0 },
    ]);
  });

  it('steps: the configured list, manual pauses kept', () => {
    const steps = [{ weight: 5, pause: M }, { weight: 50, pause: 'manual' as const }, { weight: 100 }];
    expect(compileStrategy(rollout({ strategy: 'steps', steps })).steps).toEqual([
      { weight: 5, hold: M },
      { weight: 50, hold: 'manual' },
      { weight: 100, hold: 0 },
    ]);
  });

  it.each([
    ['AllAtOnce', [{ weight: 100, hold: 0 }]],
    ['Canary10Percent5Minutes', [{ weight: 10, hold: 5 * M }, { weight: 100, hold: 0 }]],
    ['Canary10Percent10Minutes', [{ weight: 10, hold: 10 * M }, { weight: 100, hold: 0 }]],
    ['Canary10Percent15Minutes', [{ weight: 10, hold: 15 * M }, { weight: 100, hold: 0 }]],
    ['Canary10Percent30Minutes', [{ weight: 10, hold: 30 * M }, { weight: 100, hold: 0 }]],
    ['Linear10PercentEvery1Minute', linearSteps(10, M)],
    ['Linear10PercentEvery2Minutes', linearSteps(10, 2 * M)],
    ['Linear10PercentEvery3Minutes', linearSteps(10, 3 * M)],
    ['Linear10PercentEvery10Minutes', linearSteps(10, 10 * M)],
    ['CodeDeployDefault.ECSLinear10PercentEvery1Minutes', linearSteps(10, M)],
    ['CodeDeployDefault.ECSCanary10Percent15Minutes', [{ weight: 10, hold: 15 * M }, { weight: 100, hold: 0 }]],
    ['CodeDeployDefault.LambdaAllAtOnce', [{ weight: 100, hold: 0 }]],
  ])('preset %s', (preset, steps) => {
    expect(compileStrategy(rollout(), { preset }).steps).toEqual(steps);
  });

  it('Linear10PercentEvery10Minutes plans 90 minutes to 100%', () => {
    expect(plannedDurationMs(compileStrategy(rollout(), { preset: 'Linear10PercentEvery10Minutes' }))).toBe(90 * M);
  });

  it('applies start overrides: strategy, step, interval', () => {
    expect(compileStrategy(rollout(), { strategy: 'linear', step: 25, intervalMs: 30_000 }).steps).toEqual([
      { weight: 25, hold: 30_000 },
      { weight: 50, hold: 30_000 },
      { weight: 75, hold: 30_000 },
      { weight: 100, hold: 0 },
    ]);
    expect(compileStrategy(rollout(), { step: 5 }).steps[0]).toEqual({ weight: 5, hold: 5 * M });
    expect(compileStrategy(rollout({ preset: 'Canary10Percent5Minutes' }), { strategy: 'linear' }).preset).toBeUndefined();
  });

  it('refuses bad overrides with a 400', () => {
    expect(() => compileStrategy(rollout(), { preset: 'Canary99' })).toThrow(
      new BadRequestError(
        'unknown preset "Canary99"; valid presets: AllAtOnce, Canary10Percent5Minutes, Canary10Percent10Minutes, Canary10Percent15Minutes, ' +
          'Canary10Percent30Minutes, Linear10PercentEvery1Minute, Linear10PercentEvery2Minutes, Linear10PercentEvery3Minutes, ' +
          'Linear10PercentEvery10Minutes (also as AWS spells them, e.g. CodeDeployDefault.ECSCanary10Percent5Minutes)',
      ),
    );
    expect(() => compileStrategy(rollout(), { step: 100 })).toThrow('step must be greater than 0 and less than 100, got 100');
    expect(() => compileStrategy(rollout(), { strategy: 'linear', step: 0 })).toThrow('step must be greater than 0 and at most 100, got 0');
    expect(() => compileStrategy(rollout(), { strategy: 'steps' })).toThrow('strategy steps needs steps in the service config');
  });
});

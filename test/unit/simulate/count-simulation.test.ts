import { describe, expect, it } from 'vitest';
import type { ShiftproxyConfig } from '../../../src/core/config-types.js';
import { runCountSimulation, type CountSimulationResult } from '../../../src/simulate/count-simulation.js';
import type { FaultSpec } from '../../../src/simulate/fault-spec.js';
import { formatStepTimes } from '../../../src/simulate/step-times.js';
import { configYaml, loadText } from '../../helpers/config-text.js';

const HEADLINE_ALARMS = [
  '      - { name: canary-errors, metric: error_rate, role: canary, window: 1m, max: 0.05, minRequests: 20 }',
  '      - { name: worse-than-stable, metric: error_rate, relativeTo: stable, maxRatio: 2, confidence: 0.95 }',
  '      - { name: canary-p99, metric: latency_p99, role: canary, window: 1m, max: 0.5 }',
];

/** The README's headline rollout: 10% for 5m, a 5m bake, three alarms checked every 10s. */
const headline = loadText(
  configYaml([], [
    'rollout:',
    '  strategy: canary',
    '  canary: { weight: 10, interval: 5m }',
    '  bakeTime: 5m',
    '  analysis:',
    '    interval: 10s',
    '    failureLimit: 2',
    '    inconclusiveLimit: 3',
    '    alarms:',
    ...HEADLINE_ALARMS,
  ]),
);

/** The A/A case: linear 20%/1m with a 1m bake, judged only against stable. */
const linearBake = loadText(
  configYaml([], [
    'rollout:',
    '  strategy: linear',
    '  linear: { step: 20, interval: 1m }',
    '  bakeTime: 1m',
    '  analysis:',
    '    alarms:',
    '      - { name: worse-than-stable, metric: error_rate, relativeTo: stable, maxRatio: 2, confidence: 0.95 }',
  ]),
);

const errors = (errorRate: number): FaultSpec => ({ errorRate, latencyMs: 0, mismatchRate: 0, afterMs: 0 });

async function rollouts(config: ShiftproxyConfig, rps: number, seeds: number, faults: { canary: number; stable: number }): Promise<CountSimulationResult[]> {
  const results: CountSimulationResult[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    results.push(await runCountSimulation({ config, rps, seed, failCanary: errors(faults.canary), failStable: errors(faults.stable) }));
  }
  return results;
}

const tally = (results: readonly CountSimulationResult[]) => {
  const out: Record<string, number> = {};
  for (const r of results) {
    const key = r.outcome === 'promoted' ? 'promoted' : `${r.cause}:${r.alarm}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
};

// A regression guard for the odds bench/odds measures over thousands of rollouts: the real
// controller, evaluator and judge, seeded counts, exact outcomes.
describe('count simulation: whole rollouts decided by the real controller and analysis, from seeded counts', () => {
  it('is reproducible: the same seed decides the same way at the same moments', async () => {
    const [a, b] = await Promise.all([1, 1].map(() => runCountSimulation({ config: headline, rps: 50, seed: 9, failCanary: errors(0.02), failStable: errors(0.02) })));
    expect(a?.history.map((h) => [h.at, h.event, h.canaryWeight])).toEqual(b?.history.map((h) => [h.at, h.event, h.canaryWeight]));
  });

  it("A/A with the headline config at 200 requests/s: 10 of 10 promoted, the bake judged against stable's frozen baseline", async () => {
    const results = await rollouts(headline, 200, 10, { canary: 0.02, stable: 0.02 });
    expect(tally(results)).toEqual({ promoted: 10 });
    // A check every 10 s for 10 minutes (the one due as the bake ends comes after the promotion): none inconclusive, none not applicable.
    expect(results[0]?.checks).toEqual({ pass: 59 });
    expect(results[0]?.decidedAtMs).toBe(600_000);
    const bake = results[0]!.history.filter((h) => h.event === 'analysis' && h.canaryWeight === 100).slice(1);
    expect(bake.every((h) => JSON.stringify(h.detail).includes('stable is a frozen baseline'))).toBe(true);
  });

  it("the issue's A/A case, linear 20%/1m with a 1m bake at the 6.67 requests/s simulate runs it at: 30 of 30 promoted", async () => {
    expect(tally(await rollouts(linearBake, 200 / 30, 30, { canary: 0.02, stable: 0.02 }))).toEqual({ promoted: 30 });
  });

  it('A/A with the headline config at 50 requests/s: the rollbacks left come from the absolute canary-errors threshold on the first small windows', async () => {
    const results = await rollouts(headline, 50, 60, { canary: 0.02, stable: 0.02 });
    expect(tally(results)).toEqual({ promoted: 58, 'alarm:canary-errors': 2 });
    // Both in the 10% step's first checks, whose windows hold 50 and 100 canary requests.
    expect(results.filter((r) => r.outcome === 'rolled_back').map((r) => r.decidedAtMs)).toEqual([20_000, 20_000]);
  });

  it("a canary failing 5% against stable's 1% is caught by an alarm in 30 of 30 rollouts, within the 10% step", async () => {
    const results = await rollouts(headline, 50, 30, { canary: 0.05, stable: 0.01 });
    expect(tally(results)).toEqual({ 'alarm:canary-errors': 21, 'alarm:worse-than-stable': 9 });
    expect(Math.max(...results.map((r) => r.decidedAtMs))).toBe(120_000);
  });
});

/** The judge benchmark's adaptive schedule: 10% then 50%, each held 1m to 5m, a 5m bake, the sequential judge at 5%. */
const adaptive = loadText(
  configYaml([], [
    'rollout:',
    '  strategy: steps',
    '  steps:',
    '    - { weight: 10, pause: { min: 1m, max: 5m } }',
    '    - { weight: 50, pause: { min: 1m, max: 5m } }',
    '    - { weight: 100 }',
    '  bakeTime: 5m',
    '  analysis:',
    '    judge: sequential',
    '    falseRollbackRate: 0.05',
    '    alarms:',
    '      - { name: errors, metric: error_rate, relativeTo: stable, maxRatio: 2 }',
    '      - { name: p99, metric: latency_p99, relativeTo: stable, maxRatio: 1.5, window: 5m }',
  ]),
);

describe('count simulation with the sequential judge and adaptive steps', () => {
  it('A/A at 200 requests/s: every step ends early once the canary is shown no worse, never before its minute', async () => {
    const results = await rollouts(adaptive, 200, 5, { canary: 0.02, stable: 0.02 });
    expect(tally(results)).toEqual({ promoted: 5 });
    for (const r of results) {
      const [first, second, full, bake, promoted] = r.steps;
      expect([first, second, full, bake, promoted].map((s) => s?.event)).toEqual(['step', 'step', 'step', 'bake', 'promoted']);
      expect(second?.early).toBe(true);
      expect(full?.early).toBe(true);
      expect(second!.atMs).toBeGreaterThanOrEqual(60_000);
      expect(second!.atMs).toBeLessThan(300_000);
      expect(full!.atMs - second!.atMs).toBeGreaterThanOrEqual(60_000);
      expect(promoted!.atMs - bake!.atMs).toBe(300_000);
    }
    // Seed 1, exactly: the 10% step cleared at 80 s, the 50% step at its minute.
    expect(results[0]?.steps.map((s) => s.atMs)).toEqual([0, 80_000, 140_000, 140_000, 440_000]);
    // As simulate prints it.
    expect(formatStepTimes(results[0]!.steps)).toBe('10% at 0s, 50% at 1m20s (early: shown no worse), 100% at 2m20s (early: shown no worse), bake at 2m20s, promoted at 7m20s');
  });

  it("a canary failing 5% against stable's 1% is rolled back by the first check that shows it, without a run of failed checks", async () => {
    const results = await rollouts(adaptive, 50, 10, { canary: 0.05, stable: 0.01 });
    expect(tally(results)).toEqual({ 'alarm:errors': 10 });
    for (const r of results) expect(r.reason).toContain('the sequential judge, which a healthy canary reaches with probability at most falseRollbackRate');
    expect(results.every((r) => r.decidedAtMs < 300_000)).toBe(true);
  });
});

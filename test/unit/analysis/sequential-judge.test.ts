import { describe, expect, it } from 'vitest';
import { rateConfidenceSequence } from '../../../src/analysis/dirichlet-multinomial.js';
import { chooseThresholds, judgeSequentially, type SequentialInput, type SequentialOutcome, type SequentialState } from '../../../src/analysis/sequential-judge.js';
import type { WindowStats } from '../../../src/analysis/window-stats.js';
import { LATENCY_BOUNDS_S, LatencyHistogram } from '../../../src/core/latency-histogram.js';
import { seededRandom } from '../../../src/core/seeded-random.js';
import { binomialBounds } from '../../../src/analysis/statistics.js';

const COARSE = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const noLatency = { bounds: COARSE, counts: new Array<number>(COARSE.length + 1).fill(0) };
const LEVELS = { live: 0.025, frozen: 0.025 };

function stats(requests: number, failures: number, latency = noLatency): WindowStats {
  return { requests, failures, latency, windowMs: 10_000 };
}

/** Seeded log-normal latencies (median `medianMs`, sigma 0.5) in the data plane's fine buckets. */
function latencies(random: () => number, count: number, medianMs: number): WindowStats {
  const h = new LatencyHistogram();
  for (let i = 0; i < count; i++) {
    const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    h.observe((medianMs / 1000) * Math.exp(0.5 * normal));
  }
  return { requests: count, failures: 0, latency: { bounds: [...LATENCY_BOUNDS_S], counts: [...h.counts] }, windowMs: 10_000 };
}

/** Feeds `checks` increments through the judge, the state going through JSON between checks as the rollout persists it. */
function run(checks: number, base: Omit<SequentialInput, 'state' | 'mark' | 'canary' | 'stable'>, next: (check: number) => Pick<SequentialInput, 'canary' | 'stable'>): SequentialOutcome[] {
  const outcomes: SequentialOutcome[] = [];
  let state: SequentialState | undefined;
  for (let check = 0; check < checks; check++) {
    const outcome = judgeSequentially({ ...base, state, mark: { source: 'test', at: check }, ...next(check) });
    outcomes.push(outcome);
    state = JSON.parse(JSON.stringify(outcome.state)) as SequentialState;
  }
  return outcomes;
}

describe('the sequential judge against a frozen stable (the bake)', () => {
  const frozen = { kind: 'frozen' as const, zeroAt: 1_000, window: stats(1000, 20) };

  it('bounds stable once (Clopper-Pearson at half the phase level) and follows the canary with the multinomial confidence sequence', () => {
    const [first] = run(1, { metric: 'error_rate', maxRatio: 2, levels: LEVELS }, () => ({ canary: stats(100, 2), stable: frozen }));
    const bounds = binomialBounds(20, 1000, 0.0125);
    expect(first?.state.frozen?.stableUpper).toBeCloseTo(bounds.upper, 12);
    expect(first?.state.frozen?.stableLower).toBeCloseTo(bounds.lower, 12);
    expect(first?.verdict).toBe('pass');
    expect(first?.explanation).toBe(
      "error_rate against stable's frozen baseline: canary error rate 2% (2/100) since stable stopped, between 0.0412% and 10.8% at 0.9875; " +
        'stable 2% (20/1000), between 1.14% and 3.24% at 0.9875: pass, not shown worse than 2 x stable (6.48% at most)',
    );
  });

  it('a canary failing 10% against a frozen 2% breaches at the first check where its whole sequence is above 2 x the upper bound', () => {
    const outcomes = run(20, { metric: 'error_rate', maxRatio: 2, levels: LEVELS }, () => ({ canary: stats(100, 10), stable: frozen }));
    const first = outcomes.findIndex((o) => o.verdict === 'breach');
    expect(first).toBeGreaterThan(0);
    const state = outcomes[first]?.state.frozen;
    const limit = 2 * (state?.stableUpper as number);
    const prior = state?.prior as { a: number; b: number };
    // The decision is exactly the confidence sequence leaving the tolerance, checked by bisection.
    expect(rateConfidenceSequence(10 * (first + 1), 100 * (first + 1), prior, 0.0125).lower).toBeGreaterThan(limit);
    expect(rateConfidenceSequence(10 * first, 100 * first, prior, 0.0125).lower).toBeLessThanOrEqual(limit);
    expect(outcomes[first]?.explanation).toContain('breach, the canary is worse than 2 x stable');
  });

  it('a canary as good as stable is never shown worse, and is shown no worse within a looser tolerance', () => {
    const equal = run(300, { metric: 'error_rate', maxRatio: 2, levels: LEVELS }, () => ({ canary: stats(100, 2), stable: frozen }));
    expect(equal.every((o) => o.verdict === 'pass')).toBe(true);
    const loose = run(300, { metric: 'error_rate', maxRatio: 3, levels: LEVELS }, () => ({ canary: stats(100, 2), stable: frozen }));
    expect(loose.some((o) => o.cleared)).toBe(true);
    expect(loose.every((o) => o.verdict === 'pass')).toBe(true);
  });

  it('with no false-rollback probability set aside for a frozen phase, it judges nothing', () => {
    const [only] = run(1, { metric: 'error_rate', maxRatio: 2, levels: { live: 0.05, frozen: 0 } }, () => ({ canary: stats(100, 90), stable: frozen }));
    expect(only?.verdict).toBe('pass');
    expect(only?.cleared).toBe(false);
    expect(only?.explanation).toContain('no phase at 100%');
  });
});

describe('the sequential judge while both slots take traffic', () => {
  it('error rate: the split may change between checks; a 5x canary is caught, an equal one is not', () => {
    const bad = run(60, { metric: 'error_rate', maxRatio: 2, levels: LEVELS }, (check) =>
      check < 30 ? { canary: stats(100, 5), stable: { kind: 'live', increment: stats(900, 9) } } : { canary: stats(500, 25), stable: { kind: 'live', increment: stats(500, 5) } },
    );
    expect(bad.some((o) => o.verdict === 'breach')).toBe(true);
    const equal = run(60, { metric: 'error_rate', maxRatio: 2, levels: LEVELS }, () => ({ canary: stats(100, 1), stable: { kind: 'live', increment: stats(900, 9) } }));
    expect(equal.every((o) => o.verdict === 'pass')).toBe(true);
    expect(equal.at(-1)?.cleared).toBe(true);
    expect(equal.at(-1)?.explanation).toBe(
      'error_rate while both take traffic: canary 1% (60/6000) vs stable 1% (540/54000), ratio 1, confidence sequence 0.633-1.56 at 0.975; limit 2 x stable: ' +
        'pass, shown no worse than 2 x stable (evidence 1.4e+6 >= 40)',
    );
  });

  it('a changed maxRatio (a reload) starts the evidence over', () => {
    const [first] = run(1, { metric: 'error_rate', maxRatio: 2, levels: LEVELS }, () => ({ canary: stats(100, 5), stable: { kind: 'live', increment: stats(900, 9) } }));
    const again = judgeSequentially({
      metric: 'error_rate',
      maxRatio: 3,
      levels: LEVELS,
      state: first?.state,
      mark: { source: 'test', at: 2 },
      canary: stats(100, 5),
      stable: { kind: 'live', increment: stats(900, 9) },
    });
    expect(again.state.increments).toBe(1);
    expect(again.state.live?.canary).toEqual({ requests: 100, failures: 5 });
  });

  it('latency: where to look is chosen from stable at the check before, then a 3x slower canary is caught and an equal one cleared', () => {
    const random = seededRandom(11);
    const recent = latencies(random, 5000, 20);
    const slow = run(40, { metric: 'latency', quantile: 0.99, maxRatio: 1.5, levels: LEVELS }, () => ({
      canary: latencies(random, 100, 60),
      stable: { kind: 'live', increment: latencies(random, 900, 20), recent },
    }));
    expect(slow[0]?.explanation).toContain("nothing judged yet: the first check chooses where to look (stable's p99 bucket)");
    const caught = slow.findIndex((o) => o.verdict === 'breach');
    expect(caught).toBeGreaterThan(0);
    expect(caught).toBeLessThan(10);
    const same = run(60, { metric: 'latency', quantile: 0.99, maxRatio: 1.5, levels: LEVELS }, () => ({
      canary: latencies(random, 100, 20),
      stable: { kind: 'live', increment: latencies(random, 900, 20), recent },
    }));
    expect(same.every((o) => o.verdict === 'pass')).toBe(true);
    expect(same.at(-1)?.cleared).toBe(true);
  });

  it('chooses the bucket bound at stable quantile, and the bounds around maxRatio times it (up to judge a breach, down to clear)', () => {
    // 1,000 latencies: p99 (rank 990) lies in the (10 ms, 25 ms] bucket.
    const sample = { bounds: COARSE, counts: [0, 0, 500, 480, 15, 5, 0, 0, 0, 0, 0] };
    expect(chooseThresholds(sample, 0.99, 2)).toEqual({ stable: 0.025, worse: 0.05, better: 0.05 });
    expect(chooseThresholds(sample, 0.99, 1.5)).toEqual({ stable: 0.025, worse: 0.05, better: 0.025 });
    // Fewer than 5 expected beyond the quantile: nowhere to look yet.
    expect(chooseThresholds({ bounds: COARSE, counts: [0, 0, 200, 199, 1, 0, 0, 0, 0, 0, 0] }, 0.99, 2)).toBeUndefined();
  });
});

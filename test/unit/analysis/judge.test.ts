import { describe, expect, it } from 'vitest';
import { judgeErrorRate, judgeLatency, minLatencyObservations } from '../../../src/analysis/judge.js';
import type { WindowStats } from '../../../src/analysis/window-stats.js';
import { LATENCY_BOUNDS_S, PROMETHEUS_BOUNDS_S, latencyBucketIndex } from '../../../src/core/latency-histogram.js';

const FINE: readonly number[] = Array.from(LATENCY_BOUNDS_S);

function errors(failures: number, requests: number): WindowStats {
  return { requests, failures, latency: { bounds: [1], counts: [requests, 0] }, windowMs: 60_000 };
}

/** A histogram from [upper bound, count] pairs; each pair fills the bucket that ends at that bound. */
function latency(bounds: readonly number[], filled: readonly (readonly [number, number])[]): WindowStats {
  const counts = new Array<number>(bounds.length + 1).fill(0);
  for (const [bound, count] of filled) {
    const i = bound === Number.POSITIVE_INFINITY ? bounds.length : bounds.indexOf(bound);
    if (i < 0) throw new Error(`${bound} is not a bound`);
    counts[i] = (counts[i] as number) + count;
  }
  const requests = counts.reduce((a, b) => a + b, 0);
  return { requests, failures: 0, latency: { bounds, counts }, windowMs: 60_000 };
}

// Reference tails written the slow, obvious way (products of ratios, no shared code with src).
function choose(n: number, k: number): number {
  let result = 1;
  for (let i = 1; i <= k; i++) result = (result * (n - k + i)) / i;
  return result;
}
function binomialTail(k: number, n: number, p: number): number {
  let sum = 0;
  for (let x = k; x <= n; x++) sum += choose(n, x) * p ** x * (1 - p) ** (n - x);
  return sum;
}
function logChooseSlow(n: number, k: number): number {
  let sum = 0;
  for (let i = 1; i <= k; i++) sum += Math.log(n - k + i) - Math.log(i);
  return sum;
}
function hypergeometricTail(k: number, population: number, successes: number, draws: number): number {
  let sum = 0;
  for (let x = k; x <= Math.min(successes, draws); x++) {
    sum += Math.exp(logChooseSlow(successes, x) + logChooseSlow(population - successes, draws - x) - logChooseSlow(population, draws));
  }
  return sum;
}

const RELATIVE = { maxRatio: 2, confidence: 0.95, minRequests: 20 };

describe('judgeErrorRate', () => {
  it('breaches on 8 canary failures against none on stable: exact p = (2/3)^8', () => {
    const result = judgeErrorRate(errors(8, 1000), errors(0, 1000), RELATIVE);
    expect(result.verdict).toBe('breach');
    expect(result.pValue).toBeCloseTo((2 / 3) ** 8, 12);
    expect(result.ratio).toBe(Number.POSITIVE_INFINITY);
    expect(result.explanation).toContain('ratio infinite (stable had no failures)');
    expect(result.explanation).toContain('p = 0.039 < 0.05');
  });

  it('passes on 7 canary failures against none: (2/3)^7 = 0.059 is not significant', () => {
    const result = judgeErrorRate(errors(7, 1000), errors(0, 1000), RELATIVE);
    expect(result.verdict).toBe('pass');
    expect(result.pValue).toBeCloseTo((2 / 3) ** 7, 12);
  });

  it('never breaches a canary at exactly maxRatio x stable', () => {
    for (const [canary, stable, n] of [
      [20, 10, 1000],
      [200, 100, 10_000],
      [2000, 1000, 100_000],
    ] as const) {
      const result = judgeErrorRate(errors(canary, n), errors(stable, n), RELATIVE);
      expect(result.verdict).toBe('pass');
      expect(result.ratio).toBe(2);
      expect(result.pValue).toBeGreaterThan(0.4);
    }
    const hand = judgeErrorRate(errors(20, 1000), errors(10, 1000), RELATIVE);
    expect(hand.pValue).toBeCloseTo(binomialTail(20, 30, 2 / 3), 12);
  });

  it('breaches on a clear difference and reports the values', () => {
    const result = judgeErrorRate(errors(51, 1000), errors(10, 1000), RELATIVE);
    expect(result.verdict).toBe('breach');
    expect(result.pValue).toBeCloseTo(binomialTail(51, 61, 2 / 3), 12);
    expect(result.canaryValue).toBeCloseTo(0.051, 12);
    expect(result.stableValue).toBeCloseTo(0.01, 12);
    expect(result.ratio).toBeCloseTo(5.1, 12);
    expect(result.explanation).toBe(
      'error_rate: canary 5.1% (51/1000) vs stable 1% (10/1000), ratio 5.1, limit 2 x stable; ' +
        'one-sided exact test of canary > 2 x stable: p = 0.0025 < 0.05: breach, canary significantly above 2 x stable at confidence 0.95',
    );
  });

  it('respects maxRatio: 5x stable breaches a limit of 2 but not of 10', () => {
    expect(judgeErrorRate(errors(50, 2000), errors(10, 2000), RELATIVE).verdict).toBe('breach');
    expect(judgeErrorRate(errors(50, 2000), errors(10, 2000), { ...RELATIVE, maxRatio: 10 }).verdict).toBe('pass');
  });

  it('uses the traffic split: a canary with 1% of the requests is weighed against its share', () => {
    // pi = r n_c / (r n_c + n_s) = 200 / 10200.
    const result = judgeErrorRate(errors(4, 100), errors(10, 10_000), RELATIVE);
    expect(result.pValue).toBeCloseTo(binomialTail(4, 14, 200 / 10_200), 12);
    expect(result.verdict).toBe('breach');
  });

  it('applies the confidence level: p = 0.021 breaches at 0.95 but not at 0.99', () => {
    // maxRatio 1, equal traffic: canary's share of 20 failures is Binomial(20, 1/2); P(X >= 15) = 21700 / 2^20.
    const options = { ...RELATIVE, maxRatio: 1 };
    const at95 = judgeErrorRate(errors(15, 1000), errors(5, 1000), options);
    expect(at95.pValue).toBeCloseTo(21_700 / 2 ** 20, 12);
    expect(at95.verdict).toBe('breach');
    expect(judgeErrorRate(errors(15, 1000), errors(5, 1000), { ...options, confidence: 0.99 }).verdict).toBe('pass');
  });

  it('passes a healthy window with no failures on either side', () => {
    const result = judgeErrorRate(errors(0, 1000), errors(0, 1000), RELATIVE);
    expect(result).toMatchObject({ verdict: 'pass', pValue: 1, ratio: 1, canaryValue: 0, stableValue: 0, canaryRequests: 1000, stableRequests: 1000 });
    expect(result.explanation).toContain('ratio 1 (both 0)');
  });

  it('passes a canary with no failures against a failing stable', () => {
    const result = judgeErrorRate(errors(0, 500), errors(25, 5000), RELATIVE);
    expect(result).toMatchObject({ verdict: 'pass', pValue: 1, ratio: 0 });
  });

  it('is inconclusive, before any test, when a side has fewer than minRequests', () => {
    const result = judgeErrorRate(errors(10, 19), errors(0, 5000), RELATIVE);
    expect(result.verdict).toBe('inconclusive');
    expect(result.pValue).toBeNull();
    expect(result.explanation).toBe('error_rate: too few requests to compare: canary 19, stable 5000 (needs 20 each)');
    expect(judgeErrorRate(errors(0, 5000), errors(0, 19), RELATIVE).verdict).toBe('inconclusive');
  });

  it('never passes on no data, even with minRequests 0', () => {
    const result = judgeErrorRate(errors(0, 0), errors(0, 0), { ...RELATIVE, minRequests: 0 });
    expect(result.verdict).toBe('inconclusive');
    expect(result.canaryValue).toBeNaN();
    expect(result.ratio).toBeNaN();
    expect(result.explanation).toContain('needs 1 each');
  });

  it('is inconclusive when no canary outcome could have been significant', () => {
    const tiny = judgeErrorRate(errors(1, 2), errors(0, 2), { ...RELATIVE, minRequests: 0 });
    expect(tiny.verdict).toBe('inconclusive');
    expect(tiny.pValue).toBeCloseTo(1 - (1 / 3) ** 1, 12);
    expect(tiny.explanation).toContain('even if every one of the 2 canary requests had failed');
  });

  it('is inconclusive when maxRatio x stable reaches 100%', () => {
    const result = judgeErrorRate(errors(1000, 1000), errors(600, 1000), RELATIVE);
    expect(result.verdict).toBe('inconclusive');
    expect(result.explanation).toContain("2 x stable's 60% is 100% or more");
  });

  it('still breaches a canary failing everything against a stable below the 100% ceiling', () => {
    expect(judgeErrorRate(errors(1000, 1000), errors(400, 1000), RELATIVE).verdict).toBe('breach');
  });

  it('rounds extrapolated Prometheus counts and caps failures at requests', () => {
    const result = judgeErrorRate(errors(51.4, 999.6), errors(10.2, 1000.3), RELATIVE);
    expect(result).toMatchObject({ canaryRequests: 1000, stableRequests: 1000, canaryValue: 0.051 });
    const capped = judgeErrorRate(errors(1003.2, 1000), errors(0, 1000), RELATIVE);
    expect(capped.canaryValue).toBe(1);
  });

  it('is inconclusive on counts that are not numbers', () => {
    for (const bad of [errors(Number.NaN, 100), errors(1, -5), errors(1, Number.POSITIVE_INFINITY)]) {
      const result = judgeErrorRate(bad, errors(0, 1000), RELATIVE);
      expect(result.verdict).toBe('inconclusive');
      expect(result.explanation).toContain('invalid canary counts');
    }
  });

  it('rejects options outside their range', () => {
    expect(() => judgeErrorRate(errors(0, 1), errors(0, 1), { ...RELATIVE, maxRatio: 0 })).toThrow(RangeError);
    expect(() => judgeErrorRate(errors(0, 1), errors(0, 1), { ...RELATIVE, confidence: 1 })).toThrow(RangeError);
    expect(() => judgeErrorRate(errors(0, 1), errors(0, 1), { ...RELATIVE, minRequests: Number.NaN })).toThrow(RangeError);
  });

  it('keeps tiny p-values accurate instead of rounding them to 0', () => {
    const result = judgeErrorRate(errors(400, 10_000), errors(10, 10_000), RELATIVE);
    expect(result.verdict).toBe('breach');
    // ln P = ln C(410, 10) + 400 ln(2/3) + 10 ln(1/3) = -128.2 for the leading term: about 2e-56.
    expect((result.pValue as number) / binomialTail(400, 410, 2 / 3)).toBeCloseTo(1, 9);
    expect(result.explanation).toContain('p = < 1e-6');
  });
});

describe('minLatencyObservations', () => {
  it('asks for 5 observations expected beyond the quantile, and at least minRequests', () => {
    expect(minLatencyObservations(0.5, 0)).toBe(10);
    expect(minLatencyObservations(0.9, 0)).toBe(50);
    expect(minLatencyObservations(0.99, 0)).toBe(500);
    expect(minLatencyObservations(0.99, 800)).toBe(800);
    expect(minLatencyObservations(0.5, 20)).toBe(20);
  });
});

describe('judgeLatency on coarse buckets (a Prometheus-like layout)', () => {
  const BOUNDS = [0.1, 0.2, 0.4, 0.8];
  const stable = latency(BOUNDS, [
    [0.2, 900],
    [0.4, 100],
  ]);
  const P90 = { ...RELATIVE, quantile: 0.9 };

  it('splits at bounds near the pooled quantile and tests the 2x2 table with Fisher exact, Bonferroni-corrected', () => {
    // Scaled x2, stable has 900 in (0.2, 0.4] and 100 in (0.4, 0.8]. Pooled p90 is 0.48, inside the
    // wide (0.4, 0.8] bucket on both sides: 0.48, 0.4 and 0.8 are tried. Only 0.4 separates the p90s
    // (15% of the canary above it, 10% of stable).
    const canary = latency(BOUNDS, [
      [0.4, 850],
      [0.8, 150],
    ]);
    const result = judgeLatency(canary, stable, P90);
    expect(result.verdict).toBe('breach');
    expect(result.pValue).toBeCloseTo(3 * hypergeometricTail(150, 2000, 250, 1000), 10);
    expect(result.canaryValue).toBeCloseTo(0.4 + (50 / 150) * 0.4, 12);
    expect(result.stableValue).toBeCloseTo(0.2, 12);
    expect(result.explanation).toContain(
      'above 400 ms (near the pooled p90 480 ms, the best of 3 splits around wide buckets, p x 3; stable scaled x2): canary 150/1000 (15%), stable 100/1000 (10%);',
    );
    expect(result.explanation).not.toContain('counted against a breach');
  });

  it('passes a smaller excess that is not significant', () => {
    const canary = latency(BOUNDS, [
      [0.4, 880],
      [0.8, 120],
    ]);
    const result = judgeLatency(canary, stable, P90);
    expect(result.verdict).toBe('pass');
    expect(result.pValue).toBeCloseTo(3 * hypergeometricTail(120, 2000, 220, 1000), 10);
  });

  it('passes a canary at exactly maxRatio x stable', () => {
    const canary = latency(BOUNDS, [
      [0.4, 900],
      [0.8, 100],
    ]);
    const result = judgeLatency(canary, stable, P90);
    expect(result.verdict).toBe('pass');
    expect(result.ratio).toBeCloseTo(2, 12);
    expect(result.pValue as number).toBeGreaterThan(0.4);
  });

  it('counts a straddled wide bucket against a breach when the ratio does not line the buckets up', () => {
    // x1.5 puts stable's bounds at 0.15, 0.3, 0.6, 1.2: none is a canary bound.
    const canary = latency(BOUNDS, [
      [0.4, 900],
      [0.8, 100],
    ]);
    const result = judgeLatency(canary, stable, { ...P90, maxRatio: 1.5 });
    expect(result.verdict).toBe('pass');
    const slow = latency(BOUNDS, [[0.8, 1000]]);
    const breach = judgeLatency(slow, stable, { ...P90, maxRatio: 1.5 });
    // Split at 0.4: all 1000 canary observations above; stable's (0.3, 0.6] bucket counted above too.
    expect(breach.explanation).toContain('above 400 ms');
    expect(breach.explanation).toContain('canary 1000/1000 (100%), stable 100/1000 (10%), straddled buckets counted against a breach');
    expect(breach.verdict).toBe('breach');
  });

  it('is inconclusive when the quantile lies beyond the last bound on both sides', () => {
    const beyond = latency(BOUNDS, [[Number.POSITIVE_INFINITY, 1000]]);
    const result = judgeLatency(beyond, beyond, { ...P90, maxRatio: 1 });
    expect(result.verdict).toBe('inconclusive');
    expect(result.explanation).toContain('beyond the last bucket bound');
  });

  it('breaches when the canary is entirely beyond the last bound and stable well below it', () => {
    const beyond = latency(BOUNDS, [[Number.POSITIVE_INFINITY, 1000]]);
    expect(judgeLatency(beyond, stable, P90).verdict).toBe('breach');
  });
});

describe('judgeLatency on the fine builtin buckets', () => {
  /** 1000 observations spread over the fine buckets holding values from `low` to `high` seconds. */
  function spread(low: number, high: number, n = 1000): WindowStats {
    const counts = new Array<number>(FINE.length + 1).fill(0);
    const first = latencyBucketIndex(low);
    const last = latencyBucketIndex(high);
    for (let k = 0; k < n; k++) counts[first + (k % (last - first + 1))]! += 1;
    return { requests: n, failures: 0, latency: { bounds: FINE, counts }, windowMs: 60_000 };
  }

  it('passes identical windows at maxRatio 1 and 2', () => {
    const window = spread(0.05, 0.2);
    for (const maxRatio of [1, 2]) {
      for (const quantile of [0.5, 0.9, 0.99]) {
        const result = judgeLatency(window, window, { ...RELATIVE, maxRatio, quantile });
        expect(result.verdict).toBe('pass');
        expect(result.ratio).toBe(1);
      }
    }
  });

  it('breaches a canary 3x slower than stable with maxRatio 2, at every quantile', () => {
    for (const quantile of [0.5, 0.9, 0.99]) {
      const result = judgeLatency(spread(0.15, 0.6), spread(0.05, 0.2), { ...RELATIVE, quantile });
      expect(result.verdict).toBe('breach');
      expect(result.ratio).toBeGreaterThan(2.5);
      expect(result.explanation).toMatch(/^latency_p\d+: canary .* vs stable .*; one-sided Fisher exact test p = .* < 0\.05: breach/);
    }
  });

  it('does not breach a canary 1.9x slower with maxRatio 2', () => {
    for (const quantile of [0.5, 0.9, 0.99]) {
      expect(judgeLatency(spread(0.095, 0.38), spread(0.05, 0.2), { ...RELATIVE, quantile }).verdict).toBe('pass');
    }
  });

  it('is inconclusive, before any test, on too few observations for the quantile', () => {
    const result = judgeLatency(spread(0.05, 0.2, 499), spread(0.05, 0.2, 5000), { ...RELATIVE, quantile: 0.99 });
    expect(result.verdict).toBe('inconclusive');
    expect(result.pValue).toBeNull();
    expect(result.explanation).toContain('needs 500 each');
    expect(judgeLatency(spread(0.05, 0.2, 499), spread(0.05, 0.2, 5000), { ...RELATIVE, quantile: 0.9 }).verdict).toBe('pass');
  });

  it('never passes on no observations', () => {
    const empty = spread(0.05, 0.2, 0);
    const result = judgeLatency(empty, empty, { ...RELATIVE, minRequests: 0, quantile: 0.5 });
    expect(result.verdict).toBe('inconclusive');
    expect(result.canaryValue).toBeNaN();
  });

  it('is inconclusive on a malformed histogram', () => {
    const bad: WindowStats = { requests: 10, failures: 0, latency: { bounds: [0.1, 0.2], counts: [1, 2] }, windowMs: 1000 };
    expect(judgeLatency(bad, spread(0.05, 0.2), { ...RELATIVE, quantile: 0.5 }).explanation).toContain('malformed canary latency histogram');
    const negative: WindowStats = { requests: 10, failures: 0, latency: { bounds: [0.1, 0.2], counts: [1, -2, 0] }, windowMs: 1000 };
    expect(judgeLatency(spread(0.05, 0.2), negative, { ...RELATIVE, quantile: 0.5 }).verdict).toBe('inconclusive');
  });

  it('compares across layouts: a fine canary against a coarse stable', () => {
    const coarse = latency(PROMETHEUS_BOUNDS_S, [
      [0.1, 500],
      [0.25, 500],
    ]);
    expect(judgeLatency(spread(0.6, 2), coarse, { ...RELATIVE, quantile: 0.5 }).verdict).toBe('breach');
    expect(judgeLatency(spread(0.05, 0.2), coarse, { ...RELATIVE, quantile: 0.5 }).verdict).toBe('pass');
  });
});

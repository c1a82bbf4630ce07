import { describe, expect, it } from 'vitest';
import {
  LATENCY_BOUNDS_S,
  LATENCY_BUCKET_COUNT,
  LatencyHistogram,
  latencyBucketIndex,
  PROMETHEUS_BOUND_INDEX,
  PROMETHEUS_BOUNDS_S,
  quantileFromCounts,
} from '../../../src/core/latency-histogram.js';
import { seededRandom } from '../../../src/core/seeded-random.js';

/** Width of the fine bucket that holds `seconds`: the tolerance of any quantile estimate there. */
function bucketWidth(seconds: number): number {
  const i = latencyBucketIndex(seconds);
  return (LATENCY_BOUNDS_S[i] as number) - (i === 0 ? 0 : (LATENCY_BOUNDS_S[i - 1] as number));
}


describe('bucket layout', () => {
  it('covers 50 us to about 2 min in sorted buckets at most 12.2% wide', () => {
    expect(LATENCY_BOUNDS_S[0]).toBe(0.0000501187);
    expect(LATENCY_BOUNDS_S[LATENCY_BOUNDS_S.length - 1]).toBe(125.893);
    expect(LATENCY_BUCKET_COUNT).toBe(LATENCY_BOUNDS_S.length + 1);
    for (let i = 1; i < LATENCY_BOUNDS_S.length; i++) {
      const ratio = (LATENCY_BOUNDS_S[i] as number) / (LATENCY_BOUNDS_S[i - 1] as number);
      expect(ratio).toBeGreaterThan(1);
      expect(ratio).toBeLessThan(1.1221);
    }
  });

  it('has a fine bucket ending exactly at every Prometheus bound', () => {
    expect(PROMETHEUS_BOUND_INDEX).toHaveLength(PROMETHEUS_BOUNDS_S.length);
    PROMETHEUS_BOUNDS_S.forEach((bound, i) => {
      expect(LATENCY_BOUNDS_S[PROMETHEUS_BOUND_INDEX[i] as number]).toBe(bound);
    });
  });

  it.each([
    [0, 0],
    [-1, 0],
    [0.0000501187, 0],
    [0.00005012, 1],
    [0.1, LATENCY_BOUNDS_S.indexOf(0.1)],
    [0.1000001, LATENCY_BOUNDS_S.indexOf(0.1) + 1],
    [125.893, LATENCY_BOUNDS_S.length - 1],
    [125.9, LATENCY_BOUNDS_S.length],
    [1e9, LATENCY_BOUNDS_S.length],
  ])('%d s goes to bucket %i (upper bounds are inclusive)', (seconds, index) => {
    expect(latencyBucketIndex(seconds)).toBe(index);
  });
});

describe('LatencyHistogram', () => {
  it('counts, sums and buckets observations', () => {
    const histogram = new LatencyHistogram();
    for (const s of [0.001, 0.001, 0.25, 3]) histogram.observe(s);
    expect(histogram.count).toBe(4);
    expect(histogram.sum).toBeCloseTo(3.252, 12);
    expect(histogram.counts[latencyBucketIndex(0.001)]).toBe(2);
    expect(histogram.counts[latencyBucketIndex(0.25)]).toBe(1);
    expect(histogram.counts[latencyBucketIndex(3)]).toBe(1);
    expect(histogram.counts.reduce((a, b) => a + b, 0)).toBe(4);
  });
});

describe('quantileFromCounts', () => {
  it('is NaN with no observations', () => {
    expect(quantileFromCounts(new Float64Array(LATENCY_BUCKET_COUNT), 0.5)).toBeNaN();
  });

  it('interpolates inside the one bucket that holds every observation', () => {
    const histogram = new LatencyHistogram();
    for (let i = 0; i < 100; i++) histogram.observe(0.1);
    const lower = LATENCY_BOUNDS_S[LATENCY_BOUNDS_S.indexOf(0.1) - 1] as number;
    expect(quantileFromCounts(histogram.counts, 0)).toBe(lower);
    expect(quantileFromCounts(histogram.counts, 0.5)).toBeCloseTo((lower + 0.1) / 2, 12);
    expect(quantileFromCounts(histogram.counts, 1)).toBe(0.1);
  });

  it('finds exact quantiles of 1..1000 ms within one bucket width', () => {
    const histogram = new LatencyHistogram();
    for (let ms = 1; ms <= 1000; ms++) histogram.observe(ms / 1000);
    for (const [q, truth] of [
      [0.5, 0.5],
      [0.9, 0.9],
      [0.99, 0.99],
      [0.999, 0.999],
      [0.1, 0.1],
    ] as const) {
      expect(Math.abs(quantileFromCounts(histogram.counts, q) - truth)).toBeLessThanOrEqual(bucketWidth(truth));
    }
    // 0.5 s is a bucket bound holding exactly the 500th observation, so the median lands on it.
    expect(quantileFromCounts(histogram.counts, 0.5)).toBe(0.5);
    expect(quantileFromCounts(histogram.counts, 1)).toBe(1);
  });

  it('separates two clusters: p50 in the fast one, p99 in the slow one', () => {
    const histogram = new LatencyHistogram();
    for (let i = 0; i < 980; i++) histogram.observe(0.02);
    for (let i = 0; i < 20; i++) histogram.observe(2);
    expect(Math.abs(quantileFromCounts(histogram.counts, 0.5) - 0.02)).toBeLessThanOrEqual(bucketWidth(0.02));
    expect(Math.abs(quantileFromCounts(histogram.counts, 0.98) - 0.02)).toBeLessThanOrEqual(bucketWidth(0.02));
    expect(Math.abs(quantileFromCounts(histogram.counts, 0.99) - 2)).toBeLessThanOrEqual(bucketWidth(2));
  });

  it('tracks exponential latencies (mean 100 ms) within one bucket width of the exact quantiles', () => {
    const random = seededRandom(42);
    const samples = Array.from({ length: 20_000 }, () => -0.1 * Math.log(1 - random()));
    const histogram = new LatencyHistogram();
    for (const s of samples) histogram.observe(s);
    const sorted = [...samples].sort((a, b) => a - b);
    for (const q of [0.5, 0.9, 0.99]) {
      const exact = sorted[Math.ceil(q * sorted.length) - 1] as number;
      expect(Math.abs(quantileFromCounts(histogram.counts, q) - exact)).toBeLessThanOrEqual(bucketWidth(exact));
    }
  });

  it('reports observations past the last bound at that bound (it cannot say more)', () => {
    const histogram = new LatencyHistogram();
    histogram.observe(1000);
    const last = LATENCY_BOUNDS_S[LATENCY_BOUNDS_S.length - 1] as number;
    expect(quantileFromCounts(histogram.counts, 0)).toBe(last);
    expect(quantileFromCounts(histogram.counts, 1)).toBe(last);
  });

  it('takes other bounds (a window sample carries its own)', () => {
    expect(quantileFromCounts([0, 10, 0], 0.5, [1, 2])).toBe(1.5);
    expect(quantileFromCounts([0, 0, 3], 0.99, [1, 2])).toBe(2);
  });
});

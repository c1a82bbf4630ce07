/**
 * Request latencies go into fixed log-spaced buckets (about 12% wide, 50 us to 2 min) so the
 * hot path does one binary search and one increment, memory stays constant whatever the traffic,
 * and both /metrics (coarse Prometheus buckets) and the analysis (quantiles over a window of
 * bucket differences) are derived from the same counts.
 */
export const PROMETHEUS_BOUNDS_S: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

function buildBounds(): Float64Array {
  const bounds = new Set<number>(PROMETHEUS_BOUNDS_S);
  for (let k = -86; k <= 42; k++) bounds.add(Number((10 ** (k / 20)).toPrecision(6)));
  return Float64Array.from([...bounds].sort((a, b) => a - b));
}

/** Upper bounds (seconds) of the fine buckets; one extra bucket above the last holds the rest. */
export const LATENCY_BOUNDS_S: Float64Array = buildBounds();
export const LATENCY_BUCKET_COUNT = LATENCY_BOUNDS_S.length + 1;

/** For each Prometheus bound, the index of the fine bucket that ends exactly there. */
export const PROMETHEUS_BOUND_INDEX: readonly number[] = PROMETHEUS_BOUNDS_S.map((bound) =>
  LATENCY_BOUNDS_S.indexOf(bound),
);

export function latencyBucketIndex(seconds: number): number {
  const bounds = LATENCY_BOUNDS_S;
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((bounds[mid] as number) < seconds) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class LatencyHistogram {
  readonly counts = new Float64Array(LATENCY_BUCKET_COUNT);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    this.counts[latencyBucketIndex(seconds)]! += 1;
    this.sum += seconds;
    this.count += 1;
  }
}

/**
 * The q-quantile (0..1) of a bucketed distribution (`counts` has one bucket more than `bounds`,
 * for what lies above the last bound), interpolating linearly inside the bucket that holds it.
 * NaN when there are no observations. Observations above the last bound are reported at that
 * bound: the histogram cannot say more.
 */
export function quantileFromCounts(counts: ArrayLike<number>, q: number, bounds: ArrayLike<number> = LATENCY_BOUNDS_S): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i] as number;
  if (total <= 0) return Number.NaN;
  const last = bounds[bounds.length - 1] as number;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const inBucket = counts[i] as number;
    if (inBucket <= 0) continue;
    if (seen + inBucket >= rank) {
      if (i >= bounds.length) return last;
      const lower = i === 0 ? 0 : (bounds[i - 1] as number);
      const upper = bounds[i] as number;
      return lower + (upper - lower) * Math.min(1, Math.max(0, (rank - seen) / inBucket));
    }
    seen += inBucket;
  }
  return last;
}

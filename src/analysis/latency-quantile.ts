import type { LatencySample } from './window-stats.js';

/**
 * The q-quantile (0..1) of a bucketed distribution, interpolating linearly inside the bucket
 * that holds it; NaN when there are no observations. Observations above the last bound are
 * reported at that bound (the histogram cannot say more).
 */
export function quantileOf(sample: LatencySample, q: number): number {
  const { bounds, counts } = sample;
  let total = 0;
  for (const count of counts) total += count;
  if (total <= 0) return Number.NaN;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const inBucket = counts[i] as number;
    if (inBucket <= 0) continue;
    if (seen + inBucket >= rank) {
      if (i >= bounds.length) return bounds[bounds.length - 1] as number;
      const lower = i === 0 ? 0 : (bounds[i - 1] as number);
      const upper = bounds[i] as number;
      return lower + (upper - lower) * Math.min(1, Math.max(0, (rank - seen) / inBucket));
    }
    seen += inBucket;
  }
  return bounds[bounds.length - 1] as number;
}

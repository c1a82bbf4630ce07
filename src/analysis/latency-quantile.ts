import { quantileFromCounts } from '../core/latency-histogram.js';
import type { LatencySample } from './window-stats.js';

/** The q-quantile (0..1) of a window's latency sample; NaN when it holds no observations. */
export function quantileOf(sample: LatencySample, q: number): number {
  return quantileFromCounts(sample.counts, q, sample.bounds);
}

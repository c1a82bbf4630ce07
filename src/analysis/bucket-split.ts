import type { LatencySample } from './window-stats.js';

/**
 * Buckets at most this wide (upper / lower bound) are split by linear interpolation: the fine
 * builtin buckets are 12% wide, across which a latency density barely changes, so the split
 * is off by a small fraction of one bucket. Wider buckets (Prometheus' 0.1, 0.25, 0.5, ...)
 * are not: linear interpolation inside them measurably favours one side.
 */
export const NARROW_BUCKET_RATIO = 1.25;

/** How one side's count above a threshold was obtained. */
export type SplitKind = 'exact' | 'interpolated' | 'against-breach';

/**
 * A bucketed latency distribution with its values multiplied by `scale` (every bound scaled,
 * which is exact whatever the layout).
 */
export class ScaledHistogram {
  readonly total: number;
  /** Upper bounds after scaling. */
  readonly bounds: Float64Array;
  /** cumulative[i]: observations at or below bounds[i]. */
  private readonly cumulative: Float64Array;
  private readonly counts: readonly number[];

  constructor(sample: LatencySample, scale: number) {
    this.counts = sample.counts;
    this.bounds = Float64Array.from(sample.bounds, (bound) => bound * scale);
    this.cumulative = new Float64Array(this.bounds.length);
    let seen = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      seen += sample.counts[i] as number;
      this.cumulative[i] = seen;
    }
    this.total = seen + (sample.counts[this.bounds.length] as number);
  }

  /** The last finite bound: above it the histogram only knows that observations are larger. */
  get top(): number {
    return this.bounds[this.bounds.length - 1] as number;
  }

  /** The bucket (lower, upper] that holds t (0 < t <= top); `onBound` when t is its upper bound. */
  locate(t: number): { index: number; lower: number; upper: number; onBound: boolean } {
    const bounds = this.bounds;
    let lo = 0;
    let hi = bounds.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((bounds[mid] as number) < t * (1 - 1e-9)) lo = mid + 1;
      else hi = mid;
    }
    const upper = bounds[lo] as number;
    const lower = lo === 0 ? 0 : (bounds[lo - 1] as number);
    return { index: lo, lower, upper, onBound: Math.abs(upper - t) <= upper * 1e-9 };
  }

  /** Observations at or below t (t <= top), reading every bucket as uniformly filled. */
  atOrBelow(t: number): number {
    const { index, onBound } = this.locate(t);
    return onBound ? (this.cumulative[index] as number) : this.atOrBelowIn(index, t);
  }

  /** atOrBelow(t) for a t known to lie in bucket `index`, without searching for it. */
  atOrBelowIn(index: number, t: number): number {
    const upper = this.bounds[index] as number;
    if (t >= upper) return this.cumulative[index] as number;
    const lower = index === 0 ? 0 : (this.bounds[index - 1] as number);
    const before = index === 0 ? 0 : (this.cumulative[index - 1] as number);
    const fraction = t <= lower ? 0 : (t - lower) / (upper - lower);
    return before + (this.counts[index] as number) * fraction;
  }

  /**
   * Observations above t. A wide bucket that straddles t goes wholly to the side `wideGoes`
   * says: the caller puts it where it argues against a breach.
   */
  above(t: number, wideGoes: 'below' | 'above'): { count: number; kind: SplitKind } {
    const { index, lower, upper, onBound } = this.locate(t);
    const after = this.total - (this.cumulative[index] as number);
    if (onBound) return { count: after, kind: 'exact' };
    if (isNarrow(lower, upper)) return { count: this.total - this.atOrBelow(t), kind: 'interpolated' };
    return { count: wideGoes === 'below' ? after : after + (this.counts[index] as number), kind: 'against-breach' };
  }

  /** Whether t can be split at without resolving a wide bucket against a breach. */
  splitsCleanlyAt(t: number): boolean {
    const { lower, upper, onBound } = this.locate(t);
    return onBound || isNarrow(lower, upper);
  }
}

function isNarrow(lower: number, upper: number): boolean {
  return lower > 0 && upper <= lower * NARROW_BUCKET_RATIO;
}

/**
 * The q-quantile of two histograms taken together, counting every observation once (so it
 * depends on the pooled data only, not on which side an observation came from). Capped at the
 * lower of the two tops, above which neither side can be split; `beyondTop` says the quantile
 * itself lies above that cap.
 */
export function pooledQuantile(a: ScaledHistogram, b: ScaledHistogram, q: number): { value: number; beyondTop: boolean } {
  const cap = Math.min(a.top, b.top);
  const target = q * (a.total + b.total);
  let previousPoint = 0;
  let previousCount = 0;
  // Walk the union of both sides' bounds in order: between two consecutive ones both cumulative
  // counts are linear, so their sum is too and the target can be interpolated.
  for (let i = 0, j = 0; ; ) {
    const point = Math.min(a.bounds[i] ?? cap, b.bounds[j] ?? cap, cap);
    // i and j are the buckets that hold `point` on each side.
    const count = a.atOrBelowIn(i, point) + b.atOrBelowIn(j, point);
    if (count >= target && count > previousCount) {
      return { value: previousPoint + ((target - previousCount) / (count - previousCount)) * (point - previousPoint), beyondTop: false };
    }
    if (point >= cap) return { value: cap, beyondTop: true };
    if (a.bounds[i] === point) i++;
    if (b.bounds[j] === point) j++;
    previousPoint = point;
    previousCount = count;
  }
}

/** Canary and scaled stable observations above one threshold, every uncertainty resolved against a breach. */
export interface Split {
  threshold: number;
  /** Canary observations above the threshold, rounded down. */
  canaryAbove: number;
  /** Scaled stable observations above the threshold, rounded up. */
  stableAbove: number;
  canaryKind: SplitKind;
  stableKind: SplitKind;
}

export interface Splits {
  /** The pooled q-quantile the splits aim at (capped at the last bound both sides have). */
  pooled: number;
  /** The pooled quantile lies beyond that last bound: no split can reach it. */
  beyondTop: boolean;
  /** One split at the pooled quantile, or, inside wide buckets, several near it. */
  splits: Split[];
}

/**
 * Where to split canary and scaled stable observations to compare their q-quantiles: at the
 * pooled q-quantile when both sides can be split there exactly or by interpolation inside a
 * narrow bucket. When a wide bucket straddles it on either side, a split there would have to put
 * a whole bucket on one side, possibly far from the quantile; so the pooled point and the edges
 * of the buckets around it are all offered (at most five), and the caller corrects for trying
 * several. The candidates depend on the bucket layout and the pooled data only.
 */
export function splitsNearPooledQuantile(canary: ScaledHistogram, stable: ScaledHistogram, q: number): Splits {
  const { value: pooled, beyondTop } = pooledQuantile(canary, stable, q);
  const cap = Math.min(canary.top, stable.top);
  const thresholds = [pooled];
  if (!canary.splitsCleanlyAt(pooled) || !stable.splitsCleanlyAt(pooled)) {
    for (const side of [canary, stable]) {
      const { lower, upper } = side.locate(pooled);
      for (const edge of [lower, upper]) {
        if (edge > 0 && edge <= cap && !thresholds.some((t) => Math.abs(t - edge) <= edge * 1e-9)) thresholds.push(edge);
      }
    }
  }
  const splits = thresholds.map((threshold) => {
    const c = canary.above(threshold, 'below');
    const s = stable.above(threshold, 'above');
    return {
      threshold,
      canaryAbove: Math.max(0, Math.floor(c.count + 1e-9)),
      stableAbove: Math.max(0, Math.ceil(s.count - 1e-9)),
      canaryKind: c.kind,
      stableKind: s.kind,
    };
  });
  return { pooled, beyondTop, splits };
}

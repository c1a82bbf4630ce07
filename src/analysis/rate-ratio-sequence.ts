/**
 * An anytime-valid comparison of two slots' event rates while both take traffic: the counting-
 * process test of Lindon and Malek ("Anytime-Valid Inference for Multinomial Count Data",
 * NeurIPS 2022; Netflix's "Sequential A/B Testing Keeps the World Streaming", part 2), extended to
 * a traffic split that changes from step to step.
 *
 * Events (failed requests, or requests slower than a threshold) arrive in each slot at a rate
 * proportional to the requests it serves, times a level that may drift with the time of day and
 * is the same for both: per request the canary's rate is θ times stable's. Given that a batch of
 * checks saw n_c canary and n_s stable requests and F events in all, each event is the canary's
 * with probability p(θ) = θ n_c / (θ n_c + n_s), whatever the drift. So the counts of one batch
 * have the likelihood p(θ)^k_c (1 - p(θ))^k_s, and a rollout's likelihood of θ is the product over
 * its batches: two integers and two exposures per batch, nothing else.
 *
 * θ is tracked on a grid of ratios around the tolerance r: θ_j = r e^(j h) for j = -J..J. Against
 * a ratio θ_i, the evidence that θ is larger is a mixture of likelihood ratios over the grid
 * points above it, E+(i) = Σ_k w_k L(θ_(i+k)) / L(θ_i), and the evidence that it is smaller is the
 * same below, E-(i). Each batch multiplies a likelihood ratio whose expectation is at most 1 when
 * the true ratio is on the other side (the binomial family has a monotone likelihood ratio), so
 * both are nonnegative supermartingales under their null, and by Ville's inequality each reaches
 * 1/a at any time, ever, with probability at most a. Hence:
 * - a breach (the canary is worse than r times stable) is declared when E+(0) >= 1/a: a canary no
 *   worse than the tolerance is ever declared worse with probability at most a;
 * - the canary is shown no worse when E-(0) >= 1/a;
 * - the ratios not ruled out on either side form the confidence sequence [lower, upper] shown to
 *   people. The log-likelihood is concave in ln θ, so E+ falls and E- rises along the grid and the
 *   sequence is an interval; a breach is exactly "lower above r".
 * The weights w_k are a half-normal on the log-ratio (scale MIXTURE_SCALE), the same on both
 * sides; grid points beyond the ends are dropped, which only lowers the evidence.
 */
import type { Counts } from './ratio-test.js';

/** Grid spacing in ln θ (5%), the points on each side of the tolerance, and the mixture's scale in ln θ. */
export const GRID_STEP = 0.05;
export const GRID_HALF = 100;
export const MIXTURE_SCALE = 0.75;

/** The accumulated log-likelihood of the ratio on the grid, with the counts it came from. Plain data: it is persisted with the rollout. */
export interface RatioSequence {
  /** The ratio at the centre of the grid (maxRatio, or 1 for latency exceedances). */
  tolerance: number;
  /** ln L(θ_j) for j = -GRID_HALF..GRID_HALF, up to a constant. */
  logLikelihood: number[];
  canary: Counts;
  stable: Counts;
}

export function emptyRatioSequence(tolerance: number): RatioSequence {
  if (!(tolerance > 0 && Number.isFinite(tolerance))) throw new RangeError(`tolerance must be a positive number, got ${tolerance}`);
  return { tolerance, logLikelihood: new Array<number>(2 * GRID_HALF + 1).fill(0), canary: { failures: 0, requests: 0 }, stable: { failures: 0, requests: 0 } };
}

/** The ratio at grid index j (-GRID_HALF..GRID_HALF). */
export function gridRatio(tolerance: number, j: number): number {
  return tolerance * Math.exp(j * GRID_STEP);
}

/**
 * Adds one batch: the requests and events each slot had over the same stretch of time. A batch
 * where either slot served nothing, or nothing happened, says nothing about θ and only adds to the counts.
 */
export function addRatioBatch(sequence: RatioSequence, canary: Counts, stable: Counts): RatioSequence {
  const c = wholeCounts(canary);
  const s = wholeCounts(stable);
  const next: RatioSequence = {
    tolerance: sequence.tolerance,
    logLikelihood: sequence.logLikelihood.slice(),
    canary: { failures: sequence.canary.failures + c.failures, requests: sequence.canary.requests + c.requests },
    stable: { failures: sequence.stable.failures + s.failures, requests: sequence.stable.requests + s.requests },
  };
  if (c.requests === 0 || s.requests === 0 || c.failures + s.failures === 0) return next;
  const exposure = c.requests / s.requests;
  for (let j = -GRID_HALF; j <= GRID_HALF; j++) {
    // p = θx / (θx + 1) with x = n_c / n_s: ln p = -ln(1 + 1/(θx)), ln(1 - p) = -ln(1 + θx).
    const odds = gridRatio(sequence.tolerance, j) * exposure;
    const index = j + GRID_HALF;
    next.logLikelihood[index] = (next.logLikelihood[index] as number) - c.failures * Math.log1p(1 / odds) - s.failures * Math.log1p(odds);
  }
  return next;
}

/** What the sequence says at level 1 - alpha on each side. */
export interface RatioEvidence {
  /** E+(0): evidence that the canary's rate is above tolerance x stable's; a breach at 1/alpha. */
  worse: number;
  /** E-(0): evidence that it is below; the canary is shown no worse at 1/alpha. */
  notWorse: number;
  breach: boolean;
  cleared: boolean;
  /** The confidence sequence for θ at grid resolution: the smallest and largest ratio not ruled out (0 and Infinity beyond the grid). */
  lower: number;
  upper: number;
  /** The plain ratio of the two slots' rates so far (NaN before any request on a side). */
  estimate: number;
}

let cachedWeights: Float64Array | undefined;

/** w_k for k = 1..2 GRID_HALF, a half-normal in ln θ normalised over 1..GRID_HALF (what the tolerance itself sees). */
function weights(): Float64Array {
  if (cachedWeights) return cachedWeights;
  const w = new Float64Array(2 * GRID_HALF + 1);
  let total = 0;
  for (let k = 1; k <= 2 * GRID_HALF; k++) {
    const u = k * GRID_STEP;
    w[k] = Math.exp(-(u * u) / (2 * MIXTURE_SCALE * MIXTURE_SCALE));
    if (k <= GRID_HALF) total += w[k] as number;
  }
  for (let k = 1; k <= 2 * GRID_HALF; k++) w[k] = (w[k] as number) / total;
  cachedWeights = w;
  return w;
}

/** ln E+(i) (direction +1) or ln E-(i) (direction -1), i an index from -GRID_HALF to GRID_HALF. */
export function logEvidence(sequence: RatioSequence, i: number, direction: 1 | -1): number {
  const w = weights();
  const ll = sequence.logLikelihood;
  const base = ll[i + GRID_HALF] as number;
  const last = direction > 0 ? GRID_HALF - i : i + GRID_HALF;
  if (last <= 0) return Number.NEGATIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let k = 1; k <= last; k++) max = Math.max(max, (ll[i + direction * k + GRID_HALF] as number) - base);
  let sum = 0;
  for (let k = 1; k <= last; k++) sum += (w[k] as number) * Math.exp((ll[i + direction * k + GRID_HALF] as number) - base - max);
  return max + Math.log(sum);
}

/** Only the two decisions at the tolerance, without the confidence sequence's ends (cheaper). */
export function ratioDecision(sequence: RatioSequence, alpha: number): { breach: boolean; cleared: boolean } {
  const needed = -Math.log(alpha);
  return { breach: logEvidence(sequence, 0, 1) >= needed, cleared: logEvidence(sequence, 0, -1) >= needed };
}

export function ratioEvidence(sequence: RatioSequence, alpha: number): RatioEvidence {
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be between 0 and 1, got ${alpha}`);
  const needed = -Math.log(alpha);
  const worse = logEvidence(sequence, 0, 1);
  const notWorse = logEvidence(sequence, 0, -1);
  // E+ falls along the grid and E- rises (concave log-likelihood), so each side is found by bisection.
  // The ends reported are the last ratios ruled out, so [lower, upper] holds every ratio not ruled out:
  // a breach is exactly lower >= tolerance, and shown no worse exactly upper <= tolerance.
  const firstKept = firstIndex((i) => logEvidence(sequence, i, 1) < needed);
  const lastKept = firstIndex((i) => logEvidence(sequence, i, -1) >= needed) - 1;
  const lower = firstKept <= -GRID_HALF ? 0 : gridRatio(sequence.tolerance, firstKept - 1);
  const upper = lastKept >= GRID_HALF ? Number.POSITIVE_INFINITY : gridRatio(sequence.tolerance, lastKept + 1);
  const { canary, stable } = sequence;
  const estimate = canary.requests > 0 && stable.requests > 0 ? rateRatio(canary.failures / canary.requests, stable.failures / stable.requests) : Number.NaN;
  return { worse: Math.exp(worse), notWorse: Math.exp(notWorse), breach: worse >= needed, cleared: notWorse >= needed, lower, upper, estimate };
}

/** The smallest grid index where a predicate that holds from some index on first holds (GRID_HALF + 1 if nowhere). */
function firstIndex(holds: (i: number) => boolean): number {
  let lo = -GRID_HALF;
  let hi = GRID_HALF + 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (holds(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function rateRatio(canary: number, stable: number): number {
  if (stable > 0) return canary / stable;
  return canary > 0 ? Number.POSITIVE_INFINITY : Number.NaN;
}

/** Whole, consistent counts: Prometheus extrapolates to fractions, and failures come from a separate series. */
export function wholeCounts(counts: Counts): Counts {
  const requests = Math.max(0, Math.round(Number.isFinite(counts.requests) ? counts.requests : 0));
  const failures = Math.max(0, Math.min(requests, Math.round(Number.isFinite(counts.failures) ? counts.failures : 0)));
  return { requests, failures };
}

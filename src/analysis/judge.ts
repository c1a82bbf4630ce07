/**
 * The statistical judge for alarms with `relativeTo: stable`: is the canary significantly worse
 * than `maxRatio` times stable over the same window? Pure functions of the two windows' counts.
 *
 * Three verdicts, and what each one promises:
 * - breach: a one-sided test rejects "canary <= maxRatio x stable" with p < 1 - confidence.
 *   With the canary exactly at the limit that happens at most 1 - confidence of the time
 *   (measured in test/unit/analysis/judge-simulation.test.ts), further inside it less often.
 * - inconclusive: a side has fewer observations than the comparison needs, the data is
 *   malformed, or no canary outcome could have been a breach. Never a pass.
 * - pass: enough data and no significant excess. No failures on either side, with enough
 *   requests, is a pass: a healthy service has no failures to compare, and calling that
 *   inconclusive would roll it back through the inconclusive limit.
 *
 * Error rate: the exact conditional test in ratio-test.ts. Rather than a rule on expected
 * failures (which the exact test does not need, and which would make every healthy
 * zero-failure window inconclusive), a non-significant result is checked for information:
 * the test is rerun as if every canary request had failed, and if even that is not
 * significant (tiny samples, or stable failing so often that maxRatio x its rate reaches 100%)
 * the verdict is inconclusive instead of pass.
 *
 * Latency (quantile q): stable's histogram is scaled by maxRatio (every bound multiplied, exact
 * for any bucket layout) and both sides are split at t, the q-quantile of canary and scaled
 * stable observations pooled. The canary's q-quantile is above maxRatio x stable's exactly when
 * the canary has more than its share of the observations above t, so a one-sided Fisher exact
 * test on the 2x2 table (canary / scaled stable x above / not above t) decides. t depends on the
 * pooled data only, so with identical distributions on one layout this is an exact permutation
 * test. Splitting bucketed data (bucket-split.ts): exact on a bound, linear interpolation inside
 * narrow (fine, <= 25% wide) buckets, and inside wide (coarse) ones every straddled bucket goes
 * wholly to the side that argues against a breach. As such a split can land far from the
 * quantile, the edges of the wide buckets around it are tried as well and the best p-value is
 * multiplied by the number of splits tried (Bonferroni). A split only counts if it separates the
 * quantiles: counted that way, more than 1 - q of the canary lies above it, and the share of
 * scaled stable above it is not significantly more than 1 - q (one-sided binomial test at the
 * same level); without that second condition a canary with the same quantile but another shape
 * breached half the time on coarse buckets in simulation. A quantile beyond the last bound can
 * still breach (the canary has more observations up there) but never passes: that is
 * inconclusive. Each side needs at least 5 / (1 - q) observations, so that 5 are expected
 * beyond the quantile (10 for p50, 50 for p90, 500 for p99), as well as minRequests; with fewer
 * the quantile is barely observed and the verdict is inconclusive.
 *
 * Counts are rounded to whole numbers (Prometheus `increase()` extrapolates to fractions) and
 * failures are capped at requests (the two come from separately extrapolated series).
 */
import { ScaledHistogram, splitsNearPooledQuantile, type Split } from './bucket-split.js';
import { formatLevel, formatP, formatPercentile, formatRate, formatRatio, formatSeconds } from './judge-format.js';
import { quantileOf } from './latency-quantile.js';
import { rateRatioPValue } from './ratio-test.js';
import { binomialUpperTail, hypergeometricUpperTail } from './statistics.js';
import type { LatencySample, WindowStats } from './window-stats.js';

export type JudgeVerdict = 'pass' | 'breach' | 'inconclusive';

export interface JudgeResult {
  verdict: JudgeVerdict;
  /** One line a person can read: what was compared, the values, the test, the p-value, the threshold. */
  explanation: string;
  /** Canary error rate, or canary quantile in seconds; NaN when the canary has no observations. */
  canaryValue: number;
  stableValue: number;
  /** canaryValue / stableValue; 1 when both are 0, Infinity when only stable is 0, NaN when either is unmeasured. */
  ratio: number;
  /** null when the verdict was reached before any test ran. */
  pValue: number | null;
  /** Requests (error rate) or latency observations (latency) each side contributed. */
  canaryRequests: number;
  stableRequests: number;
}

export interface JudgeOptions {
  maxRatio: number;
  confidence: number;
  minRequests: number;
}

export interface LatencyJudgeOptions extends JudgeOptions {
  /** 0.5, 0.9 or 0.99 for latency_p50|p90|p99; any value strictly between 0 and 1 works. */
  quantile: number;
}

/** Observations each side must expect beyond the compared quantile before latency can be judged. */
export const MIN_EXPECTED_BEYOND_QUANTILE = 5;

/** The observations each side needs for a latency comparison at `quantile`. */
export function minLatencyObservations(quantile: number, minRequests: number): number {
  // The epsilon keeps 5 / (1 - 0.99) = 500.0000000000004 at 500.
  return Math.max(atLeastOne(minRequests), Math.ceil(MIN_EXPECTED_BEYOND_QUANTILE / (1 - quantile) - 1e-9));
}

export function judgeErrorRate(canary: WindowStats, stable: WindowStats, options: JudgeOptions): JudgeResult {
  checkOptions(options);
  const alpha = 1 - options.confidence;
  const invalid = invalidCounts(canary, 'canary') ?? invalidCounts(stable, 'stable');
  if (invalid) return unmeasured(`error_rate: ${invalid}`);

  const c = wholeCounts(canary);
  const s = wholeCounts(stable);
  const canaryValue = c.requests > 0 ? c.failures / c.requests : Number.NaN;
  const stableValue = s.requests > 0 ? s.failures / s.requests : Number.NaN;
  const ratio = ratioOf(canaryValue, stableValue);
  const base = { canaryValue, stableValue, ratio, canaryRequests: c.requests, stableRequests: s.requests };

  const needed = atLeastOne(options.minRequests);
  if (c.requests < needed || s.requests < needed) {
    const explanation = `error_rate: too few requests to compare: canary ${c.requests}, stable ${s.requests} (needs ${needed} each)`;
    return { ...base, verdict: 'inconclusive', explanation, pValue: null };
  }

  const r = options.maxRatio;
  const compared =
    `error_rate: canary ${formatRate(canaryValue)} (${c.failures}/${c.requests}) vs stable ${formatRate(stableValue)} ` +
    `(${s.failures}/${s.requests}), ratio ${describeRatio(ratio, stableValue, 'failures')}, limit ${r} x stable`;
  const pValue = rateRatioPValue(c, s, r);
  const tested = `one-sided exact test of canary > ${r} x stable: p = ${formatP(pValue, alpha)}`;
  if (pValue < alpha) {
    const explanation = `${compared}; ${tested} < ${formatLevel(alpha)}: breach, canary significantly above ${r} x stable at confidence ${options.confidence}`;
    return { ...base, verdict: 'breach', explanation, pValue };
  }
  if (rateRatioPValue({ failures: c.requests, requests: c.requests }, s, r) >= alpha) {
    const why =
      r * stableValue >= 1
        ? `${r} x stable's ${formatRate(stableValue)} is 100% or more, so no canary error rate could be shown to exceed it`
        : `even if every one of the ${c.requests} canary requests had failed, that would not be significantly above ${r} x stable at confidence ${options.confidence}`;
    return { ...base, verdict: 'inconclusive', explanation: `${compared}; ${tested}: inconclusive, too little information: ${why}`, pValue };
  }
  const explanation = `${compared}; ${tested} >= ${formatLevel(alpha)}: pass, no significant excess over ${r} x stable`;
  return { ...base, verdict: 'pass', explanation, pValue };
}

export function judgeLatency(canary: WindowStats, stable: WindowStats, options: LatencyJudgeOptions): JudgeResult {
  checkOptions(options);
  const q = options.quantile;
  if (!(q > 0 && q < 1)) throw new RangeError(`quantile must be between 0 and 1, got ${q}`);
  const percentile = formatPercentile(q);
  const metric = `latency_${percentile}`;
  const alpha = 1 - options.confidence;
  const invalid = invalidHistogram(canary.latency, 'canary') ?? invalidHistogram(stable.latency, 'stable');
  if (invalid) return unmeasured(`${metric}: ${invalid}`);

  const r = options.maxRatio;
  const c = new ScaledHistogram(canary.latency, 1);
  const s = new ScaledHistogram(stable.latency, r);
  const canaryN = Math.round(c.total);
  const stableN = Math.round(s.total);
  const canaryValue = c.total > 0 ? quantileOf(canary.latency, q) : Number.NaN;
  const stableValue = s.total > 0 ? quantileOf(stable.latency, q) : Number.NaN;
  const ratio = ratioOf(canaryValue, stableValue);
  const base = { canaryValue, stableValue, ratio, canaryRequests: canaryN, stableRequests: stableN };

  const needed = minLatencyObservations(q, options.minRequests);
  if (canaryN < needed || stableN < needed) {
    const explanation =
      `${metric}: too few observations to compare: canary ${canaryN}, stable ${stableN} ` +
      `(needs ${needed} each: minRequests ${options.minRequests}, and ${MIN_EXPECTED_BEYOND_QUANTILE} expected beyond the quantile)`;
    return { ...base, verdict: 'inconclusive', explanation, pValue: null };
  }

  const { pooled, beyondTop, splits } = splitsNearPooledQuantile(c, s, q);
  // A split speaks about the quantiles only if the canary's lies above it and stable's is not shown
  // to lie above it too. (Asking for stable's strictly at or below it would fail half the time on
  // noise when it sits right on a coarse bound.)
  const tail = 1 - q;
  const tested = splits.map((split) => ({
    split,
    // The epsilon keeps 1 - 0.9 = 0.09999999999999998 from turning 100 of 1000 into more than 10%.
    eligible: split.canaryAbove > tail * canaryN + 1e-9 && binomialUpperTail(split.stableAbove, stableN, tail) >= alpha,
    p: hypergeometricUpperTail(split.canaryAbove, canaryN + stableN, split.canaryAbove + split.stableAbove, canaryN),
  }));
  const best = tested.filter((t) => t.eligible).sort((x, y) => x.p - y.p)[0];
  const shown = best?.split ?? (splits[0] as Split);
  const pValue = best ? Math.min(1, best.p * splits.length) : 1;

  const how =
    splits.length === 1
      ? `pooled ${percentile}`
      : `near the pooled ${percentile} ${formatSeconds(pooled)}, the best of ${splits.length} splits around wide buckets, p x ${splits.length}`;
  const coarse = shown.canaryKind === 'against-breach' || shown.stableKind === 'against-breach' ? ', straddled buckets counted against a breach' : '';
  const compared =
    `${metric}: canary ${formatSeconds(canaryValue)} vs stable ${formatSeconds(stableValue)}, ratio ${describeRatio(ratio, stableValue, 'latency')}, ` +
    `limit ${r} x stable = ${formatSeconds(r * stableValue)}; above ${formatSeconds(shown.threshold)} (${how}; stable scaled x${r}): ` +
    `canary ${shown.canaryAbove}/${canaryN} (${formatRate(shown.canaryAbove / canaryN)}), stable ${shown.stableAbove}/${stableN} (${formatRate(shown.stableAbove / stableN)})${coarse}`;
  const test = best
    ? `one-sided Fisher exact test p = ${formatP(pValue, alpha)}`
    : `no split has the canary's ${percentile} above it and stable's not shown above it`;
  if (pValue < alpha) {
    const explanation = `${compared}; ${test} < ${formatLevel(alpha)}: breach, canary significantly slower than ${r} x stable at confidence ${options.confidence}`;
    return { ...base, verdict: 'breach', explanation, pValue };
  }
  if (beyondTop) {
    const explanation = `${compared}; ${test}: inconclusive, the pooled ${percentile} lies beyond the last bucket bound, where the histograms cannot tell latencies apart`;
    return { ...base, verdict: 'inconclusive', explanation, pValue };
  }
  const explanation = `${compared}; ${test}${best ? ` >= ${formatLevel(alpha)}` : ''}: pass, not significantly slower than ${r} x stable`;
  return { ...base, verdict: 'pass', explanation, pValue };
}

function checkOptions(options: JudgeOptions): void {
  if (!(Number.isFinite(options.maxRatio) && options.maxRatio > 0)) throw new RangeError(`maxRatio must be a positive number, got ${options.maxRatio}`);
  if (!(options.confidence > 0 && options.confidence < 1)) throw new RangeError(`confidence must be between 0 and 1, got ${options.confidence}`);
  if (!(options.minRequests >= 0 && Number.isFinite(options.minRequests))) throw new RangeError(`minRequests must be 0 or more, got ${options.minRequests}`);
}

/** No request at all is never enough, whatever minRequests says. */
function atLeastOne(minRequests: number): number {
  return Math.max(1, Math.ceil(minRequests));
}

function invalidCounts(stats: WindowStats, side: string): string | undefined {
  const ok = (x: number) => Number.isFinite(x) && x >= 0;
  if (!ok(stats.requests) || !ok(stats.failures)) return `invalid ${side} counts (requests ${stats.requests}, failures ${stats.failures})`;
  return undefined;
}

function wholeCounts(stats: WindowStats): { failures: number; requests: number } {
  const requests = Math.round(stats.requests);
  return { requests, failures: Math.min(requests, Math.round(stats.failures)) };
}

function invalidHistogram(sample: LatencySample, side: string): string | undefined {
  const { bounds, counts } = sample;
  if (bounds.length === 0 || counts.length !== bounds.length + 1) return `malformed ${side} latency histogram (${bounds.length} bounds, ${counts.length} counts)`;
  for (let i = 0; i < bounds.length; i++) {
    const bound = bounds[i] as number;
    if (!(Number.isFinite(bound) && bound > (i === 0 ? 0 : (bounds[i - 1] as number)))) return `${side} latency bounds are not positive and increasing`;
  }
  for (const count of counts) if (!(Number.isFinite(count) && count >= 0)) return `invalid ${side} latency count ${count}`;
  return undefined;
}

function unmeasured(explanation: string): JudgeResult {
  return { verdict: 'inconclusive', explanation, canaryValue: Number.NaN, stableValue: Number.NaN, ratio: Number.NaN, pValue: null, canaryRequests: 0, stableRequests: 0 };
}

function ratioOf(canaryValue: number, stableValue: number): number {
  if (Number.isNaN(canaryValue) || Number.isNaN(stableValue)) return Number.NaN;
  if (stableValue > 0) return canaryValue / stableValue;
  return canaryValue > 0 ? Number.POSITIVE_INFINITY : 1;
}

function describeRatio(ratio: number, stableValue: number, what: string): string {
  if (ratio === Number.POSITIVE_INFINITY) return `infinite (stable had no ${what})`;
  if (stableValue === 0 && ratio === 1) return '1 (both 0)';
  return formatRatio(ratio);
}

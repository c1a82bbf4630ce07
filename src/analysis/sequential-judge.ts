/**
 * The sequential judge (`analysis.judge: sequential`) for `relativeTo: stable` alarms: pure
 * functions of counts and histogram buckets, fed one increment (the traffic since the last
 * check) at a time, with everything learnt so far kept in a plain state the rollout persists.
 * Whatever gathers the counts (the builtin windows, Prometheus, a fleet's summed counters, a
 * count simulation) gets the same verdicts.
 *
 * While both slots take traffic (the live phase), a comparison is a rate-ratio sequence
 * (rate-ratio-sequence.ts): for error_rate, failed requests; for latency_pXX, requests slower
 * than a threshold. While stable takes none (the bake) it is represented by its frozen baseline,
 * which cannot grow: its rate is bounded once, exactly (Clopper-Pearson), and the canary's own
 * rate over the bake is followed with the multinomial test's confidence sequence
 * (dirichlet-multinomial.ts). A check's verdict:
 * - breach: the canary is shown worse than the tolerance; final, the rollout rolls back at once;
 * - pass, cleared: the canary is shown no worse (adaptive steps may advance);
 * - pass: neither yet.
 *
 * Latency follows Lindon, Sanden and Shirikian ("Rapid Regression Detection in Software
 * Deployments through Sequential Testing", KDD 2022) in testing stochastic order: a healthy
 * canary's latency is no worse than maxRatio times stable's anywhere in the distribution, so for
 * any threshold t, canary requests slower than maxRatio x t are no more frequent than stable
 * requests slower than t. The test looks where the alarm's quantile is: t is the bucket bound at
 * stable's quantile over its recent window, chosen at the previous check (so before the counts it
 * is applied to). Buckets rarely line up with maxRatio x t, so the canary is counted above the
 * next bound up to judge a breach, and above the bound just below to clear it: each rounding can
 * only make its own decision harder.
 */
import { centredPrior, rateConfidenceSequence, rateExcludes, type BetaPrior } from './dirichlet-multinomial.js';
import { formatLevel, formatPercentile, formatRate, formatRatio, formatSeconds } from './judge-format.js';
import { quantileOf } from './latency-quantile.js';
import type { CountsMark } from './metrics-source.js';
import { addRatioBatch, emptyRatioSequence, ratioEvidence, wholeCounts, type RatioEvidence, type RatioSequence } from './rate-ratio-sequence.js';
import type { Counts } from './ratio-test.js';
import { binomialBounds } from './statistics.js';
import type { LatencySample, WindowStats } from './window-stats.js';

/** Concentration of the Beta prior on the canary's rate during a frozen phase (the paper's k). */
export const FROZEN_PRIOR_CONCENTRATION = 100;

/** Bucket bounds (seconds) a latency comparison counts above: stable above `stable`, the canary above `worse` (for a breach) and `better` (to clear). */
export interface LatencyThresholds {
  stable: number;
  worse: number;
  better: number;
}

/** Stable's frozen window, bounded once, and the canary's counts since. */
export interface FrozenSequence {
  /** When stable's weight reached 0: a new freeze starts over. */
  zeroAt: number;
  stable: Counts;
  /** Stable's rate (error rate, or share above the threshold), bounded at the frozen phase's level. */
  stableLower: number;
  stableUpper: number;
  thresholds?: LatencyThresholds;
  /** The canary's requests, with the events counted for a breach (`worse`) and to clear (`better`); the same for error rate. */
  canaryRequests: number;
  canaryWorse: number;
  canaryBetter: number;
  prior: BetaPrior;
}

/** One alarm's sequential comparison so far. Plain data: persisted with the rollout. */
export interface SequentialState {
  metric: 'error_rate' | 'latency';
  /** maxRatio when the state was started: a different one starts over (the evidence was about another hypothesis). */
  maxRatio: number;
  quantile?: number;
  /** Where the last increment ended. */
  mark: CountsMark | null;
  /** Error rate: failures. Latency: requests beyond the thresholds (`worse` judges a breach, `better` clears). */
  live?: RatioSequence;
  liveBetter?: RatioSequence;
  /** Latency: the thresholds the next increment is counted against. */
  thresholds?: LatencyThresholds;
  frozen?: FrozenSequence;
  /** Increments taken so far. */
  increments: number;
}

/** The false-rollback probability one comparison may spend, and how it is shared between the phases. */
export interface SequentialLevels {
  /** While both slots take traffic. */
  live: number;
  /** While stable is frozen (half for stable's bound, half for the canary's sequence); 0 when the schedule has no such phase. */
  frozen: number;
}

export interface SequentialInput {
  metric: 'error_rate' | 'latency';
  maxRatio: number;
  /** For latency: 0.5, 0.9 or 0.99. */
  quantile?: number;
  levels: SequentialLevels;
  state: SequentialState | undefined;
  /** The canary's increment since the state's mark. */
  canary: WindowStats;
  /** Stable's increment over the same stretch, with its recent window (latency thresholds); or its frozen window. */
  stable: { kind: 'live'; increment: WindowStats; recent?: WindowStats } | { kind: 'frozen'; zeroAt: number; window: WindowStats };
  mark: CountsMark;
}

export interface SequentialOutcome {
  state: SequentialState;
  verdict: 'breach' | 'pass';
  /** Shown no worse than the tolerance. */
  cleared: boolean;
  explanation: string;
  /** Canary / stable rate so far (the phase being judged); NaN when unmeasured. */
  ratio: number;
  canaryRequests: number;
  stableRequests: number;
}

/** Starts over when the metric or the tolerance changed (a config reload): the evidence so far was about another hypothesis. */
export function currentState(input: Pick<SequentialInput, 'metric' | 'maxRatio' | 'quantile' | 'state'>): SequentialState {
  const s = input.state;
  if (s && s.metric === input.metric && s.maxRatio === input.maxRatio && s.quantile === input.quantile) return s;
  return { metric: input.metric, maxRatio: input.maxRatio, ...(input.quantile !== undefined ? { quantile: input.quantile } : {}), mark: null, increments: 0 };
}

export function judgeSequentially(input: SequentialInput): SequentialOutcome {
  const state = { ...currentState(input), mark: input.mark, increments: currentState(input).increments + 1 };
  if (input.stable.kind === 'frozen') return frozenPhase(input, state, input.stable);
  return input.metric === 'error_rate' ? liveErrors(input, state, input.stable.increment) : liveLatency(input, state, input.stable);
}

function liveErrors(input: SequentialInput, state: SequentialState, stable: WindowStats): SequentialOutcome {
  const r = input.maxRatio;
  const live = addRatioBatch(state.live ?? emptyRatioSequence(r), countsOf(input.canary), countsOf(stable));
  const next: SequentialState = { ...state, live };
  const e = ratioEvidence(live, input.levels.live);
  const c = live.canary;
  const s = live.stable;
  const seen =
    `error_rate while both take traffic: canary ${formatRate(rateOf(c))} (${c.failures}/${c.requests}) vs stable ${formatRate(rateOf(s))} (${s.failures}/${s.requests}), ` +
    `ratio ${formatEstimate(e.estimate)}, confidence sequence ${formatInterval(e)} at ${formatLevel(1 - input.levels.live)}; limit ${r} x stable`;
  return decide(next, e, seen, input.levels.live, `${r} x stable`, c.requests, s.requests);
}

function liveLatency(input: SequentialInput, state: SequentialState, stable: { increment: WindowStats; recent?: WindowStats }): SequentialOutcome {
  const r = input.maxRatio;
  const q = input.quantile as number;
  const metric = `latency_${formatPercentile(q)}`;
  let next: SequentialState = { ...state };
  const t = state.thresholds;
  if (t) {
    const stableAbove = countAbove(stable.increment.latency, t.stable);
    const worse = countAbove(input.canary.latency, t.worse);
    const better = countAbove(input.canary.latency, t.better);
    if (stableAbove && worse && better) {
      next = {
        ...next,
        live: addRatioBatch(state.live ?? emptyRatioSequence(1), worse, stableAbove),
        liveBetter: addRatioBatch(state.liveBetter ?? emptyRatioSequence(1), better, stableAbove),
      };
    }
  }
  // The thresholds for the next increment come from stable's window up to now, before that increment is seen.
  const chosen = stable.recent ? chooseThresholds(stable.recent.latency, q, r) : undefined;
  if (chosen) next.thresholds = chosen;
  if (!next.live || !next.liveBetter) {
    const why = t ? 'the histograms no longer have the bucket bounds chosen' : `the first check chooses where to look (stable's ${formatPercentile(q)} bucket)`;
    return pending(next, `${metric}: nothing judged yet: ${why}`);
  }
  const worseEvidence = ratioEvidence(next.live, input.levels.live);
  const betterEvidence = ratioEvidence(next.liveBetter, input.levels.live);
  const used = t as LatencyThresholds;
  const c = next.live.canary;
  const s = next.live.stable;
  const seen =
    `${metric} while both take traffic, as stochastic order: canary requests slower than ${formatSeconds(used.worse)} ` +
    `(${r} x ${formatSeconds(used.stable)}, stable's ${formatPercentile(q)} bucket, rounded up) ${c.failures}/${c.requests}, stable slower than ${formatSeconds(used.stable)} ${s.failures}/${s.requests}; ` +
    `ratio ${formatEstimate(worseEvidence.estimate)}, confidence sequence ${formatInterval(worseEvidence)} at ${formatLevel(1 - input.levels.live)}`;
  const e: RatioEvidence = { ...worseEvidence, cleared: betterEvidence.cleared, notWorse: betterEvidence.notWorse, upper: betterEvidence.upper };
  return decide(next, e, seen, input.levels.live, `${r} x stable`, c.requests, s.requests);
}

function decide(
  state: SequentialState,
  e: RatioEvidence,
  seen: string,
  level: number,
  limit: string,
  canaryRequests: number,
  stableRequests: number,
): SequentialOutcome {
  const needed = 1 / level;
  const base = { state, ratio: e.estimate, canaryRequests, stableRequests };
  if (e.breach) {
    return { ...base, verdict: 'breach', cleared: false, explanation: `${seen}: breach, the canary is worse than ${limit} (evidence ${formatEvidence(e.worse)} >= ${formatEvidence(needed)})` };
  }
  if (e.cleared) {
    return { ...base, verdict: 'pass', cleared: true, explanation: `${seen}: pass, shown no worse than ${limit} (evidence ${formatEvidence(e.notWorse)} >= ${formatEvidence(needed)})` };
  }
  const explanation = `${seen}: pass, not shown worse (evidence ${formatEvidence(e.worse)} of ${formatEvidence(needed)}) nor yet no worse (${formatEvidence(e.notWorse)} of ${formatEvidence(needed)})`;
  return { ...base, verdict: 'pass', cleared: false, explanation };
}

function pending(state: SequentialState, explanation: string): SequentialOutcome {
  return { state, verdict: 'pass', cleared: false, explanation, ratio: Number.NaN, canaryRequests: 0, stableRequests: 0 };
}

/**
 * Stable frozen: its window is bounded once (at half the phase's level), and the canary's rate
 * since is followed with the multinomial test's confidence sequence (the other half). A breach
 * needs the canary's whole sequence above maxRatio x stable's upper bound; clearing needs it
 * below maxRatio x stable's lower bound. Either is wrong with probability at most the phase's level.
 */
function frozenPhase(input: SequentialInput, state: SequentialState, stable: { zeroAt: number; window: WindowStats }): SequentialOutcome {
  const r = input.maxRatio;
  const half = input.levels.frozen / 2;
  const latency = input.metric === 'latency';
  const metric = latency ? `latency_${formatPercentile(input.quantile as number)}` : 'error_rate';
  let frozen = state.frozen?.zeroAt === stable.zeroAt ? state.frozen : undefined;
  if (!(half > 0)) return pending({ ...state }, `${metric}: the schedule was planned with no phase at 100%, so no false-rollback probability is set aside for it`);
  if (!frozen) {
    const started = startFrozen(input, stable, half);
    if ('why' in started) return pending({ ...state }, `${metric}: ${started.why}`);
    frozen = started.frozen;
  }
  const t = frozen.thresholds;
  const seenNow = latency
    ? { requests: totalOf(input.canary.latency), worse: countAbove(input.canary.latency, (t as LatencyThresholds).worse)?.failures, better: countAbove(input.canary.latency, (t as LatencyThresholds).better)?.failures }
    : (() => {
        const c = wholeCounts(countsOf(input.canary));
        return { requests: c.requests, worse: c.failures, better: c.failures };
      })();
  if (seenNow.worse !== undefined && seenNow.better !== undefined) {
    frozen = {
      ...frozen,
      canaryRequests: frozen.canaryRequests + Math.round(seenNow.requests),
      canaryWorse: frozen.canaryWorse + seenNow.worse,
      canaryBetter: frozen.canaryBetter + seenNow.better,
    };
  }
  const next: SequentialState = { ...state, frozen };
  // Latency compares shares beyond thresholds already scaled by maxRatio, so the tolerance on the shares is 1.
  const scale = latency ? 1 : r;
  const n = frozen.canaryRequests;
  const breach = rateExcludes(frozen.canaryWorse, n, frozen.prior, half, scale * frozen.stableUpper, 'above');
  const cleared = !breach && rateExcludes(frozen.canaryBetter, n, frozen.prior, half, scale * frozen.stableLower, 'below');
  const cs = rateConfidenceSequence(frozen.canaryWorse, n, frozen.prior, half);
  const what = latency
    ? `share slower than ${formatSeconds((t as LatencyThresholds).worse)} (${r} x ${formatSeconds((t as LatencyThresholds).stable)}, stable's ${formatPercentile(input.quantile as number)} bucket, rounded up)`
    : 'error rate';
  const seen =
    `${metric} against stable's frozen baseline: canary ${what} ${formatRate(n > 0 ? frozen.canaryWorse / n : Number.NaN)} (${frozen.canaryWorse}/${n}) since stable stopped, ` +
    `between ${formatRate(cs.lower)} and ${formatRate(cs.upper)} at ${formatLevel(1 - half)}; stable ${formatRate(rateOf(frozen.stable))} (${frozen.stable.failures}/${frozen.stable.requests}), ` +
    `between ${formatRate(frozen.stableLower)} and ${formatRate(frozen.stableUpper)} at ${formatLevel(1 - half)}`;
  const limit = latency ? `${r} x stable` : `${r} x stable (${formatRate(r * frozen.stableUpper)} at most)`;
  const base = {
    state: next,
    ratio: n > 0 && frozen.stable.failures > 0 ? frozen.canaryWorse / n / rateOf(frozen.stable) : Number.NaN,
    canaryRequests: n,
    stableRequests: frozen.stable.requests,
  };
  if (breach) return { ...base, verdict: 'breach', cleared: false, explanation: `${seen}: breach, the canary is worse than ${limit}` };
  if (cleared) return { ...base, verdict: 'pass', cleared: true, explanation: `${seen}: pass, shown no worse than ${r} x stable` };
  return { ...base, verdict: 'pass', cleared: false, explanation: `${seen}: pass, not shown worse than ${limit}` };
}

function startFrozen(input: SequentialInput, stable: { zeroAt: number; window: WindowStats }, level: number): { frozen: FrozenSequence } | { why: string } {
  const r = input.maxRatio;
  let counts: Counts;
  let thresholds: LatencyThresholds | undefined;
  if (input.metric === 'latency') {
    thresholds = chooseThresholds(stable.window.latency, input.quantile as number, r);
    if (!thresholds) return { why: "stable's frozen baseline has too few latencies to place its quantile" };
    counts = countAbove(stable.window.latency, thresholds.stable) as Counts;
  } else {
    counts = wholeCounts(countsOf(stable.window));
  }
  if (counts.requests === 0) return { why: "stable's frozen baseline holds no requests" };
  const { lower, upper } = binomialBounds(counts.failures, counts.requests, level);
  const scale = input.metric === 'latency' ? 1 : r;
  return {
    frozen: {
      zeroAt: stable.zeroAt,
      stable: counts,
      stableLower: lower,
      stableUpper: upper,
      ...(thresholds ? { thresholds } : {}),
      canaryRequests: 0,
      canaryWorse: 0,
      canaryBetter: 0,
      // Centred on the rate a breach must exceed, as the paper centres its prior on the null.
      prior: centredPrior(Math.min(0.5, Math.max(1e-6, scale * upper)), FROZEN_PRIOR_CONCENTRATION),
    },
  };
}

/**
 * Where to look: the bound at or above stable's quantile, and the bounds around maxRatio times
 * it (the next one up judges a breach, the one at or below clears). Undefined when stable's
 * window has too few observations to expect a handful beyond the quantile.
 */
export function chooseThresholds(stable: LatencySample, quantile: number, maxRatio: number): LatencyThresholds | undefined {
  const total = totalOf(stable);
  if (!(total * (1 - quantile) >= 5)) return undefined;
  const value = quantileOf(stable, quantile);
  const bounds = stable.bounds;
  const at = bounds.findIndex((b) => b >= value * (1 - 1e-12));
  if (at < 0) return undefined;
  const base = bounds[at] as number;
  const scaled = base * maxRatio;
  const up = bounds.find((b) => b >= scaled * (1 - 1e-12));
  let down: number | undefined;
  for (const b of bounds) if (b <= scaled * (1 + 1e-12)) down = b;
  return { stable: base, worse: up ?? Number.POSITIVE_INFINITY, better: down ?? base };
}

/** Observations above `bound` (a bucket bound of the sample, or Infinity: none), as events out of all observations; undefined when the layout lacks it. */
function countAbove(sample: LatencySample, bound: number): Counts | undefined {
  const requests = Math.round(totalOf(sample));
  if (bound === Number.POSITIVE_INFINITY) return { requests, failures: 0 };
  const index = sample.bounds.findIndex((b) => Math.abs(b - bound) <= 1e-12 * bound);
  if (index < 0) return undefined;
  let above = 0;
  for (let i = index + 1; i < sample.counts.length; i++) above += sample.counts[i] as number;
  return { requests, failures: Math.min(requests, Math.max(0, Math.round(above))) };
}

function totalOf(sample: LatencySample): number {
  let total = 0;
  for (const c of sample.counts) total += c;
  return total;
}

function countsOf(stats: WindowStats): Counts {
  return { requests: stats.requests, failures: stats.failures };
}

function rateOf(c: Counts): number {
  return c.requests > 0 ? c.failures / c.requests : Number.NaN;
}

function formatEstimate(ratio: number): string {
  if (Number.isNaN(ratio)) return 'unmeasured';
  if (ratio === Number.POSITIVE_INFINITY) return 'infinite (stable had none)';
  return formatRatio(ratio);
}

function formatInterval(e: RatioEvidence): string {
  const lower = e.lower === 0 ? '0' : formatRatio(e.lower);
  const upper = e.upper === Number.POSITIVE_INFINITY ? 'infinity' : formatRatio(e.upper);
  return `${lower}-${upper}`;
}

/** Evidence is a likelihood ratio: two significant digits say enough. */
function formatEvidence(value: number): string {
  if (!Number.isFinite(value)) return value > 0 ? 'infinite' : '0';
  if (value >= 1e6) return value.toExponential(1);
  if (value >= 100) return String(Math.round(value));
  return String(Number(value.toPrecision(2)));
}

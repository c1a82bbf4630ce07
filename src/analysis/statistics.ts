/**
 * The few distribution functions the judge needs, written out so the project takes no numeric
 * dependency. Each tail is summed from its own end, away from the mode, so a p-value far
 * below any confidence level keeps its relative accuracy instead of cancelling in 1 - CDF.
 */

const LOG_FACTORIAL_TABLE_SIZE = 1024;
const logFactorialTable = new Float64Array(LOG_FACTORIAL_TABLE_SIZE);
for (let n = 2; n < LOG_FACTORIAL_TABLE_SIZE; n++) logFactorialTable[n] = (logFactorialTable[n - 1] as number) + Math.log(n);

/** ln(n!) for an integer n >= 0: a table below 1024, Stirling's series above (truncation error < 1e-24 there). */
export function logFactorial(n: number): number {
  if (n < LOG_FACTORIAL_TABLE_SIZE) return logFactorialTable[n] as number;
  const inv = 1 / n;
  const inv2 = inv * inv;
  return n * Math.log(n) - n + 0.5 * Math.log(2 * Math.PI * n) + inv * (1 / 12 - inv2 * (1 / 360 - inv2 / 1260));
}

export function logChoose(n: number, k: number): number {
  return logFactorial(n) - logFactorial(k) - logFactorial(n - k);
}

/**
 * Sums a unimodal probability mass function from `start` away from its mode, term by term
 * through the ratio of neighbours, until the terms stop mattering. `step` is +1 or -1.
 */
function sumAwayFromMode(logFirst: number, start: number, end: number, step: 1 | -1, nextRatio: (x: number) => number): number {
  let term = Math.exp(logFirst);
  let sum = 0;
  for (let x = start; step > 0 ? x <= end : x >= end; x += step) {
    sum += term;
    if (term <= sum * 1e-17) break;
    term *= nextRatio(x);
  }
  return sum;
}

/** P(X >= k) for X ~ Binomial(n, p), n and k integers. */
export function binomialUpperTail(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  const logP = Math.log(p);
  const logQ = Math.log1p(-p);
  const odds = p / (1 - p);
  const logPmf = (x: number) => logChoose(n, x) + x * logP + (n - x) * logQ;
  const mode = Math.floor((n + 1) * p);
  if (k > mode) return Math.min(1, sumAwayFromMode(logPmf(k), k, n, 1, (x) => ((n - x) / (x + 1)) * odds));
  const below = sumAwayFromMode(logPmf(k - 1), k - 1, 0, -1, (x) => x / ((n - x + 1) * odds));
  return Math.max(0, 1 - below);
}

/**
 * P(X >= k) for X hypergeometric: `draws` taken without replacement from `population` items
 * of which `successes` are marked.
 */
export function hypergeometricUpperTail(k: number, population: number, successes: number, draws: number): number {
  const low = Math.max(0, draws + successes - population);
  const high = Math.min(draws, successes);
  if (k <= low) return 1;
  if (k > high) return 0;
  const failures = population - successes;
  const logPmf = (x: number) => logChoose(successes, x) + logChoose(failures, draws - x) - logChoose(population, draws);
  const up = (x: number) => ((successes - x) * (draws - x)) / ((x + 1) * (failures - draws + x + 1));
  const down = (x: number) => (x * (failures - draws + x)) / ((successes - x + 1) * (draws - x + 1));
  const mode = Math.floor(((draws + 1) * (successes + 1)) / (population + 2));
  if (k > mode) return Math.min(1, sumAwayFromMode(logPmf(k), k, high, 1, up));
  const below = sumAwayFromMode(logPmf(k - 1), k - 1, low, -1, down);
  return Math.max(0, 1 - below);
}

/**
 * The probability that `trials` independent checks, each failing with probability `p`, contain
 * a run of at least `run` consecutive failures: the chance that noise alone reaches a
 * consecutive-failure limit within a rollout of that many checks.
 */
export function runProbability(p: number, run: number, trials: number): number {
  if (run <= 0) return 1;
  // state[j]: probability of not having reached the limit yet, with j failures in a row so far.
  let state = new Float64Array(run);
  state[0] = 1;
  let reached = 0;
  for (let t = 0; t < trials; t++) {
    const next = new Float64Array(run);
    for (let j = 0; j < run; j++) {
      const mass = state[j] as number;
      next[0] = (next[0] as number) + mass * (1 - p);
      if (j + 1 === run) reached += mass * p;
      else next[j + 1] = (next[j + 1] as number) + mass * p;
    }
    state = next;
  }
  return reached;
}

const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
  9.9843695780195716e-6, 1.5056327351493116e-7,
];

/**
 * ln Γ(x) for real x > 0 (Lanczos, g = 7: about 15 significant digits). The mixtures of the
 * sequential judge have prior parameters such as 100 x 0.02 = 2, so whole numbers are not enough.
 */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`logGamma needs x > 0, got ${x}`);
  if (Number.isInteger(x) && x <= LOG_FACTORIAL_TABLE_SIZE) return logFactorial(x - 1);
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let sum = LANCZOS[0] as number;
  for (let i = 1; i < LANCZOS.length; i++) sum += (LANCZOS[i] as number) / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** ln B(a), the multivariate beta function Π Γ(a_i) / Γ(Σ a_i), for positive a_i. */
export function logBeta(a: readonly number[]): number {
  let total = 0;
  let sum = 0;
  for (const x of a) {
    total += logGamma(x);
    sum += x;
  }
  return total - logGamma(sum);
}

/**
 * Exact (Clopper-Pearson) one-sided bounds for a binomial proportion: `lower` is wrong (above the
 * true proportion) with probability at most `alpha`, and so is `upper` (below it). For k of n.
 */
export function binomialBounds(k: number, n: number, alpha: number): { lower: number; upper: number } {
  if (!(n >= 0 && k >= 0 && k <= n)) throw new RangeError(`binomial bounds need 0 <= k <= n, got ${k} of ${n}`);
  if (n === 0) return { lower: 0, upper: 1 };
  const solve = (tooHigh: (p: number) => boolean) => {
    let lo = 0;
    let hi = 1;
    for (let i = 0; i < 60; i++) {
      const mid = (lo + hi) / 2;
      if (tooHigh(mid)) hi = mid;
      else lo = mid;
    }
    return { lo, hi };
  };
  // lower: the p at which P(X >= k) = alpha (P(X >= k) grows with p); keep the side that errs low.
  const lower = k === 0 ? 0 : solve((p) => binomialUpperTail(k, n, p) > alpha).lo;
  // upper: the p at which P(X <= k) = alpha (P(X <= k) falls with p); keep the side that errs high.
  const upper = k === n ? 1 : solve((p) => 1 - binomialUpperTail(k + 1, n, p) < alpha).hi;
  return { lower, upper };
}

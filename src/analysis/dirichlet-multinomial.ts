/**
 * The anytime-valid multinomial test of Lindon and Malek, "Anytime-Valid Inference for
 * Multinomial Count Data" (NeurIPS 2022), which the sequential judge uses where one slot's
 * rate has to be judged on its own (against a frozen baseline).
 *
 * Counts x of d categories arrive over time; under H0 each observation falls in category i with
 * probability θ0_i. Against a Dirichlet(α) mixture of alternatives the Bayes factor is
 *
 *   BF = [B(α + x) / B(α)] / Π θ0_i^x_i      (B the multivariate beta function)
 *
 * a nonnegative martingale with mean 1 under H0, so by Ville's inequality it ever reaches 1/a
 * with probability at most a, however often it is looked at: p = min over time of 1/BF is an
 * anytime-valid p-value. Inverting it gives a confidence sequence: the θ whose likelihood
 * Π θ_i^x_i is at least a x B(α + x) / B(α), which holds the true θ at every time at once with
 * probability at least 1 - a. Everything is a function of the counts so far.
 */
import { logBeta } from './statistics.js';

/** ln BF of counts `x` against the null probabilities `theta0`, with the Dirichlet prior `prior` (the paper uses prior = k x theta0). */
export function multinomialLogBayesFactor(x: readonly number[], theta0: readonly number[], prior: readonly number[]): number {
  if (x.length !== theta0.length || x.length !== prior.length) throw new RangeError('counts, null and prior must have one entry per category');
  let logNull = 0;
  for (let i = 0; i < x.length; i++) if ((x[i] as number) > 0) logNull += (x[i] as number) * Math.log(theta0[i] as number);
  return logMarginal(x, prior) - logNull;
}

/** ln of the Dirichlet-multinomial marginal likelihood of one ordered sequence with counts `x`: B(α + x) / B(α). */
export function logMarginal(x: readonly number[], prior: readonly number[]): number {
  return logBeta(prior.map((a, i) => a + (x[i] as number))) - logBeta(prior);
}

/** A rate observed as k events in n trials, judged with a Beta(a, b) mixture (the two-category case). */
export interface BetaPrior {
  a: number;
  b: number;
}

/** The Beta prior the paper centres on a rate q0 with concentration c: Beta(c q0, c (1 - q0)). */
export function centredPrior(q0: number, concentration: number): BetaPrior {
  const q = Math.min(1 - 1e-9, Math.max(1e-9, q0));
  return { a: concentration * q, b: concentration * (1 - q) };
}

/** ln of the likelihood q^k (1 - q)^(n - k), with 0 ln 0 = 0. */
export function logRateLikelihood(k: number, n: number, q: number): number {
  const hits = k > 0 ? k * Math.log(q) : 0;
  const misses = n - k > 0 ? (n - k) * Math.log1p(-q) : 0;
  return hits + misses;
}

/**
 * Whether the rate's confidence sequence at level 1 - alpha (after k of n) lies wholly above `q`
 * (`side` 'above') or wholly below it ('below'): every rate on the other side of q is ruled out.
 * The likelihood is log-concave in the rate, so the sequence is an interval around k / n and it
 * is enough to rule out q itself with the estimate on the right side of it.
 */
export function rateExcludes(k: number, n: number, prior: BetaPrior, alpha: number, q: number, side: 'above' | 'below'): boolean {
  if (n <= 0) return false;
  const estimate = k / n;
  if (side === 'above' ? !(q < estimate) : !(q > estimate)) return false;
  const threshold = Math.log(alpha) + logMarginal([k, n - k], [prior.a, prior.b]);
  return logRateLikelihood(k, n, q) <= threshold;
}

/** The rate's confidence sequence at level 1 - alpha after k of n: [lower, upper], by bisection on the log-likelihood. */
export function rateConfidenceSequence(k: number, n: number, prior: BetaPrior, alpha: number): { lower: number; upper: number } {
  if (n <= 0) return { lower: 0, upper: 1 };
  const threshold = Math.log(alpha) + logMarginal([k, n - k], [prior.a, prior.b]);
  const estimate = k / n;
  const inside = (q: number) => logRateLikelihood(k, n, q) > threshold;
  const edge = (from: number, to: number) => {
    // `from` is inside, `to` the far end; find where the likelihood crosses the threshold.
    if (inside(to)) return to;
    let a = from;
    let b = to;
    for (let i = 0; i < 80; i++) {
      const mid = (a + b) / 2;
      if (inside(mid)) a = mid;
      else b = mid;
    }
    return b;
  };
  return { lower: edge(estimate, 0), upper: edge(estimate, 1) };
}

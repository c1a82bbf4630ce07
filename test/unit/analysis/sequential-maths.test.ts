import { describe, expect, it } from 'vitest';
import { centredPrior, multinomialLogBayesFactor, rateConfidenceSequence, rateExcludes } from '../../../src/analysis/dirichlet-multinomial.js';
import { addRatioBatch, emptyRatioSequence, GRID_HALF, gridRatio, ratioDecision, ratioEvidence } from '../../../src/analysis/rate-ratio-sequence.js';
import { binomialBounds, logBeta, logGamma } from '../../../src/analysis/statistics.js';
import { seededRandom } from '../../../src/core/seeded-random.js';

/**
 * The canary example of Lindon and Malek's "Anytime-Valid Inference for Multinomial Count Data":
 * two Poisson processes sharing a time-varying level, the control given 80% of the units and the
 * treatment 20%, with log-intensity effects 1.5 and 2, so each event is the treatment's with
 * probability 0.2 e^2 / (0.8 e^1.5 + 0.2 e^2) = 0.29. H0: equal intensities (each event is the
 * treatment's with probability 0.2); prior Dirichlet(100 x (0.8, 0.2)); alpha 0.05. These are the
 * first 210 events as the `savvi` package draws them for its version of the example (numpy,
 * seed 1; 1 = treatment); its published result, which this code reproduces below: the sequential
 * p-value first falls below 0.05 at the 210th event, at 0.045579631759249686, and the confidence
 * sequence for the contrast δ_treatment - δ_control is then [0.00464625, 0.75493987] (its running
 * intersection).
 */
const PAPER_EVENTS =
  '0100000000000100000011001100010010000101110100100000000000000000000010' +
  '1001001011101001010001000010000010100101001001111000001001000100101011' +
  '0000000100010001001100010000000100010000001001000100111100011010000011';

describe('the anytime-valid multinomial test (Lindon and Malek), checked against the canary example', () => {
  it('the sequential p-value first drops below 0.05 at event 210, at 0.0455796', () => {
    const rho = [0.8, 0.2];
    const prior = rho.map((r) => 100 * r);
    let p = 1;
    let stoppedAt = 0;
    const counts = [0, 0];
    for (let n = 1; n <= PAPER_EVENTS.length; n++) {
      counts[PAPER_EVENTS[n - 1] === '1' ? 1 : 0]! += 1;
      p = Math.min(p, Math.exp(-multinomialLogBayesFactor(counts, rho, prior)));
      if (p <= 0.05 && stoppedAt === 0) stoppedAt = n;
    }
    expect(stoppedAt).toBe(210);
    expect(counts).toEqual([148, 62]);
    expect(p).toBeCloseTo(0.045579631759249686, 12);
  });

  it('its confidence sequence for the contrast at event 210: lower end 0.0046463, and 0.75494 as the running intersection', () => {
    // Two categories: the treatment's share q of events; δ = logit(q) - logit(0.2).
    const prior = centredPrior(0.2, 100);
    const contrast = (q: number) => Math.log(q / (1 - q)) - Math.log(0.2 / 0.8);
    let lower = Number.NEGATIVE_INFINITY;
    let upper = Number.POSITIVE_INFINITY;
    let treated = 0;
    let now = { lower: 0, upper: 0 };
    for (let n = 1; n <= PAPER_EVENTS.length; n++) {
      if (PAPER_EVENTS[n - 1] === '1') treated++;
      if (treated === 0 || treated === n) continue;
      const cs = rateConfidenceSequence(treated, n, prior, 0.05);
      now = { lower: contrast(cs.lower), upper: contrast(cs.upper) };
      lower = Math.max(lower, now.lower);
      upper = Math.min(upper, now.upper);
    }
    expect(now.lower).toBeCloseTo(0.00464625, 7);
    expect(now.upper).toBeCloseTo(0.9945064, 6);
    expect(lower).toBeCloseTo(0.00464625, 7);
    expect(upper).toBeCloseTo(0.75493987, 7);
    // The same interval read as a decision: 0.2 (no effect) is ruled out, from above.
    expect(rateExcludes(62, 210, prior, 0.05, 0.2, 'above')).toBe(true);
    expect(rateExcludes(61, 209, prior, 0.05, 0.2, 'above')).toBe(false);
  });
});

describe('distribution helpers', () => {
  it('ln Γ at whole, half and small arguments', () => {
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
    expect(logGamma(2.5)).toBeCloseTo(Math.log(1.329340388179137), 12);
    expect(logGamma(0.02)).toBeCloseTo(3.900804516098377, 10);
    expect(logBeta([2, 3])).toBeCloseTo(Math.log(1 / 12), 12);
  });

  it('exact binomial bounds (Clopper-Pearson)', () => {
    expect(binomialBounds(0, 10, 0.025).upper).toBeCloseTo(1 - 0.025 ** (1 / 10), 9);
    expect(binomialBounds(0, 10, 0.025).lower).toBe(0);
    const five = binomialBounds(5, 10, 0.025);
    expect(five.lower).toBeCloseTo(0.187086, 5);
    expect(five.upper).toBeCloseTo(0.812914, 5);
    expect(binomialBounds(10, 10, 0.05).lower).toBeCloseTo(0.05 ** (1 / 10), 9);
    expect(binomialBounds(10, 10, 0.05).upper).toBe(1);
  });
});

/** One batch of a two-slot count stream: requests split by the weight, events by each slot's rate. */
function batch(random: () => number, requests: number, canaryShare: number, stableRate: number, ratio: number) {
  let canaryRequests = 0;
  let canaryEvents = 0;
  let stableEvents = 0;
  for (let i = 0; i < requests; i++) {
    if (random() < canaryShare) {
      canaryRequests++;
      if (random() < stableRate * ratio) canaryEvents++;
    } else if (random() < stableRate) {
      stableEvents++;
    }
  }
  return { canary: { requests: canaryRequests, failures: canaryEvents }, stable: { requests: requests - canaryRequests, failures: stableEvents } };
}

describe('the rate-ratio sequence (counting processes under a changing split)', () => {
  it('accumulates the conditional binomial log-likelihood of each batch on the grid', () => {
    const seq = addRatioBatch(emptyRatioSequence(2), { requests: 100, failures: 3 }, { requests: 900, failures: 9 });
    for (const j of [-GRID_HALF, -7, 0, 13, GRID_HALF]) {
      const theta = gridRatio(2, j);
      const p = (theta * 100) / (theta * 100 + 900);
      expect(seq.logLikelihood[j + GRID_HALF]).toBeCloseTo(3 * Math.log(p) + 9 * Math.log(1 - p), 9);
    }
    // A batch with no events, or a slot without requests, carries no information about the ratio.
    const quiet = addRatioBatch(addRatioBatch(seq, { requests: 50, failures: 0 }, { requests: 450, failures: 0 }), { requests: 10, failures: 2 }, { requests: 0, failures: 0 });
    expect(quiet.logLikelihood).toEqual(seq.logLikelihood);
    expect(quiet.canary).toEqual({ requests: 160, failures: 5 });
  });

  it('reports a confidence sequence around the estimate, a breach exactly when its lower end reaches the tolerance', () => {
    let worse = emptyRatioSequence(2);
    for (let i = 0; i < 30; i++) worse = addRatioBatch(worse, { requests: 100, failures: 5 }, { requests: 900, failures: 9 });
    const e = ratioEvidence(worse, 0.05);
    expect(e.estimate).toBeCloseTo(5, 9);
    expect(e.lower).toBeLessThan(5);
    expect(e.upper).toBeGreaterThan(5);
    expect(e.breach).toBe(e.lower >= 2);
    expect(e.breach).toBe(true);
    expect(e.cleared).toBe(false);

    let healthy = emptyRatioSequence(2);
    for (let i = 0; i < 30; i++) healthy = addRatioBatch(healthy, { requests: 100, failures: 2 }, { requests: 900, failures: 18 });
    const h = ratioEvidence(healthy, 0.05);
    expect(h.cleared).toBe(h.upper <= 2);
    expect(h.cleared).toBe(true);
    expect(h.breach).toBe(false);
    expect(h.lower).toBeLessThan(1);
  });

  it('a canary exactly at the tolerance is declared worse at most alpha of the time, however often it is looked at', () => {
    // 1,000 seeded rollouts of 60 checks, the split moving from 10% to 50% halfway, the canary
    // failing exactly maxRatio times as often as stable: the worst case of the null hypothesis.
    const random = seededRandom(7);
    const alpha = 0.05;
    let breached = 0;
    for (let run = 0; run < 1000; run++) {
      let seq = emptyRatioSequence(2);
      for (let check = 0; check < 60; check++) {
        const b = batch(random, 100, check < 30 ? 0.1 : 0.5, 0.02, 2);
        seq = addRatioBatch(seq, b.canary, b.stable);
        if (ratioDecision(seq, alpha).breach) {
          breached++;
          break;
        }
      }
    }
    // Ville's bound is alpha; 1,000 runs put the 95% interval of a true 5% at about 3.7-6.5%.
    expect(breached / 1000).toBeLessThanOrEqual(0.065);
  });
});

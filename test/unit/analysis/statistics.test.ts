import { describe, expect, it } from 'vitest';
import { formatP } from '../../../src/analysis/judge-format.js';
import { binomialUpperTail, hypergeometricUpperTail, logFactorial, runProbability } from '../../../src/analysis/statistics.js';

describe('logFactorial', () => {
  it('matches a direct sum of logs on both sides of the table edge', () => {
    for (const n of [0, 1, 2, 10, 1023, 1024, 1025, 5000]) {
      let direct = 0;
      for (let k = 2; k <= n; k++) direct += Math.log(k);
      expect(logFactorial(n)).toBeCloseTo(direct, 8);
    }
  });
});

describe('binomialUpperTail', () => {
  it('gives exact small cases', () => {
    expect(binomialUpperTail(0, 10, 0.3)).toBe(1);
    expect(binomialUpperTail(11, 10, 0.3)).toBe(0);
    expect(binomialUpperTail(3, 10, 0.5)).toBeCloseTo(968 / 1024, 14);
    expect(binomialUpperTail(7, 10, 0.5)).toBeCloseTo(176 / 1024, 14);
    expect(binomialUpperTail(8, 8, 2 / 3)).toBeCloseTo((2 / 3) ** 8, 14);
  });

  it('keeps relative accuracy far in the tail, where 1 - CDF would be 0', () => {
    // P(X >= 100) for X ~ Binomial(100, 0.5) is exactly 2^-100.
    expect(binomialUpperTail(100, 100, 0.5) / 2 ** -100).toBeCloseTo(1, 10);
    expect(binomialUpperTail(99, 100, 0.5) / (101 * 2 ** -100)).toBeCloseTo(1, 10);
  });

  it('sums to 1 with the lower tail for large n', () => {
    const upper = binomialUpperTail(50_100, 100_000, 0.5);
    const lower = binomialUpperTail(49_901, 100_000, 0.5);
    // Symmetry: P(X >= 50100) = P(X <= 49900) = 1 - P(X >= 49901).
    expect(upper + lower).toBeCloseTo(1, 12);
  });
});

describe('hypergeometricUpperTail', () => {
  it('gives exact small cases', () => {
    // 10 items, 4 marked, draw 5: P(X >= 3) = (C(4,3) C(6,2) + C(4,4) C(6,1)) / C(10,5) = 66 / 252.
    expect(hypergeometricUpperTail(3, 10, 4, 5)).toBeCloseTo(66 / 252, 14);
    expect(hypergeometricUpperTail(0, 10, 4, 5)).toBe(1);
    expect(hypergeometricUpperTail(5, 10, 4, 5)).toBe(0);
    // At least 1 of 5 drawn must be marked when 6 of 10 are.
    expect(hypergeometricUpperTail(1, 10, 6, 5)).toBe(1);
  });
});

describe('runProbability', () => {
  it('is the chance of a run of consecutive failures', () => {
    expect(runProbability(0.05, 2, 1)).toBe(0);
    expect(runProbability(0.05, 2, 2)).toBeCloseTo(0.0025, 14);
    // FF?, or SFF: p^2 + (1 - p) p^2.
    expect(runProbability(0.05, 2, 3)).toBeCloseTo(0.0025 + 0.95 * 0.0025, 14);
    expect(runProbability(0.5, 1, 3)).toBeCloseTo(1 - 0.125, 14);
    expect(runProbability(0, 2, 100)).toBe(0);
  });
});

describe('formatP', () => {
  it('prints two digits, four near the level, and floors vanishing values', () => {
    expect(formatP(0.012, 0.05)).toBe('0.012');
    expect(formatP(0.0496, 0.05)).toBe('0.0496');
    expect(formatP(0.05041, 0.05)).toBe('0.05041');
    expect(formatP(0.58, 0.05)).toBe('0.58');
    expect(formatP(1, 0.05)).toBe('1');
    expect(formatP(2.04e-4, 0.05)).toBe('2.0e-4');
    expect(formatP(1e-9, 0.05)).toBe('< 1e-6');
  });
});

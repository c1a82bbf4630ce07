import { describe, expect, it } from 'vitest';
import { decayedEjections, ejectionDurationMs, maxEjectable } from '../../../src/health/ejection-policy.js';

describe('maxEjectable (maxEjectionPercent of a slot, rounded down, at least one)', () => {
  it.each([
    // total, percent, ejectable
    [1, 50, 1],
    [2, 50, 1],
    [2, 10, 1], // Envoy's 10% would never eject with two hosts
    [3, 50, 1],
    [4, 50, 2],
    [10, 10, 1],
    [10, 25, 2],
    [10, 50, 5],
    [3, 100, 3],
    [5, 0, 0],
    [0, 50, 0],
  ])('%i targets at %i percent -> %i', (total, percent, expected) => {
    expect(maxEjectable(total, percent)).toBe(expected);
  });
});

describe('ejection length: ejectionTime x n, capped at maxEjectionTime', () => {
  const config = { ejectionTimeMs: 30_000, maxEjectionTimeMs: 300_000 };

  it('grows with each ejection up to the cap', () => {
    expect([1, 2, 3, 9, 10, 11, 50].map((n) => ejectionDurationMs(config, n))).toEqual([30_000, 60_000, 90_000, 270_000, 300_000, 300_000, 300_000]);
  });

  it('a cap below ejectionTime never shortens an ejection below ejectionTime', () => {
    expect(ejectionDurationMs({ ejectionTimeMs: 30_000, maxEjectionTimeMs: 10_000 }, 3)).toBe(30_000);
  });

  it('the multiplier decays by one for every full ejectionTime served since the return', () => {
    expect(decayedEjections(3, 0, 30_000)).toBe(3);
    expect(decayedEjections(3, 29_999, 30_000)).toBe(3);
    expect(decayedEjections(3, 30_000, 30_000)).toBe(2);
    expect(decayedEjections(3, 95_000, 30_000)).toBe(0);
    expect(decayedEjections(0, 0, 30_000)).toBe(0);
  });
});

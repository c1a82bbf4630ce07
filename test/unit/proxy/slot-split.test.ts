import { describe, expect, it } from 'vitest';
import { FULL_WEIGHT_BP, percentToBasisPoints, SlotSplit, stickyBucket } from '../../../src/proxy/slot-split.js';

function sequence(basisPoints: number, n: number): string {
  const split = new SlotSplit(basisPoints);
  let out = '';
  for (let i = 0; i < n; i++) out += split.nextIsCanary() ? 'C' : '.';
  return out;
}

function canaryIndexes(text: string): number[] {
  return [...text].flatMap((ch, i) => (ch === 'C' ? [i] : []));
}

describe('percentToBasisPoints', () => {
  it.each([
    [0, 0],
    [100, 10_000],
    [10, 1000],
    [0.5, 50],
    [33.3, 3330],
    [33.33, 3333],
    [0.01, 1],
    [0.004, 0],
    [-5, 0],
    [150, 10_000],
  ])('%d percent -> %i bp', (percent, bp) => {
    expect(percentToBasisPoints(percent)).toBe(bp);
  });
});

describe('SlotSplit', () => {
  it('10%: exactly one canary in every 10, evenly spaced', () => {
    const text = sequence(1000, 1000);
    expect(text.slice(0, 30)).toBe('.....C.........C.........C....');
    for (let start = 0; start < 1000; start += 10) expect(text.slice(start, start + 10)).toBe('.....C....');
  });

  it('0.5%: one canary in every 200', () => {
    const indexes = canaryIndexes(sequence(50, 2000));
    expect(indexes).toEqual([100, 300, 500, 700, 900, 1100, 1300, 1500, 1700, 1900]);
  });

  it('0%: never the canary', () => {
    expect(sequence(0, 10_000)).toBe('.'.repeat(10_000));
  });

  it('100%: always the canary', () => {
    expect(sequence(FULL_WEIGHT_BP, 10_000)).toBe('C'.repeat(10_000));
  });

  it('50%: alternates', () => {
    expect(sequence(5000, 10)).toBe('.C.C.C.C.C');
  });

  it('90%: one stable request in every 10', () => {
    expect(sequence(9000, 20)).toBe('CCCC.CCCCCCCCC.CCCCC');
  });

  it('33.3%: 3330 of 10000, every third request with an occasional gap of 4', () => {
    const text = sequence(percentToBasisPoints(33.3), 10_000);
    expect(text.slice(0, 12)).toBe('.C..C..C..C.');
    const indexes = canaryIndexes(text);
    expect(indexes).toHaveLength(3330);
    const gaps = indexes.slice(1).map((index, i) => index - (indexes[i] as number));
    expect(new Set(gaps)).toEqual(new Set([3, 4]));
    expect(gaps.filter((g) => g === 4)).toHaveLength(10);
  });

  it.each([1, 7, 50, 1234, 3330, 5000, 8765, 9999])('%i bp: every prefix is within half a request of the exact share', (bp) => {
    const split = new SlotSplit(bp);
    let canary = 0;
    let worst = 0;
    for (let n = 1; n <= 20_000; n++) {
      if (split.nextIsCanary()) canary += 1;
      worst = Math.max(worst, Math.abs(canary - (n * bp) / FULL_WEIGHT_BP));
    }
    expect(canary).toBe(2 * bp);
    expect(worst).toBeLessThanOrEqual(0.5);
  });

  it('two splits of the same weight make the same sequence', () => {
    expect(sequence(1234, 500)).toBe(sequence(1234, 500));
  });
});

/** Deterministic version-4 UUID strings (from a seeded PRNG), so the uniformity bounds below cannot flake. */
function uuids(count: number, seed: number): string[] {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const hex = (n: number, digits: number) => n.toString(16).padStart(8, '0').slice(0, digits);
  return Array.from({ length: count }, () => {
    const variant = (8 + (next() % 4)).toString(16);
    return `${hex(next(), 8)}-${hex(next(), 4)}-4${hex(next(), 3)}-${variant}${hex(next(), 3)}-${hex(next(), 8)}${hex(next(), 4)}`;
  });
}

describe('stickyBucket', () => {
  it.each([
    // FNV-1a 32-bit of these strings is 0x811c9dc5, 0xe40c292c and 0x1a47e90b.
    ['', 2166136261 % 10_000],
    ['a', 3826002220 % 10_000],
    ['abc', 440920331 % 10_000],
  ])('is FNV-1a mod 10000: %j -> %i', (value, bucket) => {
    expect(stickyBucket(value)).toBe(bucket);
  });

  it('is deterministic and within 0..9999', () => {
    const ids = uuids(1000, 1);
    const first = ids.map(stickyBucket);
    expect(ids.map(stickyBucket)).toEqual(first);
    expect(first.every((b) => Number.isInteger(b) && b >= 0 && b < 10_000)).toBe(true);
  });

  const ids = uuids(20_000, 2024);
  const buckets = ids.map(stickyBucket);

  it('produces UUID-shaped inputs', () => {
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(20_000);
  });

  it.each([1, 5, 10, 25, 50, 90])('puts %i percent of 20k clients on the canary, within 4 binomial standard deviations', (percent) => {
    const p = percent / 100;
    const onCanary = buckets.filter((b) => b < percentToBasisPoints(percent)).length;
    const sd = Math.sqrt(20_000 * p * (1 - p));
    expect(Math.abs(onCanary - 20_000 * p)).toBeLessThan(4 * sd);
  });

  it('spreads over ten equal ranges (chi-square, 9 degrees of freedom, p > 0.001)', () => {
    const observed = new Array<number>(10).fill(0);
    for (const b of buckets) observed[Math.floor(b / 1000)]! += 1;
    const expected = 2000;
    const chiSquare = observed.reduce((sum, o) => sum + (o - expected) ** 2 / expected, 0);
    expect(chiSquare).toBeLessThan(27.88);
  });

  it('membership only grows with the weight: nobody on the canary goes back to stable', () => {
    const weights = [0, 0.5, 1, 5, 10, 25, 50, 75, 100].map(percentToBasisPoints);
    for (let i = 1; i < weights.length; i++) {
      const before = new Set(ids.filter((_, k) => (buckets[k] as number) < (weights[i - 1] as number)));
      const after = new Set(ids.filter((_, k) => (buckets[k] as number) < (weights[i] as number)));
      expect([...before].filter((id) => !after.has(id))).toEqual([]);
      expect(after.size).toBeGreaterThan(before.size);
    }
    expect(buckets.filter((b) => b < FULL_WEIGHT_BP)).toHaveLength(20_000);
  });
});

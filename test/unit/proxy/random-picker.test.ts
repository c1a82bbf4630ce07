import { afterEach, describe, expect, it } from 'vitest';
import { HealthFlag } from '../../../src/core/health-flags.js';
import { RandomPicker } from '../../../src/proxy/random-picker.js';
import { count, destroyTargets, picks, targets } from '../../helpers/picker-targets.js';
import { seededRandom } from '../../../src/core/seeded-random.js';

afterEach(destroyTargets);

/** Returns the given values in turn. */
function scripted(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length] as number;
}


describe('RandomPicker', () => {
  it('maps the random number onto the weights in order', () => {
    // Weights 3:1 -> a owns [0, 0.75), b owns [0.75, 1).
    const picker = new RandomPicker(targets(3, 1), scripted(0, 0.5, 0.7499, 0.75, 0.9999));
    expect(picks(picker, 5)).toBe('aaabb');
  });

  it('honours weights over many picks', () => {
    const sequence = picks(new RandomPicker(targets(6, 3, 1), seededRandom(7)), 10_000);
    const shares = ['a', 'b', 'c'].map((ch) => count(sequence, ch) / 10_000);
    // Within 4 standard deviations of 0.6 / 0.3 / 0.1 (about 0.02, 0.018, 0.012).
    expect(Math.abs((shares[0] as number) - 0.6)).toBeLessThan(0.02);
    expect(Math.abs((shares[1] as number) - 0.3)).toBeLessThan(0.019);
    expect(Math.abs((shares[2] as number) - 0.1)).toBeLessThan(0.012);
  });

  it('spreads only over available targets', () => {
    const [a, b, c] = targets(3, 1, 1);
    a!.setFlag(HealthFlag.OUTLIER_EJECTED);
    // Only b and c (1:1) remain: b owns [0, 0.5), c owns [0.5, 1).
    const picker = new RandomPicker([a!, b!, c!], scripted(0, 0.49, 0.5, 0.99));
    expect(picks(picker, 4)).toBe('bbcc');
  });

  it('picks the last available target if the source returns 1', () => {
    const [a, b, c] = targets(1, 1, 1);
    c!.setFlag(HealthFlag.FAILED_ACTIVE_CHECK);
    expect(picks(new RandomPicker([a!, b!, c!], scripted(1)), 1)).toBe('b');
  });

  it('returns null when nothing is available, without drawing', () => {
    const list = targets(1, 1);
    for (const t of list) t.setFlag(HealthFlag.FAILED_ACTIVE_CHECK);
    let draws = 0;
    const picker = new RandomPicker(list, () => {
      draws += 1;
      return 0;
    });
    expect(picker.pick()).toBeNull();
    expect(draws).toBe(0);
    expect(new RandomPicker([]).pick()).toBeNull();
  });
});

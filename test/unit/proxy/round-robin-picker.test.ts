import { afterEach, describe, expect, it } from 'vitest';
import { HealthFlag } from '../../../src/core/health-flags.js';
import { RoundRobinPicker } from '../../../src/proxy/round-robin-picker.js';
import { count, destroyTargets, picks, targets } from '../../helpers/picker-targets.js';

afterEach(destroyTargets);

describe('RoundRobinPicker', () => {
  it.each([
    [[1], 'aaaa'],
    [[1, 1], 'abababab'],
    [[1, 1, 1], 'abcabcabc'],
    [[3, 3, 3], 'abcabcabc'],
    [[2, 1], 'abaabaaba'],
    [[1, 2], 'babbabbab'],
    [[3, 1], 'aabaaaba'],
    // nginx's classic smooth sequence for 5:1:1.
    [[5, 1, 1], 'aabacaaaabacaa'],
    [[4, 2, 1], 'abacabaabacaba'],
  ])('weights %j pick %s', (weights, expected) => {
    expect(picks(new RoundRobinPicker(targets(...weights)), expected.length)).toBe(expected);
  });

  it('gives exact shares over a full cycle', () => {
    const sequence = picks(new RoundRobinPicker(targets(90, 7, 3)), 1000);
    expect([count(sequence, 'a'), count(sequence, 'b'), count(sequence, 'c')]).toEqual([900, 70, 30]);
  });

  it('puts a 1-in-10 target in the middle of each cycle, never at its edges', () => {
    const sequence = picks(new RoundRobinPicker(targets(9, 1)), 100);
    expect(sequence).toBe('aaaaabaaaa'.repeat(10));
  });

  it('skips an unavailable target and resumes it when it is back', () => {
    const [a, b, c] = targets(1, 1, 1);
    const picker = new RoundRobinPicker([a!, b!, c!]);
    expect(picks(picker, 2)).toBe('ab');
    b!.setFlag(HealthFlag.FAILED_ACTIVE_CHECK);
    expect(picks(picker, 4)).toBe('caca');
    b!.clearFlag(HealthFlag.FAILED_ACTIVE_CHECK);
    expect(picks(picker, 3)).toBe('bca');
  });

  it('keeps the others exact while a weighted target is out', () => {
    const [a, b, c] = targets(5, 1, 1);
    const picker = new RoundRobinPicker([a!, b!, c!]);
    b!.setFlag(HealthFlag.OUTLIER_EJECTED);
    expect(picks(picker, 12)).toBe('aaacaaaaacaa');
  });

  it('treats any flag as unavailable', () => {
    const [a, b] = targets(2, 1);
    a!.setFlag(HealthFlag.PENDING_FIRST_CHECK);
    expect(picks(new RoundRobinPicker([a!, b!]), 3)).toBe('bbb');
  });

  it.each([
    ['equal weights', [1, 1]],
    ['weighted', [2, 1]],
  ])('returns null when every target is unavailable (%s)', (_what, weights) => {
    const list = targets(...weights);
    for (const t of list) t.setFlag(HealthFlag.FAILED_ACTIVE_CHECK);
    expect(picks(new RoundRobinPicker(list), 2)).toBe('--');
  });

  it('returns null for an empty slot', () => {
    expect(new RoundRobinPicker([]).pick()).toBeNull();
  });
});

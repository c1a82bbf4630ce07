import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SystemClock, VirtualClock } from '../../../src/core/clock.js';

describe('SystemClock timers', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires after the delay', () => {
    const clock = new SystemClock();
    const fired = vi.fn();
    clock.setTimeout(fired, 5000);
    vi.advanceTimersByTime(4999);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  // Node (and these fake timers) run any delay above 2^31-1 ms after 1 ms: a 600h progress deadline must not fire at once.
  it('waits out delays longer than setTimeout can hold', () => {
    const clock = new SystemClock();
    const fired = vi.fn();
    const delayMs = 600 * 3_600_000;
    clock.setTimeout(fired, delayMs);
    vi.advanceTimersByTime(10);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(delayMs - 11);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('cancels a long timer in any of its parts', () => {
    const clock = new SystemClock();
    const fired = vi.fn();
    const handle = clock.setTimeout(fired, 3 * 2 ** 31);
    vi.advanceTimersByTime(2 ** 31 + 5);
    clock.clearTimeout(handle);
    vi.advanceTimersByTime(4 * 2 ** 31);
    expect(fired).not.toHaveBeenCalled();
  });

  it('treats a negative delay as 0', () => {
    const clock = new SystemClock();
    const fired = vi.fn();
    clock.setTimeout(fired, -50);
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);
  });
});

describe('VirtualClock', () => {
  it('fires timers in due order at their own instant', () => {
    const clock = new VirtualClock(1000);
    const seen: [string, number][] = [];
    clock.setTimeout(() => seen.push(['b', clock.now()]), 200);
    clock.setTimeout(() => seen.push(['a', clock.now()]), 100);
    clock.setTimeout(() => seen.push(['c', clock.now()]), 200);
    clock.advance(150);
    expect(seen).toEqual([['a', 1100]]);
    clock.advance(100);
    expect(seen).toEqual([
      ['a', 1100],
      ['b', 1200],
      ['c', 1200],
    ]);
    expect(clock.now()).toBe(1250);
    expect(clock.pendingCount()).toBe(0);
  });
});

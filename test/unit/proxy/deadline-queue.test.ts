import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeadlineQueue, type DeadlineEntry } from '../../../src/proxy/deadline-queue.js';

class Entry implements DeadlineEntry {
  deadlinePrev: DeadlineEntry | null = null;
  deadlineNext: DeadlineEntry | null = null;
  deadlineAt = 0;
  expiredAt: number | null = null;
  onDeadline(): void {
    this.expiredAt = performance.now();
  }
}

describe('DeadlineQueue', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('expires each entry its duration after it was added, in order, under one timer', () => {
    const queue = new DeadlineQueue(100);
    const start = performance.now();
    const a = new Entry();
    const b = new Entry();
    const c = new Entry();
    queue.add(a, performance.now());
    vi.advanceTimersByTime(30);
    queue.add(b, performance.now());
    vi.advanceTimersByTime(30);
    queue.add(c, performance.now());
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(39);
    expect(a.expiredAt).toBeNull();
    vi.advanceTimersByTime(1);
    expect(a.expiredAt! - start).toBe(100);
    expect(b.expiredAt).toBeNull();
    vi.advanceTimersByTime(30);
    expect(b.expiredAt! - start).toBe(130);
    vi.advanceTimersByTime(30);
    expect(c.expiredAt! - start).toBe(160);
    expect(queue.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a removed entry never expires; removing from the middle, the ends, or twice is safe', () => {
    const queue = new DeadlineQueue(50);
    const entries = [new Entry(), new Entry(), new Entry(), new Entry()];
    for (const e of entries) queue.add(e, performance.now());
    queue.remove(entries[1]!);
    queue.remove(entries[0]!);
    queue.remove(entries[3]!);
    queue.remove(entries[3]!);
    expect(queue.size).toBe(1);
    vi.advanceTimersByTime(50);
    expect(entries.map((e) => e.expiredAt !== null)).toEqual([false, false, true, false]);
  });

  it('keeps no timer once it is empty, and re-arms when entries come again', () => {
    const queue = new DeadlineQueue(20);
    const a = new Entry();
    queue.add(a, performance.now());
    queue.remove(a);
    expect(vi.getTimerCount()).toBe(0);
    const b = new Entry();
    queue.add(b, performance.now());
    vi.advanceTimersByTime(20);
    expect(b.expiredAt).not.toBeNull();
    // An expired entry can be added again (a request body sent after a retry) and expires again.
    b.expiredAt = null;
    queue.add(b, performance.now());
    vi.advanceTimersByTime(20);
    expect(b.expiredAt).not.toBeNull();
  });

  it('adding an entry that is already queued restarts its clock instead of linking it twice', () => {
    const queue = new DeadlineQueue(40);
    const a = new Entry();
    const b = new Entry();
    queue.add(a, performance.now());
    queue.add(b, performance.now());
    vi.advanceTimersByTime(10);
    queue.add(a, performance.now());
    expect(queue.size).toBe(2);
    vi.advanceTimersByTime(30);
    expect([a.expiredAt !== null, b.expiredAt !== null]).toEqual([false, true]);
    vi.advanceTimersByTime(10);
    expect(a.expiredAt).not.toBeNull();
  });
});

/**
 * Time is injected everywhere outside the hot path so the controller, health checks and the
 * simulator can run on a virtual clock and tests can drive them tick by tick.
 */
export interface TimerHandle {
  readonly id: number;
}

export interface Clock {
  /** Monotonic milliseconds; only differences are meaningful. */
  now(): number;
  /** Wall-clock epoch milliseconds, for timestamps people and other processes read. */
  wallNow(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

let nextTimerId = 1;

/** The longest delay Node's setTimeout honours (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;

export class SystemClock implements Clock {
  private readonly timers = new Map<number, NodeJS.Timeout>();

  now(): number {
    return performance.now();
  }

  wallNow(): number {
    return Date.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = nextTimerId++;
    this.arm(id, fn, Math.max(0, ms));
    return { id };
  }

  /** Node fires any delay above MAX_TIMER_MS after 1 ms, so a long wait (a 600h deadline) is chained in parts. */
  private arm(id: number, fn: () => void, remainingMs: number): void {
    const stepMs = Math.min(remainingMs, MAX_TIMER_MS);
    const timer = setTimeout(() => {
      if (remainingMs > stepMs) {
        this.arm(id, fn, remainingMs - stepMs);
        return;
      }
      this.timers.delete(id);
      fn();
    }, stepMs);
    timer.unref?.();
    this.timers.set(id, timer);
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (!handle) return;
    const timer = this.timers.get(handle.id);
    if (timer) {
      clearTimeout(timer);
      this.timers.delete(handle.id);
    }
  }
}

interface PendingTimer {
  id: number;
  at: number;
  seq: number;
  fn: () => void;
}

/** A clock that only moves when told to; timers fire in due order during `advance`. */
export class VirtualClock implements Clock {
  private current: number;
  private wallOrigin: number;
  private readonly pending = new Map<number, PendingTimer>();
  private seq = 0;

  constructor(startMs = 0, wallOriginMs = Date.UTC(2026, 0, 1)) {
    this.current = startMs;
    this.wallOrigin = wallOriginMs - startMs;
  }

  now(): number {
    return this.current;
  }

  wallNow(): number {
    return this.wallOrigin + this.current;
  }

  /** Sets the wall clock forward or back by `ms` (an NTP step, a VM resume); monotonic time and timers do not move. */
  jumpWallClock(ms: number): void {
    this.wallOrigin += ms;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = nextTimerId++;
    this.pending.set(id, { id, at: this.current + Math.max(0, ms), seq: this.seq++, fn });
    return { id };
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle) this.pending.delete(handle.id);
  }

  /** Moves time forward by `ms`, firing each due timer at its own instant. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const next = this.nextDue(target);
      if (!next) break;
      this.pending.delete(next.id);
      this.current = next.at;
      next.fn();
    }
    this.current = target;
  }

  /** Like `advance`, but lets promise callbacks settle after each timer (for async code under test). */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      await flushMicrotasks();
      const next = this.nextDue(target);
      if (!next) break;
      this.pending.delete(next.id);
      this.current = next.at;
      next.fn();
    }
    this.current = target;
    await flushMicrotasks();
  }

  pendingCount(): number {
    return this.pending.size;
  }

  /** When the earliest pending timer is due, or undefined when none is pending. */
  nextTimerAt(): number | undefined {
    let earliest: number | undefined;
    for (const timer of this.pending.values()) if (earliest === undefined || timer.at < earliest) earliest = timer.at;
    return earliest;
  }

  private nextDue(limit: number): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const timer of this.pending.values()) {
      if (timer.at > limit) continue;
      if (!best || timer.at < best.at || (timer.at === best.at && timer.seq < best.seq)) best = timer;
    }
    return best;
  }
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise<void>((resolve) => setImmediate(resolve));
}

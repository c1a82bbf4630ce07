/** Something with a deadline in a DeadlineQueue; the queue owns the three link fields. */
export interface DeadlineEntry {
  deadlinePrev: DeadlineEntry | null;
  deadlineNext: DeadlineEntry | null;
  deadlineAt: number;
  onDeadline(): void;
}

/**
 * Deadlines that all lie the same `durationMs` after they were added (one service's response
 * timeout), so they expire in the order they were added: a linked list in which adding and
 * removing are O(1), under one native timer armed for the oldest entry. A timer per request
 * would cost a Timeout object, its async-hooks bookkeeping and two timer-list operations for
 * each request; this costs three field writes. Expiry keeps the native timer's precision.
 */
export class DeadlineQueue {
  readonly durationMs: number;
  private head: DeadlineEntry | null = null;
  private tail: DeadlineEntry | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly expire = (): void => this.onTimer();

  constructor(durationMs: number) {
    this.durationMs = durationMs;
  }

  /** Starts the entry's clock at `now` (performance.now()). */
  add(entry: DeadlineEntry, now: number): void {
    // Never linked twice: adding an entry again restarts its clock.
    if (entry.deadlinePrev !== null || this.head === entry) this.remove(entry);
    entry.deadlineAt = now + this.durationMs;
    entry.deadlineNext = null;
    entry.deadlinePrev = this.tail;
    if (this.tail === null) this.head = entry;
    else this.tail.deadlineNext = entry;
    this.tail = entry;
    this.timer ??= setTimeout(this.expire, this.durationMs);
  }

  /** Stops the entry's clock; an entry not in the queue is left alone. */
  remove(entry: DeadlineEntry): void {
    const prev = entry.deadlinePrev;
    const next = entry.deadlineNext;
    if (prev === null && this.head !== entry) return;
    if (prev === null) this.head = next;
    else prev.deadlineNext = next;
    if (next === null) this.tail = prev;
    else next.deadlinePrev = prev;
    entry.deadlinePrev = null;
    entry.deadlineNext = null;
    // An idle service keeps no timer (nor the process) alive; a busy one keeps its single timer.
    if (this.head === null && this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  get size(): number {
    let n = 0;
    for (let e = this.head; e !== null; e = e.deadlineNext) n++;
    return n;
  }

  private onTimer(): void {
    this.timer = null;
    const now = performance.now();
    let head = this.head;
    while (head !== null && head.deadlineAt <= now) {
      this.remove(head);
      head.onDeadline();
      head = this.head;
    }
    // The oldest entry left was added after the timer was armed: wait for its own deadline.
    if (head !== null && this.timer === null) this.timer = setTimeout(this.expire, Math.max(1, Math.ceil(head.deadlineAt - now)));
  }
}

import type { MirrorCounters } from '../core/mirror-counters.js';

/** The mirror's results over a window, as the mirror alarms read them. */
export interface MirrorWindowStats {
  /** Copies compared: match + mismatch + error (dropped copies were never sent). */
  compared: number;
  match: number;
  mismatch: number;
  error: number;
  dropped: number;
  /** Which fields differed, and how often, most frequent first. */
  kinds: [string, number][];
  /** The window actually covered (shorter than asked while history is still short). */
  windowMs: number;
}

interface MirrorSample {
  at: number;
  match: number;
  mismatch: number;
  error: number;
  dropped: number;
  kinds: ReadonlyMap<string, number>;
}

/** A fixed-size ring of one service's mirror samples, oldest overwritten first. */
export class MirrorRing {
  private samples: MirrorSample[] = [];
  private capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  resize(capacity: number): void {
    this.capacity = capacity;
    if (this.samples.length > capacity) this.samples = this.samples.slice(this.samples.length - capacity);
  }

  push(at: number, counters: MirrorCounters): void {
    this.samples.push(sampleOf(at, counters));
    if (this.samples.length > this.capacity) this.samples.shift();
  }

  /** The window of `windowMs` ending with `now` (the counters as they are). */
  window(now: number, counters: MirrorCounters, windowMs: number): MirrorWindowStats | null {
    const end = sampleOf(now, counters);
    let start: MirrorSample | undefined;
    for (let k = this.samples.length - 1; k >= 0; k--) {
      start = this.samples[k];
      if ((start as MirrorSample).at <= now - windowMs) break;
    }
    if (!start) return null;
    const kinds: [string, number][] = [];
    for (const [kind, count] of end.kinds) {
      const delta = count - (start.kinds.get(kind) ?? 0);
      if (delta > 0) kinds.push([kind, delta]);
    }
    kinds.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const match = end.match - start.match;
    const mismatch = end.mismatch - start.mismatch;
    const error = end.error - start.error;
    return { compared: match + mismatch + error, match, mismatch, error, dropped: end.dropped - start.dropped, kinds, windowMs: Math.max(0, now - start.at) };
  }
}

function sampleOf(at: number, counters: MirrorCounters): MirrorSample {
  return { at, match: counters.match, mismatch: counters.mismatch, error: counters.error, dropped: counters.dropped, kinds: new Map(counters.kinds) };
}

import { quantileFromCounts } from '../core/latency-histogram.js';
import type { TrafficCounters } from '../core/traffic-counters.js';
import { SLOT_NAMES, type SlotName } from '../core/types.js';

/** One point of a simulation's timeline, in schedule time. */
export interface TimelinePoint {
  /** Virtual ms since the rollout started. */
  t: number;
  weight: number;
  state: string;
  /** Requests per real second each slot served over the last interval; null for the first point (no interval yet). */
  rps: Record<SlotName, number | null>;
  errorRate: Record<SlotName, number | null>;
  /** Seconds; null without traffic. */
  p99: Record<SlotName, number | null>;
  /** Each alarm's last checked value; Infinity for a ratio whose stable side had no failures. */
  alarms: Record<string, number | null>;
}

const MIN_RATE_INTERVAL_S = 0.2;

interface Totals {
  responses: number;
  failures: number;
  latency: Float64Array;
}

/**
 * Samples a slot's counters (both roles together) and turns the difference since the last
 * sample into rates, error shares and a p99 for the timeline.
 */
export class TimelineSampler {
  private readonly counters: (slot: SlotName) => readonly TrafficCounters[];
  private previous: Record<SlotName, Totals>;
  private previousRealMs: number;
  private last: TimelinePoint | undefined;

  constructor(counters: (slot: SlotName) => readonly TrafficCounters[]) {
    this.counters = counters;
    this.previous = { blue: this.totals('blue'), green: this.totals('green') };
    this.previousRealMs = performance.now();
  }

  sample(t: number, weight: number, state: string, alarms: Record<string, number | null>): TimelinePoint {
    const nowMs = performance.now();
    const seconds = (nowMs - this.previousRealMs) / 1000;
    // A point taken right after another (on a state change) holds too few requests for a rate
    // worth drawing: it repeats the last rates and leaves the interval open for the next sample.
    if (seconds < MIN_RATE_INTERVAL_S && this.last) return { ...this.last, t, weight, state, alarms };
    // The first point comes right after the sampler started: a handful of requests over a sliver
    // of time would read as a burst (540 req/s in a 60 req/s run). It has no rates; the next one does.
    if (seconds < MIN_RATE_INTERVAL_S) return { t, weight, state, rps: { blue: null, green: null }, errorRate: { blue: null, green: null }, p99: { blue: null, green: null }, alarms };
    const point: TimelinePoint = { t, weight, state, rps: { blue: 0, green: 0 }, errorRate: { blue: null, green: null }, p99: { blue: null, green: null }, alarms };
    const next = { blue: this.totals('blue'), green: this.totals('green') };
    for (const slot of SLOT_NAMES) {
      const before = this.previous[slot];
      const after = next[slot];
      const requests = after.responses - before.responses;
      point.rps[slot] = round(requests / seconds, 1);
      if (requests > 0) {
        point.errorRate[slot] = round((after.failures - before.failures) / requests, 4);
        const delta = after.latency.map((count, i) => count - (before.latency[i] as number));
        point.p99[slot] = round(quantileFromCounts(delta, 0.99), 4);
      }
    }
    this.previous = next;
    this.previousRealMs = nowMs;
    this.last = point;
    return point;
  }

  private totals(slot: SlotName): Totals {
    const all = this.counters(slot);
    const totals: Totals = { responses: 0, failures: 0, latency: new Float64Array(all[0]?.latency.counts.length ?? 0) };
    for (const counters of all) {
      totals.responses += counters.responses;
      totals.failures += counters.failures;
      for (let i = 0; i < totals.latency.length; i++) totals.latency[i]! += counters.latency.counts[i] as number;
    }
    return totals;
  }
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

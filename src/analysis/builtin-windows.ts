import { randomBytes } from 'node:crypto';
import type { Clock, TimerHandle } from '../core/clock.js';
import { LATENCY_BOUNDS_S, quantileFromCounts } from '../core/latency-histogram.js';

/** How far back the dashboard's charts reach when a page opens. */
export const RECENT_SPAN_MS = 300_000;
import type { TrafficCounters } from '../core/traffic-counters.js';
import { SLOT_NAMES, type Role, type SlotName } from '../core/types.js';
import type { MirrorCounters } from '../core/mirror-counters.js';
import type { CountedSide, CountsMark, Increments, MetricsSource } from './metrics-source.js';
import { MirrorRing, type MirrorWindowStats } from './mirror-window.js';
import { MeasurementError, type WindowStats } from './window-stats.js';

/** Reads the data plane's cumulative counters for one service, slot and role. */
export type CountersLookup = (service: string, slot: SlotName, role: Role) => TrafficCounters;

/** Reads a service's cumulative mirror results (undefined: the service has none to read). */
export type MirrorLookup = (service: string) => MirrorCounters | undefined;

interface Sample {
  at: number;
  responses: number;
  failures: number;
  latency: Float64Array;
}

/** A fixed-size ring of samples, oldest overwritten first. */
class SampleRing {
  private readonly samples: (Sample | undefined)[];
  private next = 0;
  size = 0;

  constructor(capacity: number) {
    this.samples = new Array<Sample | undefined>(capacity);
  }

  push(sample: Sample): void {
    this.samples[this.next] = sample;
    this.next = (this.next + 1) % this.samples.length;
    this.size = Math.min(this.size + 1, this.samples.length);
  }

  /** A ring of another capacity holding the newest of these samples, in order. */
  resized(capacity: number): SampleRing {
    const ring = new SampleRing(capacity);
    for (let k = Math.min(this.size, capacity) - 1; k >= 0; k--) {
      ring.push(this.samples[(this.next - 1 - k + this.samples.length) % this.samples.length] as Sample);
    }
    return ring;
  }

  /** The newest sample taken at or before `time`, else the oldest one kept. */
  atOrBefore(time: number): Sample | undefined {
    let best: Sample | undefined;
    let oldest: Sample | undefined;
    for (let k = 0; k < this.size; k++) {
      const sample = this.samples[(this.next - 1 - k + this.samples.length) % this.samples.length] as Sample;
      oldest = sample;
      if (sample.at <= time) {
        best = sample;
        break;
      }
    }
    return best ?? oldest;
  }

  newest(): Sample | undefined {
    return this.size === 0 ? undefined : this.samples[(this.next - 1 + this.samples.length) % this.samples.length];
  }

  /** Every sample kept, oldest first. */
  all(): Sample[] {
    const out: Sample[] = [];
    for (let k = this.size - 1; k >= 0; k--) out.push(this.samples[(this.next - 1 - k + this.samples.length) % this.samples.length] as Sample);
    return out;
  }

  /** The oldest sample taken at or after `time`, else undefined (none taken since). */
  atOrAfter(time: number): Sample | undefined {
    let best: Sample | undefined;
    for (let k = 0; k < this.size; k++) {
      const sample = this.samples[(this.next - 1 - k + this.samples.length) % this.samples.length] as Sample;
      if (sample.at < time) break;
      best = sample;
    }
    return best;
  }
}

const ROLES: readonly Role[] = ['stable', 'canary'];

/** Per-slot rates over the history the rings keep, one point per sample (monotonic `at`, ms). */
export interface RecentTraffic {
  at: number[];
  slots: Record<SlotName, { rps: (number | null)[]; errorRate: (number | null)[]; p99Ms: (number | null)[] }>;
}
const BOUNDS: readonly number[] = Array.from(LATENCY_BOUNDS_S);

/**
 * The builtin metrics provider: every `sampleIntervalMs` (on the injected clock, so windows
 * work in compressed simulation time too) it copies each role's cumulative counters into a
 * ring long enough for the largest alarm window. A window's stats are the difference between
 * now and the sample at its start. Memory is fixed by the ring size, whatever the traffic.
 */
export class BuiltinWindows implements MetricsSource {
  private readonly lookup: CountersLookup;
  private readonly clock: Clock;
  private sampleIntervalMs: number;
  private readonly rings = new Map<string, SampleRing>();
  private readonly mirrorRings = new Map<string, MirrorRing>();
  private readonly mirrorLookup: MirrorLookup | undefined;
  private readonly refresh: (() => Promise<void>) | undefined;
  private timer: TimerHandle | undefined;
  private stopped = false;
  /** Names these counters in marks: after a restart they count from zero again, so an old mark means nothing. */
  private readonly sourceId = `builtin:${randomBytes(6).toString('hex')}`;

  /**
   * `refresh` brings the counters up to date before they are read (other processes report
   * theirs on request), so each sample and each window's end is exact at its time.
   */
  constructor(options: {
    services: readonly string[];
    lookup: CountersLookup;
    mirrorLookup?: MirrorLookup;
    clock: Clock;
    sampleIntervalMs: number;
    retentionMs: number;
    refresh?: () => Promise<void>;
  }) {
    this.lookup = options.lookup;
    this.mirrorLookup = options.mirrorLookup;
    this.refresh = options.refresh;
    this.clock = options.clock;
    this.sampleIntervalMs = options.sampleIntervalMs;
    const capacity = Math.ceil(options.retentionMs / options.sampleIntervalMs) + 2;
    for (const service of options.services) {
      for (const slot of SLOT_NAMES) for (const role of ROLES) this.rings.set(key(service, slot, role), new SampleRing(capacity));
      if (this.mirrorLookup) this.mirrorRings.set(service, new MirrorRing(capacity));
    }
  }

  /**
   * Picks a sampling period and history length that fit the alarms' windows. The history also
   * spans a few analysis intervals beyond the largest window: when a role's weight reaches 0,
   * the next check (an interval later, or a little more when it runs late) still finds the full
   * window that ended then, and freezes it as that role's baseline.
   */
  static sizing(windowsMs: readonly number[], analysisIntervalsMs: readonly number[] = []): { sampleIntervalMs: number; retentionMs: number } {
    const smallest = windowsMs.length > 0 ? Math.min(...windowsMs) : 60_000;
    const largest = windowsMs.length > 0 ? Math.max(...windowsMs) : 60_000;
    const interval = analysisIntervalsMs.length > 0 ? Math.max(...analysisIntervalsMs) : 0;
    // About 30 samples across the smallest window keeps its edges within ~3% of its length.
    const sampleIntervalMs = Math.min(5000, Math.max(100, Math.floor(smallest / 30)));
    // At least the last 5 minutes (at most 600 samples) also fill the dashboard's charts when a page opens.
    const forCharts = Math.min(RECENT_SPAN_MS, 600 * sampleIntervalMs);
    return { sampleIntervalMs, retentionMs: Math.max(largest + 3 * interval + 2 * sampleIntervalMs, forCharts) };
  }

  /**
   * New alarm windows from a config reload: the history kept grows or shrinks to the largest
   * window (what was sampled so far is kept), and the sampling period applies from the next sample.
   */
  resize(options: { sampleIntervalMs: number; retentionMs: number }): void {
    this.sampleIntervalMs = options.sampleIntervalMs;
    const capacity = Math.ceil(options.retentionMs / options.sampleIntervalMs) + 2;
    for (const [k, ring] of this.rings) this.rings.set(k, ring.resized(capacity));
    for (const ring of this.mirrorRings.values()) ring.resize(capacity);
  }

  start(): void {
    this.sampleAll();
    const refresh = this.refresh;
    const tick = refresh
      ? () => {
          void refresh().then(() => {
            if (this.stopped) return;
            this.sampleAll();
            this.timer = this.clock.setTimeout(tick, this.sampleIntervalMs);
          });
        }
      : () => {
          this.sampleAll();
          this.timer = this.clock.setTimeout(tick, this.sampleIntervalMs);
        };
    this.timer = this.clock.setTimeout(tick, this.sampleIntervalMs);
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * A window ending now, or `endedAgoMs` ago. A past window ends at the first sample taken at or
   * after its end (a role whose weight reached 0 then gets nothing new, so that sample holds all
   * it served, answers still in flight at the switch included). Its `windowMs` falls short of
   * the one asked for when the ring no longer reaches back that far.
   */
  async windowStats(service: string, slot: SlotName, role: Role, windowMs: number, endedAgoMs = 0): Promise<WindowStats> {
    const ring = this.rings.get(key(service, slot, role));
    if (!ring) throw new MeasurementError('bad-query', `no such service "${service}"`);
    // Without workers the read is synchronous: under a virtual clock, an await here would let
    // the timers due at the same instant (traffic, in the count simulation) count into the window.
    if (this.refresh) await this.refresh();
    const now = this.take(service, slot, role);
    const end = endedAgoMs > 0 ? (ring.atOrAfter(now.at - endedAgoMs) ?? now) : now;
    const start = ring.atOrBefore(end.at - windowMs);
    if (!start) throw new MeasurementError('no-data', 'no traffic history yet');
    return difference(start, end);
  }

  /**
   * Increments between ring samples, so consecutive ones meet exactly: from the sample a mark
   * names (or the first one after it, when it has left the ring) to the newest sample. Every
   * ring is sampled at the same instants, so all sides cover the same stretch.
   */
  async increments(service: string, sides: readonly CountedSide[], since: CountsMark | null, firstWindowMs: number): Promise<Increments> {
    const rings = sides.map(({ slot, role }) => {
      const ring = this.rings.get(key(service, slot, role));
      if (!ring) throw new MeasurementError('bad-query', `no such service "${service}"`);
      return ring;
    });
    const newest = rings[0]?.newest();
    if (!newest) throw new MeasurementError('no-data', 'no traffic history yet');
    const ours = since !== null && since.source === this.sourceId;
    const stats = rings.map((ring) => {
      const end = ring.atOrBefore(newest.at) as Sample;
      const start = (ours ? ring.atOrAfter(since.at) : ring.atOrBefore(end.at - firstWindowMs)) ?? end;
      const from = start.at > end.at ? end : start;
      return difference(from, end);
    });
    return { stats, mark: { source: this.sourceId, at: newest.at } };
  }

  /**
   * Each slot's request rate, error share and p99 at every sample kept, each measured over
   * `windowMs` back from it (as the dashboard's live sampler measures), for charts that open
   * with the last minutes already drawn. Points before a full window was kept are left out.
   */
  recentTraffic(service: string, windowMs: number): RecentTraffic {
    const out: RecentTraffic = { at: [], slots: { blue: { rps: [], errorRate: [], p99Ms: [] }, green: { rps: [], errorRate: [], p99Ms: [] } } };
    const perRole = SLOT_NAMES.map((slot) => ROLES.map((role) => this.rings.get(key(service, slot, role))?.all() ?? []));
    const times = perRole[0]?.[0] ?? [];
    for (let i = 0; i < times.length; i++) {
      const at = (times[i] as Sample).at;
      let j = i;
      while (j > 0 && at - (times[j] as Sample).at < windowMs) j--;
      if (at - (times[j] as Sample).at < windowMs * 0.9) continue;
      out.at.push(at);
      SLOT_NAMES.forEach((slot, s) => {
        let responses = 0;
        let failures = 0;
        let latency: number[] | null = null;
        for (const ring of perRole[s] as Sample[][]) {
          const end = ring[i];
          const start = ring[j];
          if (!end || !start) continue;
          responses += end.responses - start.responses;
          failures += end.failures - start.failures;
          latency ??= new Array<number>(end.latency.length).fill(0);
          for (let b = 0; b < latency.length; b++) latency[b] = (latency[b] as number) + (end.latency[b] as number) - (start.latency[b] as number);
        }
        const seconds = (at - (times[j] as Sample).at) / 1000;
        const p99 = latency && responses > 0 ? quantileFromCounts(latency, 0.99) : Number.NaN;
        const series = out.slots[slot];
        series.rps.push(seconds > 0 ? responses / seconds : null);
        series.errorRate.push(responses > 0 ? failures / responses : null);
        series.p99Ms.push(Number.isFinite(p99) ? p99 * 1000 : null);
      });
    }
    return out;
  }

  /** The mirror's results over the window of `windowMs` ending now (the copies compared, by result and mismatch kind). */
  async mirrorStats(service: string, windowMs: number): Promise<MirrorWindowStats> {
    const ring = this.mirrorRings.get(service);
    if (!ring || !this.mirrorLookup) throw new MeasurementError('bad-query', `no mirror results for service "${service}"`);
    if (this.refresh) await this.refresh();
    const counters = this.mirrorLookup(service);
    if (!counters) throw new MeasurementError('no-data', 'the service does not mirror');
    const stats = ring.window(this.clock.now(), counters, windowMs);
    if (!stats) throw new MeasurementError('no-data', 'no mirror history yet');
    return stats;
  }

  private sampleAll(): void {
    for (const [k, ring] of this.rings) {
      const [service, slot, role] = k.split('\u0000') as [string, SlotName, Role];
      ring.push(this.take(service, slot, role));
    }
    const now = this.clock.now();
    for (const [service, ring] of this.mirrorRings) {
      const counters = this.mirrorLookup?.(service);
      if (counters) ring.push(now, counters);
    }
  }

  private take(service: string, slot: SlotName, role: Role): Sample {
    const counters = this.lookup(service, slot, role);
    return { at: this.clock.now(), responses: counters.responses, failures: counters.failures, latency: Float64Array.from(counters.latency.counts) };
  }
}

function difference(start: Sample, end: Sample): WindowStats {
  const latency = new Array<number>(end.latency.length);
  for (let i = 0; i < latency.length; i++) latency[i] = (end.latency[i] as number) - (start.latency[i] as number);
  return {
    requests: end.responses - start.responses,
    failures: end.failures - start.failures,
    latency: { bounds: BOUNDS, counts: latency },
    windowMs: Math.max(0, end.at - start.at),
  };
}

function key(service: string, slot: SlotName, role: Role): string {
  return `${service}\u0000${slot}\u0000${role}`;
}

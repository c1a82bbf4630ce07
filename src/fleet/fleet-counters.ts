import type { MirrorCounts } from '../core/counter-report.js';
import { LATENCY_BUCKET_COUNT } from '../core/latency-histogram.js';
import { MIRROR_RESULTS, MirrorCounters } from '../core/mirror-counters.js';
import { TrafficCounters } from '../core/traffic-counters.js';
import { SLOT_NAMES, type Role, type SlotName } from '../core/types.js';

/** One service, slot and role's cumulative counts as an instance publishes them (what the builtin alarms read). */
export interface PublishedCounts {
  service: string;
  slot: SlotName;
  role: Role;
  responses: number;
  failures: number;
  /** Flat pairs of fine latency bucket index and cumulative count, for the buckets that are not 0. */
  latency: number[];
}

/**
 * One service's mirror results as an instance publishes them (what mirror_mismatch_rate and
 * mirror_error_rate read): the shape a worker reports its deltas in, holding cumulative counts.
 */
export type PublishedMirrorCounts = MirrorCounts;

/** What an instance publishes alongside its record: which process counted, and its counts. */
export interface PublishedCounters {
  /** Unique per process: a restart under the same name starts new counts. */
  incarnation: string;
  /** When the process started (epoch ms). */
  startedAt: number;
  counts: PublishedCounts[];
  /** Absent from instances of a version that did not publish them. */
  mirror?: PublishedMirrorCounts[];
}

const ROLES: readonly Role[] = ['stable', 'canary'];

/** Reads cumulative counts for every service, slot and role, sparse (buckets at 0 are left out). */
export function publishCounts(services: readonly string[], lookup: (service: string, slot: SlotName, role: Role) => TrafficCounters): PublishedCounts[] {
  const counts: PublishedCounts[] = [];
  for (const service of services) {
    for (const slot of SLOT_NAMES) {
      for (const role of ROLES) {
        const counters = lookup(service, slot, role);
        const latency: number[] = [];
        const buckets = counters.latency.counts;
        for (let i = 0; i < buckets.length; i++) if ((buckets[i] as number) > 0) latency.push(i, buckets[i] as number);
        counts.push({ service, slot, role, responses: counters.responses, failures: counters.failures, latency });
      }
    }
  }
  return counts;
}

/** Cumulative mirror results per service (a rollout step may mirror a service whose config does not). */
export function publishMirrorCounts(services: readonly string[], lookup: (service: string) => MirrorCounters): PublishedMirrorCounts[] {
  return services.map((service) => {
    const c = lookup(service);
    return { service, match: c.match, mismatch: c.mismatch, error: c.error, dropped: c.dropped, kinds: [...c.kinds] };
  });
}

interface Seen {
  incarnation: string;
  last: Map<string, { responses: number; failures: number; latency: Float64Array }>;
  lastMirror: Map<string, PublishedMirrorCounts>;
}

/**
 * The fleet's traffic as one set of cumulative counters, for the builtin windows: this
 * instance's own counters (read live) plus what every other instance has published, added up
 * as deltas. Like Prometheus's `increase()` over a counter, an instance that restarts begins a
 * new series, and one that dies keeps what it had contributed, so the sum never goes back and a
 * window (a difference of two samples of the sum) counts each request once. An instance first
 * seen after it had been serving for a while (this one started later) contributes from that
 * moment on, never its whole past at once.
 */
export class FleetCounters {
  private readonly self: string;
  private readonly startedAt: number;
  private readonly seen = new Map<string, Seen>();
  private readonly sums = new Map<string, TrafficCounters>();
  private readonly mirrorSums = new Map<string, MirrorCounters>();

  constructor(options: { self: string; startedAt: number }) {
    this.self = options.self;
    this.startedAt = options.startedAt;
  }

  /** An instance's published counters (the watch, or a resync). */
  observe(instance: string, published: PublishedCounters): void {
    if (instance === this.self) return;
    let seen = this.seen.get(instance);
    if (!seen || seen.incarnation !== published.incarnation) {
      const fromZero = published.startedAt >= this.startedAt;
      seen = { incarnation: published.incarnation, last: new Map(), lastMirror: new Map() };
      this.seen.set(instance, seen);
      if (!fromZero) {
        for (const counts of published.counts) seen.last.set(key(counts.service, counts.slot, counts.role), snapshot(counts));
        for (const mirror of published.mirror ?? []) seen.lastMirror.set(mirror.service, mirror);
        return;
      }
    }
    this.addMirror(seen, published.mirror ?? []);
    for (const counts of published.counts) {
      const k = key(counts.service, counts.slot, counts.role);
      const now = snapshot(counts);
      const before = seen.last.get(k);
      seen.last.set(k, now);
      // A count that went down is a bug or a restart we did not see: start again from it.
      if (before && (now.responses < before.responses || now.failures < before.failures)) continue;
      let sum = this.sums.get(k);
      if (!sum) {
        sum = new TrafficCounters();
        this.sums.set(k, sum);
      }
      sum.responses += now.responses - (before?.responses ?? 0);
      sum.failures += now.failures - (before?.failures ?? 0);
      const buckets = sum.latency.counts;
      for (let i = 0; i < LATENCY_BUCKET_COUNT; i++) {
        const delta = (now.latency[i] as number) - (before?.latency[i] ?? 0);
        if (delta > 0) buckets[i] = (buckets[i] as number) + delta;
      }
    }
  }

  /** Adds what each service's mirror counted since the instance's previous publication. */
  private addMirror(seen: Seen, published: readonly PublishedMirrorCounts[]): void {
    for (const now of published) {
      const before = seen.lastMirror.get(now.service);
      seen.lastMirror.set(now.service, now);
      if (before && MIRROR_RESULTS.some((result) => now[result] < before[result])) continue;
      let sum = this.mirrorSums.get(now.service);
      if (!sum) {
        sum = new MirrorCounters();
        this.mirrorSums.set(now.service, sum);
      }
      for (const result of MIRROR_RESULTS) sum.count(result, now[result] - (before?.[result] ?? 0));
      const kindsBefore = new Map(before?.kinds ?? []);
      for (const [kind, count] of now.kinds) {
        const delta = count - (kindsBefore.get(kind) ?? 0);
        if (delta > 0) sum.countKind(kind, delta);
      }
    }
  }

  /** This instance's mirror results plus the rest of the fleet's, as the mirror windows read them. */
  combinedMirror(service: string, local: MirrorCounters): MirrorCounters {
    const sum = this.mirrorSums.get(service);
    if (!sum) return local;
    const total = new MirrorCounters();
    total.add(local);
    total.add(sum);
    return total;
  }

  /** An instance's record is gone (it stopped, or its lease expired): what it counted stays in the sum. */
  forget(instance: string): void {
    this.seen.delete(instance);
  }

  /** This instance's counters plus the rest of the fleet's, as the builtin windows read them. */
  combined(service: string, slot: SlotName, role: Role, local: TrafficCounters): TrafficCounters {
    const sum = this.sums.get(key(service, slot, role));
    if (!sum) return local;
    const total = new TrafficCounters();
    total.responses = local.responses + sum.responses;
    total.failures = local.failures + sum.failures;
    const out = total.latency.counts;
    const a = local.latency.counts;
    const b = sum.latency.counts;
    for (let i = 0; i < out.length; i++) out[i] = (a[i] as number) + (b[i] as number);
    return total;
  }
}

function snapshot(counts: PublishedCounts): { responses: number; failures: number; latency: Float64Array } {
  const latency = new Float64Array(LATENCY_BUCKET_COUNT);
  for (let i = 0; i + 1 < counts.latency.length; i += 2) {
    const index = counts.latency[i] as number;
    if (index >= 0 && index < LATENCY_BUCKET_COUNT) latency[index] = counts.latency[i + 1] as number;
  }
  return { responses: counts.responses, failures: counts.failures, latency };
}

function key(service: string, slot: SlotName, role: Role): string {
  return `${service}\u0000${slot}\u0000${role}`;
}

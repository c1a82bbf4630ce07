import { quantileFromCounts } from '../../core/latency-histogram.js';
import type { TrafficCounters } from '../../core/traffic-counters.js';
import { SLOT_NAMES, type SlotName } from '../../core/types.js';

/** What a slot served over the sampler's window; null where there is nothing to measure. */
export interface SlotTraffic {
  /** Responses per second. */
  rps: number | null;
  /** Share (0..1) of responses that were 5xx, upstream failures or 503 for no target. */
  errorRate: number | null;
  p99Ms: number | null;
}

/** What one target served over the window: requests sent to it per second, and the share that failed (5xx or no answer). */
export interface TargetTraffic {
  rps: number | null;
  errorRate: number | null;
}

export type ServiceTraffic = Record<SlotName, SlotTraffic> & { targets?: Record<string, TargetTraffic> };

/** A target's cumulative requests and failures (5xx answers plus requests it never answered). */
export interface TargetTotals {
  url: string;
  requests: number;
  failures: number;
}

export type TargetCounterLookup = (service: string) => readonly TargetTotals[];

/** Both roles' counters of each slot (a slot is stable or canary depending on the rollout). */
export type SlotCounterLookup = (service: string) => Record<SlotName, readonly TrafficCounters[]>;

interface SlotTotals {
  responses: number;
  failures: number;
  latency: Float64Array;
}

interface Sample {
  at: number;
  slots: Record<SlotName, SlotTotals>;
  targets: readonly TargetTotals[];
}

const EMPTY: SlotTraffic = { rps: null, errorRate: null, p99Ms: null };

/**
 * Turns the data plane's cumulative counters into recent rates by keeping a few samples per
 * service and diffing the newest with the one about `windowMs` older. The hot path is not
 * touched: the counters are plain numbers read here at the sampling rate.
 */
export class TrafficSampler {
  private readonly lookup: SlotCounterLookup;
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly samples = new Map<string, Sample[]>();
  private readonly targetLookup: TargetCounterLookup;

  constructor(lookup: SlotCounterLookup, options: { windowMs?: number; now?: () => number; targets?: TargetCounterLookup } = {}) {
    this.lookup = lookup;
    this.targetLookup = options.targets ?? (() => []);
    this.windowMs = options.windowMs ?? 5000;
    this.now = options.now ?? (() => performance.now());
  }

  sample(services: readonly string[]): void {
    const at = this.now();
    for (const service of services) {
      const counters = this.lookup(service);
      const slots = { blue: totals(counters.blue), green: totals(counters.green) };
      const kept = this.samples.get(service) ?? [];
      kept.push({ at, slots, targets: this.targetLookup(service).map((t) => ({ ...t })) });
      // Keep exactly one sample at least a window old, so the diff always spans a full window once warm.
      while (kept.length > 2 && at - (kept[1] as Sample).at >= this.windowMs) kept.shift();
      this.samples.set(service, kept);
    }
    for (const service of this.samples.keys()) if (!services.includes(service)) this.samples.delete(service);
  }

  traffic(service: string): ServiceTraffic {
    const kept = this.samples.get(service);
    const newest = kept?.[kept.length - 1];
    const oldest = kept?.[0];
    const result: ServiceTraffic = { blue: EMPTY, green: EMPTY };
    if (!newest || !oldest || newest === oldest) return result;
    const seconds = (newest.at - oldest.at) / 1000;
    for (const slot of SLOT_NAMES) result[slot] = rates(oldest.slots[slot], newest.slots[slot], seconds);
    const targets: Record<string, TargetTraffic> = {};
    for (const now of newest.targets) {
      const before = oldest.targets.find((t) => t.url === now.url);
      if (!before) continue;
      const requests = Math.max(0, now.requests - before.requests);
      const failures = Math.max(0, now.failures - before.failures);
      targets[now.url] = { rps: seconds > 0 ? requests / seconds : null, errorRate: requests > 0 ? Math.min(1, failures / requests) : null };
    }
    return { ...result, targets };
  }

  /** Forgets every sample (nobody is watching; rates restart from the next sample). */
  reset(): void {
    this.samples.clear();
  }
}

function totals(counters: readonly TrafficCounters[]): SlotTotals {
  const out: SlotTotals = { responses: 0, failures: 0, latency: new Float64Array(counters[0]?.latency.counts.length ?? 0) };
  for (const c of counters) {
    out.responses += c.responses;
    out.failures += c.failures;
    const counts = c.latency.counts;
    for (let i = 0; i < counts.length; i++) out.latency[i] = (out.latency[i] as number) + (counts[i] as number);
  }
  return out;
}

function rates(before: SlotTotals, after: SlotTotals, seconds: number): SlotTraffic {
  const responses = Math.max(0, after.responses - before.responses);
  const failures = Math.max(0, after.failures - before.failures);
  const latency = new Float64Array(after.latency.length);
  for (let i = 0; i < latency.length; i++) latency[i] = Math.max(0, (after.latency[i] as number) - (before.latency[i] ?? 0));
  const p99 = quantileFromCounts(latency, 0.99);
  return {
    rps: seconds > 0 ? responses / seconds : null,
    errorRate: responses > 0 ? failures / responses : null,
    p99Ms: Number.isFinite(p99) ? p99 * 1000 : null,
  };
}

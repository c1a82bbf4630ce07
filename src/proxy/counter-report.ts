import type { CounterReport, RoleCounts, TargetCounts } from '../core/counter-report.js';
import { LATENCY_BUCKET_COUNT } from '../core/latency-histogram.js';
import { MIRROR_RESULTS, type MirrorCounters } from '../core/mirror-counters.js';
import type { TargetCounters, TrafficCounters } from '../core/traffic-counters.js';
import { SLOT_NAMES, type Role } from '../core/types.js';
import type { DataPlane } from './data-plane.js';
import type { ServiceRuntime } from './service-runtime.js';
import type { Target } from './target.js';

const ROLES: readonly Role[] = ['stable', 'canary'];
const STATUS_COUNT = 600;
// Packed copy of one TrafficCounters: statuses, five scalars, latency buckets, latency sum and count.
const SCALARS_AT = STATUS_COUNT;
const LATENCY_AT = SCALARS_AT + 5;
const SUM_AT = LATENCY_AT + LATENCY_BUCKET_COUNT;
const COUNT_AT = SUM_AT + 1;
const ROLE_MARK_SIZE = COUNT_AT + 1;
const TARGET_FIELDS = ['requests', 'errors', 'connect', 'timeout', 'reset', 'refused', 'protocol'] as const;

/**
 * Reads a data plane's counters as deltas since the previous read (for a process that reports
 * to another one). The counters themselves are left alone: the hot path keeps bumping plain
 * numbers, and this keeps a copy of what it reported last.
 */
export class CounterReader {
  private readonly dataPlane: DataPlane;
  private readonly roleMarks = new WeakMap<TrafficCounters, Float64Array>();
  private readonly targetMarks = new WeakMap<TargetCounters, Float64Array>();
  private readonly ruleMarks = new WeakMap<Float64Array, Float64Array>();
  private readonly mirrorMarks = new WeakMap<MirrorCounters, { scalars: number[]; kinds: Map<string, number> }>();

  constructor(dataPlane: DataPlane) {
    this.dataPlane = dataPlane;
  }

  read(): CounterReport {
    const report: CounterReport = { roles: [], targets: [] };
    for (const runtime of this.dataPlane.runtimesList()) {
      for (const slot of SLOT_NAMES) {
        for (const role of ROLES) {
          const counts = this.roleDelta(runtime.counters[slot][role]);
          if (counts) report.roles.push({ service: runtime.name, slot, role, ...counts });
        }
        for (const target of runtime.slot(slot).targets) {
          const counts = this.targetDelta(target);
          if (counts) report.targets.push({ service: runtime.name, slot, url: target.url, ...counts });
        }
      }
      this.ruleDeltas(runtime, report);
      this.mirrorDelta(runtime, report);
    }
    return report;
  }

  private mirrorDelta(runtime: ServiceRuntime, report: CounterReport): void {
    const counters = runtime.mirrorCounters;
    let mark = this.mirrorMarks.get(counters);
    if (!mark) {
      mark = { scalars: [0, 0, 0, 0], kinds: new Map() };
      this.mirrorMarks.set(counters, mark);
    }
    const scalars = MIRROR_RESULTS.map((result) => counters[result]);
    const deltas = scalars.map((value, i) => value - (mark.scalars[i] as number));
    const kinds: [string, number][] = [];
    for (const [kind, count] of counters.kinds) {
      const delta = count - (mark.kinds.get(kind) ?? 0);
      if (delta !== 0) kinds.push([kind, delta]);
      mark.kinds.set(kind, count);
    }
    mark.scalars = scalars;
    if (kinds.length === 0 && deltas.every((d) => d === 0)) return;
    const [match, mismatch, error, dropped] = deltas as [number, number, number, number];
    (report.mirror ??= []).push({ service: runtime.name, match, mismatch, error, dropped, kinds });
  }

  private ruleDeltas(runtime: ServiceRuntime, report: CounterReport): void {
    const hits = runtime.ruleHits;
    if (hits.length === 0) return;
    let mark = this.ruleMarks.get(hits);
    if (!mark) {
      mark = new Float64Array(hits.length);
      this.ruleMarks.set(hits, mark);
    }
    for (let i = 0; i < hits.length; i++) {
      const delta = (hits[i] as number) - (mark[i] as number);
      if (delta === 0) continue;
      mark[i] = hits[i] as number;
      (report.rules ??= []).push({ service: runtime.name, rule: runtime.rules.rules[i]?.name as string, hits: delta });
    }
  }

  private roleDelta(counters: TrafficCounters): Omit<RoleCounts, 'service' | 'slot' | 'role'> | null {
    let mark = this.roleMarks.get(counters);
    if (!mark) {
      mark = new Float64Array(ROLE_MARK_SIZE);
      this.roleMarks.set(counters, mark);
    }
    const byStatus: number[] = [];
    for (let status = 0; status < STATUS_COUNT; status++) {
      const delta = (counters.byStatus[status] as number) - (mark[status] as number);
      if (delta !== 0) byStatus.push(status, delta);
      mark[status] = counters.byStatus[status] as number;
    }
    const latency: number[] = [];
    const buckets = counters.latency.counts;
    for (let i = 0; i < LATENCY_BUCKET_COUNT; i++) {
      const delta = (buckets[i] as number) - (mark[LATENCY_AT + i] as number);
      if (delta !== 0) latency.push(i, delta);
      mark[LATENCY_AT + i] = buckets[i] as number;
    }
    const scalars = [counters.upstreamFailures, counters.unavailable, counters.clientAborts, counters.responses, counters.failures];
    const deltas = scalars.map((value, i) => value - (mark[SCALARS_AT + i] as number));
    scalars.forEach((value, i) => (mark[SCALARS_AT + i] = value));
    const latencySum = counters.latency.sum - (mark[SUM_AT] as number);
    const latencyCount = counters.latency.count - (mark[COUNT_AT] as number);
    mark[SUM_AT] = counters.latency.sum;
    mark[COUNT_AT] = counters.latency.count;
    if (byStatus.length === 0 && latency.length === 0 && latencyCount === 0 && deltas.every((d) => d === 0)) return null;
    const [upstreamFailures, unavailable, clientAborts, responses, failures] = deltas as [number, number, number, number, number];
    return { byStatus, upstreamFailures, unavailable, clientAborts, responses, failures, latency, latencySum, latencyCount };
  }

  private targetDelta(target: Target): Omit<TargetCounts, 'service' | 'slot' | 'url'> | null {
    const counters = target.counters;
    let mark = this.targetMarks.get(counters);
    if (!mark) {
      // After the deltas' marks: the gauges last reported (active, connected, running, pending).
      mark = new Float64Array(TARGET_FIELDS.length + 4);
      this.targetMarks.set(counters, mark);
    }
    const pool = target.pool.stats;
    const gauges = [counters.active, pool.connected, pool.running, pool.pending];
    let moved = false;
    const out = { requests: 0, errors: 0, connect: 0, timeout: 0, reset: 0, refused: 0, protocol: 0, active: counters.active, connected: pool.connected, running: pool.running, pending: pool.pending };
    TARGET_FIELDS.forEach((field, i) => {
      const delta = counters[field] - (mark[i] as number);
      if (delta !== 0) moved = true;
      out[field] = delta;
      mark[i] = counters[field];
    });
    gauges.forEach((value, i) => {
      if (mark[TARGET_FIELDS.length + i] !== value) moved = true;
      mark[TARGET_FIELDS.length + i] = value;
    });
    return moved ? out : null;
  }
}

/**
 * Adds another process's report to this data plane's counters (requests, statuses, latency
 * buckets, target failure kinds). Services and targets it no longer has are skipped: a reload
 * removed them here first. The gauges (`active`, the pool's) are the caller's: they are not deltas.
 */
export function addCounterReport(dataPlane: DataPlane, report: CounterReport): void {
  const names = new Set(dataPlane.serviceNames());
  for (const counts of report.roles) {
    if (!names.has(counts.service)) continue;
    const counters = dataPlane.runtime(counts.service).counters[counts.slot][counts.role];
    for (let i = 0; i < counts.byStatus.length; i += 2) counters.byStatus[counts.byStatus[i] as number]! += counts.byStatus[i + 1] as number;
    for (let i = 0; i < counts.latency.length; i += 2) counters.latency.counts[counts.latency[i] as number]! += counts.latency[i + 1] as number;
    counters.latency.sum += counts.latencySum;
    counters.latency.count += counts.latencyCount;
    counters.upstreamFailures += counts.upstreamFailures;
    counters.unavailable += counts.unavailable;
    counters.clientAborts += counts.clientAborts;
    counters.responses += counts.responses;
    counters.failures += counts.failures;
  }
  for (const counts of report.targets) {
    if (!names.has(counts.service)) continue;
    const target = dataPlane.runtime(counts.service).slot(counts.slot).targets.find((t) => t.url === counts.url);
    if (!target) continue;
    for (const field of TARGET_FIELDS) target.counters[field] += counts[field];
  }
  for (const counts of report.mirror ?? []) {
    if (!names.has(counts.service)) continue;
    dataPlane.runtime(counts.service).mirrorCounters.add(counts);
  }
  for (const counts of report.rules ?? []) {
    if (!names.has(counts.service)) continue;
    const runtime = dataPlane.runtime(counts.service);
    const rule = runtime.rules.rules.find((r) => r.name === counts.rule);
    if (rule) runtime.ruleHits[rule.index]! += counts.hits;
  }
}

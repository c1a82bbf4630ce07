import type { Role, SlotName } from './types.js';

/**
 * What a process counted since its previous report, as plain data another process can add to
 * its own counters. Sparse: only the status codes and latency buckets that moved are listed
 * (as index, count pairs), so an idle process reports almost nothing.
 */
export interface CounterReport {
  roles: RoleCounts[];
  targets: TargetCounts[];
  /** Requests each routing rule decided (by rule name: a reload may reorder rules). Absent when none moved. */
  rules?: RuleCounts[];
  /** The mirror's results per service. Absent when none moved. */
  mirror?: MirrorCounts[];
}

export interface MirrorCounts {
  service: string;
  match: number;
  mismatch: number;
  error: number;
  dropped: number;
  /** Mismatch kinds that moved: kind, count pairs. */
  kinds: [string, number][];
}

export interface RuleCounts {
  service: string;
  rule: string;
  hits: number;
}

export interface RoleCounts {
  service: string;
  slot: SlotName;
  role: Role;
  /** Flat pairs: status, count, status, count, ... */
  byStatus: number[];
  upstreamFailures: number;
  unavailable: number;
  clientAborts: number;
  responses: number;
  failures: number;
  /** Flat pairs: fine latency bucket index, count, ... */
  latency: number[];
  latencySum: number;
  latencyCount: number;
}

export interface TargetCounts {
  service: string;
  slot: SlotName;
  url: string;
  requests: number;
  errors: number;
  connect: number;
  timeout: number;
  reset: number;
  refused: number;
  protocol: number;
  /** Requests in flight now (a gauge, not a delta). */
  active: number;
  /** The upstream pool now (gauges): open connections, requests running on them and waiting for one. */
  connected: number;
  running: number;
  pending: number;
}

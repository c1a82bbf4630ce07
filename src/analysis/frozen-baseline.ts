import { formatDuration } from '../core/duration.js';
import type { Role, SlotName } from '../core/types.js';
import type { FrozenWindow } from '../rollout/rollout-record.js';
import type { RoleTraffic } from './role-traffic.js';
import type { WindowStats } from './window-stats.js';

/**
 * How long a frozen baseline stands in for a role that takes no traffic. Every check compares
 * with the same frozen window, so a stale one would skew all of them at once; traffic and its
 * error rate drift with the time of day, and an hour is as far as a window from before the
 * switch is taken to describe the service now.
 */
export const MAX_BASELINE_AGE_MS = 3_600_000;

/** A window counts as full within this share of its length (sample spacing, Prometheus resolution). */
const FULL_WINDOW_SLACK = 0.02;

/** Where one side of a comparison comes from at this check. */
export type SidePlan =
  | { kind: 'live' }
  | { kind: 'frozen'; baseline: FrozenWindow }
  /** Measure the window that ended when the role's weight reached 0, `endedAgoMs` ago, and freeze it. */
  | { kind: 'freeze'; zeroAt: number; endedAgoMs: number }
  | { kind: 'not-applicable'; reason: string };

/**
 * Pure: which window stands for `role` in a `relativeTo` comparison at `now`. A role taking
 * traffic is measured live; one at 0% is represented by its last full window from before its
 * weight reached 0 (already frozen, or to be frozen now), and without one the comparison is
 * not applicable.
 */
export function planSide(role: Role, traffic: RoleTraffic, stored: FrozenWindow | undefined, windowMs: number, now: number): SidePlan {
  if (traffic.kind === 'taking') return { kind: 'live' };
  const name = roleName(role);
  if (traffic.kind === 'never') {
    return { kind: 'not-applicable', reason: `${name} takes no traffic at ${zeroWeight(role)} and has taken none in this rollout, so there is no window of it to compare with` };
  }
  const window = formatDuration(windowMs);
  const reached = `its weight reached 0 at ${clockTime(traffic.zeroAt)}`;
  if (now - traffic.zeroAt > MAX_BASELINE_AGE_MS) {
    return {
      kind: 'not-applicable',
      reason: `${name} takes no traffic at ${zeroWeight(role)}, and its last window (before ${reached}) is more than ${formatDuration(MAX_BASELINE_AGE_MS)} old`,
    };
  }
  if (stored && stored.role === role && stored.zeroAt === traffic.zeroAt) return { kind: 'frozen', baseline: stored };
  if (traffic.zeroAt - traffic.since < windowMs * (1 - FULL_WINDOW_SLACK)) {
    return {
      kind: 'not-applicable',
      reason: `${name} takes no traffic at ${zeroWeight(role)}, and it took traffic for only ${formatDuration(traffic.zeroAt - traffic.since)} before ${reached}: no full ${window} window to compare with`,
    };
  }
  return { kind: 'freeze', zeroAt: traffic.zeroAt, endedAgoMs: Math.max(0, now - traffic.zeroAt) };
}

/**
 * Pure: the frozen baseline from the window measured for a `freeze` plan, or why there is none
 * (the metrics no longer reach back a full window before the weight reached 0). Latency buckets
 * are kept only when the alarm compares latency.
 */
export function freezeWindow(
  input: { role: Role; slot: SlotName; zeroAt: number; windowMs: number; takenAt: number; keepLatency: boolean },
  stats: WindowStats,
): { baseline: FrozenWindow } | { notApplicable: string } {
  const { role, zeroAt, windowMs } = input;
  if (stats.windowMs < windowMs * (1 - FULL_WINDOW_SLACK)) {
    return {
      notApplicable:
        `${roleName(role)} takes no traffic at ${zeroWeight(role)}, and its metrics reach back only ${formatDuration(Math.max(0, Math.round(stats.windowMs)))} ` +
        `before its weight reached 0 at ${clockTime(zeroAt)}: no full ${formatDuration(windowMs)} window to compare with`,
    };
  }
  const baseline: FrozenWindow = {
    role,
    slot: input.slot,
    zeroAt,
    windowMs,
    from: zeroAt - Math.round(stats.windowMs),
    to: zeroAt,
    takenAt: input.takenAt,
    requests: stats.requests,
    failures: stats.failures,
  };
  if (input.keepLatency) baseline.latency = { bounds: [...stats.latency.bounds], counts: [...stats.latency.counts] };
  return { baseline };
}

/** A frozen baseline as the judge reads a window. */
export function baselineStats(baseline: FrozenWindow): WindowStats {
  return {
    requests: baseline.requests,
    failures: baseline.failures,
    // Without buckets (an error-rate baseline) the latency comparison sees no observations: inconclusive, never a pass.
    latency: baseline.latency ?? { bounds: [1], counts: [0, 0] },
    windowMs: baseline.to - baseline.from,
  };
}

/** One line naming a frozen baseline, for the check's reason in the rollout history. */
export function describeBaseline(baseline: FrozenWindow): string {
  return (
    `${roleName(baseline.role)} is a frozen baseline: its last full ${formatDuration(baseline.windowMs)} window before its weight reached 0, ` +
    `${clockTime(baseline.from)}-${clockTime(baseline.to)} (${baseline.failures}/${baseline.requests} failed), taken at ${clockTime(baseline.takenAt)}`
  );
}

function roleName(role: Role): string {
  return role === 'canary' ? 'the canary' : 'stable';
}

function zeroWeight(role: Role): string {
  return role === 'canary' ? '0%' : '100%';
}

/** UTC time of day to the second: the history entries around it carry the date. */
export function clockTime(epochMs: number): string {
  return `${new Date(epochMs).toISOString().slice(11, 19)}Z`;
}

import type { Clock } from '../core/clock.js';
import type { HealthCheckConfig, OutlierDetectionConfig } from '../core/config-types.js';
import type { Target } from '../proxy/target.js';
import type { OutlierStatus } from './outlier-detector.js';
import type { TargetHealthRecord } from './target-health-record.js';
import { flagNames, targetState, type TargetHealthState } from './target-state.js';

/** One target in `GET /api/v1/services` → `health.<slot>.targets[]`. */
export interface TargetHealthView {
  url: string;
  weight: number;
  state: TargetHealthState;
  /** True while the target takes traffic (no flag set). */
  available: boolean;
  flags: string[];
  activeRequests: number;
  lastCheckAt: string | null;
  lastCheckStatus: number | null;
  lastCheckDurationMs: number | null;
  lastError: string | null;
  lastErrorAt: string | null;
  consecutiveCheckSuccesses: number;
  consecutiveCheckFailures: number;
  /** The passive streak: 5xx answers or connection failures in a row from real traffic. */
  consecutiveResponseFailures: number;
  checks: number;
  failedChecks: number;
  transitions: number;
  ejectedUntil: string | null;
  /** The weight pickers use now: below `weight` while slow start ramps the target up. */
  effectiveWeight: number;
  /** When the slow-start ramp ends; null when not warming. */
  warmingUntil: string | null;
  ejections: number;
  ejectionsRefused: number;
}

export interface SlotHealthView {
  available: number;
  total: number;
  targets: TargetHealthView[];
}

export interface ActiveCheckView {
  path: string;
  intervalMs: number;
  timeoutMs: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
  expectedStatus: string;
}

export interface ServiceHealthView {
  activeCheck: ActiveCheckView | null;
  outlierDetection: OutlierDetectionConfig | null;
  /** The slow-start window; null when off. */
  slowStartMs: number | null;
  blue: SlotHealthView;
  green: SlotHealthView;
}

export function activeCheckView(config: HealthCheckConfig | undefined): ActiveCheckView | null {
  if (!config) return null;
  const { min, max } = config.expectStatus;
  return {
    path: config.path,
    intervalMs: config.intervalMs,
    timeoutMs: config.timeoutMs,
    healthyThreshold: config.healthyThreshold,
    unhealthyThreshold: config.unhealthyThreshold,
    expectedStatus: min === max ? String(min) : `${min}-${max}`,
  };
}

export function targetHealthView(
  target: Target,
  record: TargetHealthRecord | undefined,
  outlier: OutlierStatus | null,
  warmingUntil: number | null,
  clock: Clock,
): TargetHealthView {
  const thresholds = record?.thresholds ?? null;
  return {
    url: target.url,
    weight: target.weight,
    state: targetState(target.flags),
    available: target.flags === 0,
    flags: flagNames(target.flags),
    activeRequests: target.counters.active,
    lastCheckAt: isoOrNull(record?.lastCheckAt ?? null),
    lastCheckStatus: record?.lastCheckStatus ?? null,
    lastCheckDurationMs: record?.lastCheckDurationMs ?? null,
    lastError: record?.lastError ?? null,
    lastErrorAt: isoOrNull(record?.lastErrorAt ?? null),
    consecutiveCheckSuccesses: thresholds?.consecutiveSuccesses ?? 0,
    consecutiveCheckFailures: thresholds?.consecutiveFailures ?? 0,
    consecutiveResponseFailures: target.consecutiveFailures,
    checks: record?.checks ?? 0,
    failedChecks: record?.failedChecks ?? 0,
    transitions: record?.transitions ?? 0,
    // The detector keeps monotonic time; people and other processes need a wall-clock instant.
    ejectedUntil: outlier?.ejectedUntil != null ? isoOrNull(clock.wallNow() + (outlier.ejectedUntil - clock.now())) : null,
    effectiveWeight: target.effectiveWeight,
    warmingUntil: warmingUntil !== null ? isoOrNull(clock.wallNow() + (warmingUntil - clock.now())) : null,
    ejections: outlier?.ejections ?? 0,
    ejectionsRefused: outlier?.ejectionsRefused ?? 0,
  };
}

function isoOrNull(epochMs: number | null): string | null {
  return epochMs === null ? null : new Date(epochMs).toISOString();
}

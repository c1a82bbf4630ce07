import type { Target } from '../proxy/target.js';
import type { ActiveChecker } from './active-checker.js';
import { HealthThresholds } from './health-thresholds.js';

/** Everything the health subsystem remembers about one target besides its flag bits. */
export interface TargetHealthRecord {
  readonly target: Target;
  /** Null when the service has no active checks. */
  thresholds: HealthThresholds | null;
  checker: ActiveChecker | null;
  checks: number;
  failedChecks: number;
  /** State changes so far (a flapping target shows here, not in the logs of every probe). */
  transitions: number;
  /** Wall-clock epoch ms of the last probe result. */
  lastCheckAt: number | null;
  lastCheckStatus: number | null;
  lastCheckDurationMs: number | null;
  /** The most recent failure seen (probe or ejection), kept after the target recovers. */
  lastError: string | null;
  lastErrorAt: number | null;
}

export function newTargetHealthRecord(target: Target, thresholds: HealthThresholds | null): TargetHealthRecord {
  return {
    target,
    thresholds,
    checker: null,
    checks: 0,
    failedChecks: 0,
    transitions: 0,
    lastCheckAt: null,
    lastCheckStatus: null,
    lastCheckDurationMs: null,
    lastError: null,
    lastErrorAt: null,
  };
}

/** The record of a target that replaces `previous` (same URL, new weight): history and streaks carry over. */
export function carriedTargetHealthRecord(target: Target, previous: TargetHealthRecord, thresholds: HealthThresholds | null): TargetHealthRecord {
  if (thresholds && previous.thresholds) {
    thresholds.state = previous.thresholds.state;
    thresholds.consecutiveSuccesses = previous.thresholds.consecutiveSuccesses;
    thresholds.consecutiveFailures = previous.thresholds.consecutiveFailures;
  }
  return { ...previous, target, thresholds, checker: null };
}

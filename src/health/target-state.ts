import { HealthFlag } from '../core/health-flags.js';

/** A target's health as people read it, derived from its flag bits. */
export type TargetHealthState = 'unknown' | 'healthy' | 'unhealthy' | 'ejected';

/**
 * One word for a bitmask that can hold several reasons: a failed active check outranks an
 * ejection (it lasts until the target recovers, an ejection ends by itself), and both outrank
 * "not checked yet".
 */
export function targetState(flags: number): TargetHealthState {
  if ((flags & HealthFlag.FAILED_ACTIVE_CHECK) !== 0) return 'unhealthy';
  if ((flags & HealthFlag.OUTLIER_EJECTED) !== 0) return 'ejected';
  if ((flags & HealthFlag.PENDING_FIRST_CHECK) !== 0) return 'unknown';
  return 'healthy';
}

const FLAG_NAMES: readonly [number, string][] = [
  [HealthFlag.PENDING_FIRST_CHECK, 'pending_first_check'],
  [HealthFlag.FAILED_ACTIVE_CHECK, 'failed_active_check'],
  [HealthFlag.OUTLIER_EJECTED, 'outlier_ejected'],
];

/** Every reason a target is out, for the admin view. */
export function flagNames(flags: number): string[] {
  return FLAG_NAMES.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => name);
}

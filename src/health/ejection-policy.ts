import type { OutlierDetectionConfig } from '../core/config-types.js';

/**
 * How many of a slot's `total` targets outlier detection may hold ejected at once.
 *
 * The percentage is rounded down, but at least one target may always be ejected while the
 * percentage is above 0 (Envoy's `always_eject_one_host`). Without that floor, Envoy's 10%
 * would never eject anything in a two-target slot, and the most common blue/green layout, one
 * target per slot, could never fail over: the point of a second slot is that a broken one can
 * be emptied. 0% turns ejection off.
 */
export function maxEjectable(total: number, maxEjectionPercent: number): number {
  if (total <= 0 || maxEjectionPercent <= 0) return 0;
  return Math.min(total, Math.max(1, Math.floor((total * maxEjectionPercent) / 100)));
}

/**
 * The ejection count that still weighs on a target when it is ejected again: it drops by one
 * for every full `ejectionTime` the target served since it came back, so a target that
 * misbehaved last week does not start at the longest ejection today.
 */
export function decayedEjections(previousEjections: number, servedSinceReturnMs: number, ejectionTimeMs: number): number {
  if (previousEjections <= 0) return 0;
  const forgiven = Math.floor(Math.max(0, servedSinceReturnMs) / ejectionTimeMs);
  return Math.max(0, previousEjections - forgiven);
}

/**
 * The length of the n-th ejection (n counted from 1): `ejectionTime × n`, capped at
 * `maxEjectionTime`. A cap set below `ejectionTime` never shortens an ejection below
 * `ejectionTime` itself.
 */
export function ejectionDurationMs(config: Pick<OutlierDetectionConfig, 'ejectionTimeMs' | 'maxEjectionTimeMs'>, n: number): number {
  const cap = Math.max(config.ejectionTimeMs, config.maxEjectionTimeMs);
  return Math.min(config.ejectionTimeMs * Math.max(1, n), cap);
}

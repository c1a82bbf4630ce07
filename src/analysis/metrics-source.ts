import type { Role, SlotName } from '../core/types.js';
import type { WindowStats } from './window-stats.js';

/**
 * Where alarms read traffic from: the builtin in-process windows, or Prometheus. Both answer
 * the same question so every builtin metric and the judge work with either provider.
 * Implementations throw MeasurementError when they cannot answer.
 */
export interface MetricsSource {
  /**
   * The window of `windowMs` ending now, or `endedAgoMs` ago (a role's last window before its
   * weight reached 0). `windowMs` of the answer is what the history really covers.
   */
  windowStats(service: string, slot: SlotName, role: Role, windowMs: number, endedAgoMs?: number): Promise<WindowStats>;

  /**
   * What each side counted from `since` (a mark this source returned before) to its newest data,
   * all over the same stretch of time, and the mark that ends it: the sequential judge adds up
   * such increments, so consecutive ones must never overlap. Without a usable mark (none yet, one
   * from another source or another process of this one), the last `firstWindowMs`.
   */
  increments(service: string, sides: readonly CountedSide[], since: CountsMark | null, firstWindowMs: number): Promise<Increments>;
}

export interface CountedSide {
  slot: SlotName;
  role: Role;
}

/** Where one increment ended, as the source that measured it knows the time. Plain data: it is persisted with the rollout. */
export interface CountsMark {
  /** Which counters the time refers to (a process's builtin windows, or a Prometheus server). */
  source: string;
  at: number;
}

export interface Increments {
  /** One per side, in the order asked. */
  stats: WindowStats[];
  mark: CountsMark;
}

/** What a PromQL instant query returned, reduced to the one number an alarm compares. */
export interface PromqlSource {
  /** Throws MeasurementError('no-data' | 'provider-error' | 'bad-query') when there is no usable number. */
  scalar(query: string): Promise<number>;
}

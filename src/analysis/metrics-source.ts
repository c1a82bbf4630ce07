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
}

/** What a PromQL instant query returned, reduced to the one number an alarm compares. */
export interface PromqlSource {
  /** Throws MeasurementError('no-data' | 'provider-error' | 'bad-query') when there is no usable number. */
  scalar(query: string): Promise<number>;
}

/**
 * A target's health is a bitmask, as in Envoy: it is unavailable when any flag is set. The data
 * plane only ever reads `flags === 0`; health modules set and clear their own bit.
 */
export const HealthFlag = {
  /** Active checks have not produced a first result yet (only when checks are configured). */
  PENDING_FIRST_CHECK: 1,
  /** Active checks failed `unhealthyThreshold` times in a row. */
  FAILED_ACTIVE_CHECK: 2,
  /** Ejected by outlier detection for a while. */
  OUTLIER_EJECTED: 4,
} as const;

export type HealthFlagBit = (typeof HealthFlag)[keyof typeof HealthFlag];

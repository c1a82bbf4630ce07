import { isActive, type RollbackCause, type RolloutRecord } from './rollout-record.js';

/** Finished rollouts kept per service (in the state file, so across restarts). */
export const MAX_PAST_ROLLOUTS = 50;

/** The deciding alarm's last measured value and its bound, when an alarm decided. */
export interface AlarmReading {
  alarm: string;
  value: number | null;
  threshold?: Record<string, number>;
}

/** One line of a service's rollout history: what happened, why, how long it took, and who was involved. */
export interface RolloutSummary {
  id: string;
  from: string;
  to: string;
  strategy: string;
  preset?: string;
  /** The rollout's state; for a finished one its outcome. */
  state: string;
  outcome: 'promoted' | 'rolled_back' | null;
  reason: string | null;
  cause?: RollbackCause;
  alarm?: AlarmReading;
  startedAt: string;
  endedAt: string | null;
  /** From start to end (or to now, for one still running), in ms. */
  durationMs: number;
  startedBy?: string;
  /** Everyone whose command shows in its history, in order of first appearance. */
  actors: string[];
}

export function summarizeRollout(record: RolloutRecord, nowMs: number): RolloutSummary {
  const finished = !isActive(record);
  const actors: string[] = [];
  for (const entry of record.history) if (entry.by !== undefined && !actors.includes(entry.by)) actors.push(entry.by);
  const reading = record.alarm !== undefined ? alarmReading(record, record.alarm) : undefined;
  const endMs = finished ? record.updatedAt : nowMs;
  return {
    id: record.id,
    from: record.from,
    to: record.to,
    strategy: record.plan.strategy,
    ...(record.plan.preset ? { preset: record.plan.preset } : {}),
    state: record.state,
    outcome: record.state === 'promoted' || record.state === 'rolled_back' ? record.state : null,
    reason: record.reason,
    ...(record.rollbackCause ? { cause: record.rollbackCause } : {}),
    ...(reading ? { alarm: reading } : {}),
    startedAt: new Date(record.startedAt).toISOString(),
    endedAt: finished ? new Date(record.updatedAt).toISOString() : null,
    durationMs: Math.max(0, endMs - record.startedAt),
    ...(record.startedBy !== undefined ? { startedBy: record.startedBy } : {}),
    actors,
  };
}

/** The newest check of `alarm` in the history: what it measured against what bound. */
export function alarmReading(record: RolloutRecord, alarm: string): AlarmReading {
  for (let i = record.history.length - 1; i >= 0; i--) {
    const detail = record.history[i]?.detail as { alarms?: unknown } | undefined;
    if (!detail || !Array.isArray(detail.alarms)) continue;
    for (const check of detail.alarms as { alarm?: unknown; value?: unknown; threshold?: unknown }[]) {
      if (check.alarm !== alarm) continue;
      return {
        alarm,
        value: typeof check.value === 'number' ? check.value : null,
        ...(check.threshold && typeof check.threshold === 'object' ? { threshold: check.threshold as Record<string, number> } : {}),
      };
    }
  }
  return { alarm, value: null };
}

/** The summaries kept once `record` is committed: a rollout that just finished joins the front, the oldest beyond the bound leave. */
export function pastAfter(past: readonly RolloutSummary[], previous: RolloutRecord | null, next: RolloutRecord): RolloutSummary[] {
  const justFinished = !isActive(next) && (previous === null || previous.id !== next.id || isActive(previous));
  if (!justFinished) return [...past];
  return [summarizeRollout(next, next.updatedAt), ...past.filter((p) => p.id !== next.id)].slice(0, MAX_PAST_ROLLOUTS);
}

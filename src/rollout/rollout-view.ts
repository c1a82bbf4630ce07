import type { RolloutRecord } from './rollout-record.js';

/** A rollout as the admin API and the CLI show it (docs/design.md's rollout object, plus a few helpful extras). */
export interface RolloutView {
  id: string;
  service: string;
  from: string;
  to: string;
  strategy: string;
  preset?: string;
  state: string;
  canaryWeight: number;
  /** 1-based current step; 0 while pending. */
  step: number;
  steps: number;
  /** Each step; `mirror` is the percent of stable's requests copied to the canary during it. */
  plan: { weight: number; hold: number | 'manual'; mirror?: number }[];
  bakeTimeMs: number;
  startedAt: string;
  /** Who started it (an admin token's name); absent for rollouts from before names were kept. */
  startedBy?: string;
  updatedAt: string;
  nextStepAt: string | null;
  awaiting: string | null;
  consecutiveFailures: number;
  consecutiveInconclusive: number;
  targets?: { url: string; weight: number }[];
  reason: string | null;
  /** The alarm that decided a rollback or pause, if one did. */
  alarm?: string;
  /** Set when the last change could not be saved (it was not applied either). */
  notDurable?: string;
  history: RolloutRecord['history'];
}

export function viewRollout(record: RolloutRecord, nextStepAt: number | null, notDurable: string | null): RolloutView {
  return {
    id: record.id,
    service: record.service,
    from: record.from,
    to: record.to,
    strategy: record.plan.strategy,
    ...(record.plan.preset ? { preset: record.plan.preset } : {}),
    state: record.state,
    canaryWeight: record.canaryWeight,
    step: record.stepIndex + 1,
    steps: record.plan.steps.length,
    plan: record.plan.steps,
    bakeTimeMs: record.plan.bakeTimeMs,
    startedAt: new Date(record.startedAt).toISOString(),
    ...(record.startedBy !== undefined ? { startedBy: record.startedBy } : {}),
    updatedAt: new Date(record.updatedAt).toISOString(),
    nextStepAt: nextStepAt === null ? null : new Date(nextStepAt).toISOString(),
    awaiting: record.awaiting ?? null,
    consecutiveFailures: record.consecutiveFailures,
    consecutiveInconclusive: record.consecutiveInconclusive,
    ...(record.targets ? { targets: record.targets } : {}),
    reason: record.reason,
    ...(record.alarm ? { alarm: record.alarm } : {}),
    ...(notDurable ? { notDurable } : {}),
    history: record.history,
  };
}

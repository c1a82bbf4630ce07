import type { SequentialState } from '../analysis/sequential-judge.js';
import { ConflictError } from '../core/errors.js';
import type { PlanStep } from '../strategies/step-plan.js';
import type { AwaitedHook, FrozenWindow, HistoryEntry, RollbackCause, RolloutRecord, RolloutState } from './rollout-record.js';

/** What can happen to a rollout: people's commands and the controller's own observations. */
export type RolloutEvent =
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'promote'; full?: boolean }
  | { type: 'abort'; detail?: string }
  | { type: 'hook-passed'; hook: AwaitedHook }
  | { type: 'hook-failed'; hook: AwaitedHook; detail: string }
  /** `detail`: an adaptive step that ends early, and why (the canary shown no worse). */
  | { type: 'hold-elapsed'; detail?: string }
  | { type: 'rollback'; cause: Exclude<RollbackCause, 'aborted' | 'hook'>; detail: string; alarm?: string }
  | { type: 'alarm-pause'; detail: string; alarm?: string }
  | { type: 'hold-unjudged'; detail: string }
  | {
      type: 'checked';
      consecutiveFailures: number;
      consecutiveInconclusive: number;
      detail: unknown;
      /** False when no alarm could judge anything at this weight (default true). */
      judged?: boolean;
      /** For an unjudged check: each alarm's reason. */
      summary?: string;
      /** Baselines the check froze, by alarm. */
      baselines?: Record<string, FrozenWindow>;
      /** The sequential judge's evidence after the check, by alarm. */
      sequential?: Record<string, SequentialState>;
    };

export type RolloutEventType = RolloutEvent['type'];

export interface MachineContext {
  /** Wall-clock epoch ms. */
  now: number;
  /** Whether the service has an afterAllowTraffic hook (run once the canary reaches 100%). */
  afterAllowTraffic: boolean;
  /** Who caused the event, for a person's command (an admin token's name); entries it makes carry it. */
  by?: string;
}

/**
 * Which events each state accepts. Everything else is refused with a 409 that says why; the
 * table is the whole machine, so tests can walk every from-state x event pair.
 */
export const TRANSITIONS: Readonly<Record<RolloutState, readonly RolloutEventType[]>> = {
  pending: ['abort', 'hook-passed', 'hook-failed', 'rollback'],
  progressing: ['pause', 'promote', 'abort', 'hook-passed', 'hook-failed', 'hold-elapsed', 'hold-unjudged', 'rollback', 'alarm-pause', 'checked'],
  paused: ['pause', 'resume', 'promote', 'abort', 'rollback', 'alarm-pause', 'checked'],
  baking: ['pause', 'promote', 'abort', 'hold-elapsed', 'hold-unjudged', 'rollback', 'alarm-pause', 'checked'],
  promoted: [],
  rolled_back: [],
};

const REFUSALS: Partial<Record<RolloutEventType, (record: RolloutRecord) => string>> = {
  pause: (r) => `cannot pause a ${r.state} rollout${r.state === 'pending' ? ' (its beforeAllowTraffic hook is running)' : ''}`,
  resume: (r) => `cannot resume a ${r.state} rollout: it is not paused`,
  promote: (r) =>
    r.state === 'pending' ? 'cannot promote a pending rollout: its beforeAllowTraffic hook is running (abort it or wait)' : `cannot promote a ${r.state} rollout`,
  abort: (r) => `cannot abort a ${r.state} rollout`,
};

export function isAllowed(state: RolloutState, type: RolloutEventType): boolean {
  return TRANSITIONS[state].includes(type);
}

/**
 * Applies one event to a rollout and returns the new record (the input is not changed).
 * Throws ConflictError when the state does not allow the event. Steps that hold for 0 ms are
 * passed through at once, each leaving its history entry.
 */
export function applyEvent(record: RolloutRecord, event: RolloutEvent, ctx: MachineContext): RolloutRecord {
  if (!isAllowed(record.state, event.type)) {
    const refusal = REFUSALS[event.type];
    throw new ConflictError(refusal ? refusal(record) : `a ${record.state} rollout does not accept ${event.type}`);
  }
  const next: RolloutRecord = { ...record, history: [...record.history], updatedAt: ctx.now };
  switch (event.type) {
    case 'pause':
      if (next.state === 'paused') return note(next, ctx, 'pause', 'already paused');
      if (next.awaiting) throw new ConflictError(`cannot pause while the ${next.awaiting} hook is running`);
      return pause(next, ctx, 'user', `paused by ${who(ctx)}`);
    case 'alarm-pause':
      // A hook being awaited decides what happens next; an alarm meanwhile is only recorded.
      if (next.state === 'paused' || next.awaiting) return note(next, ctx, 'alarm-pause', event.detail);
      if (event.alarm !== undefined) next.alarm = event.alarm;
      return pause(next, ctx, 'alarm', event.detail);
    case 'resume':
      return resume(next, ctx);
    case 'promote':
      return promote(next, ctx, event.full === true);
    case 'abort':
      return rollBack(next, ctx, 'aborted', event.detail ?? `aborted by ${who(ctx)}`);
    case 'rollback':
      if (event.alarm !== undefined) next.alarm = event.alarm;
      return rollBack(next, ctx, event.cause, event.detail);
    case 'hook-failed':
      return rollBack(next, ctx, 'hook', `${event.hook} hook failed: ${event.detail}`);
    case 'hook-passed':
      return hookPassed(next, event.hook, ctx);
    case 'hold-elapsed':
      if (next.awaiting) throw new ConflictError(`waiting for the ${next.awaiting} hook`);
      if (next.state === 'baking') return finish(next, ctx, 'bake time elapsed');
      if (event.detail !== undefined) record_(next, ctx, 'cleared', event.detail);
      return enterStep(next, next.stepIndex + 1, ctx);
    case 'hold-unjudged':
      // The hold is over: it needs a person, not a timer, so nothing of it is kept to resume.
      if (next.awaiting) throw new ConflictError(`waiting for the ${next.awaiting} hook`);
      next.pausedFrom = next.state === 'baking' ? 'baking' : 'progressing';
      next.state = 'paused';
      next.pauseKind = 'unjudged';
      next.pausedAt = ctx.now;
      delete next.holdRemainingMs;
      next.reason = event.detail;
      return record_(next, ctx, 'paused', event.detail);
    case 'checked': {
      next.consecutiveFailures = event.consecutiveFailures;
      next.consecutiveInconclusive = event.consecutiveInconclusive;
      const held = next.holdChecks ?? { judged: 0, unjudged: 0 };
      next.holdChecks =
        event.judged === false
          ? { judged: held.judged, unjudged: held.unjudged + 1, ...(event.summary !== undefined ? { lastUnjudged: event.summary } : {}) }
          : { ...held, judged: held.judged + 1 };
      if (event.baselines) next.baselines = { ...next.baselines, ...event.baselines };
      if (event.sequential) next.sequential = { ...next.sequential, ...event.sequential };
      trimAnalysisHistory(next);
      return record_(next, ctx, 'analysis', event.detail);
    }
  }
}

/** The hold of the current step or bake, in ms ('manual' for a manual step). */
export function currentHold(record: RolloutRecord): number | 'manual' {
  if (record.state === 'baking' || record.pausedFrom === 'baking') return record.plan.bakeTimeMs;
  const step = record.plan.steps[record.stepIndex];
  return step ? step.hold : 0;
}

/** Milliseconds left in the current hold at `now` (0 when due, null for a manual step or no hold). */
export function holdRemaining(record: RolloutRecord, now: number): number | null {
  if (record.state === 'paused') return record.pauseKind === 'manual-step' ? null : (record.holdRemainingMs ?? null);
  if (record.state !== 'progressing' && record.state !== 'baking') return null;
  if (record.awaiting) return null;
  const hold = currentHold(record);
  if (hold === 'manual') return null;
  return Math.max(0, hold - (now - record.holdStartedAt));
}

function pause(next: RolloutRecord, ctx: MachineContext, kind: 'user' | 'alarm', detail: string): RolloutRecord {
  const remaining = holdRemaining(next, ctx.now);
  next.pausedFrom = next.state === 'baking' ? 'baking' : 'progressing';
  next.state = 'paused';
  next.pauseKind = kind;
  next.pausedAt = ctx.now;
  if (remaining !== null) next.holdRemainingMs = remaining;
  next.reason = detail;
  return record_(next, ctx, 'paused', detail);
}

function resume(next: RolloutRecord, ctx: MachineContext): RolloutRecord {
  const wasManualStep = next.pauseKind === 'manual-step';
  const wasUnjudged = next.pauseKind === 'unjudged';
  next.pausedMs += next.pausedAt !== undefined ? Math.max(0, ctx.now - next.pausedAt) : 0;
  next.state = next.pausedFrom ?? 'progressing';
  const remaining = next.holdRemainingMs;
  delete next.pausedFrom;
  delete next.pauseKind;
  delete next.pausedAt;
  delete next.holdRemainingMs;
  next.reason = null;
  if (wasManualStep) {
    record_(next, ctx, 'resumed', 'manual step released');
    return enterStep(next, next.stepIndex + 1, ctx);
  }
  if (wasUnjudged) {
    record_(next, ctx, 'resumed', `released by ${who(ctx)} without a judged check`);
    return next.state === 'baking' ? finish(next, ctx, `bake time elapsed; released by ${who(ctx)}`) : enterStep(next, next.stepIndex + 1, ctx);
  }
  const hold = currentHold(next);
  // Restart the clock so exactly the remaining part of the interrupted hold is left.
  next.holdStartedAt = typeof hold === 'number' && remaining !== undefined ? ctx.now - (hold - remaining) : ctx.now;
  return record_(next, ctx, 'resumed', null);
}

/**
 * `promote` moves to the next safeguard, never past one unasked: with steps left it jumps to 100%
 * and the bake still watches the alarms at full traffic (a breach there still rolls back);
 * already at 100% (baking, or waiting for the afterAllowTraffic hook) it ends the bake. `full`
 * skips the bake in one go. The afterAllowTraffic hook is a gate, so it is never skipped.
 */
function promote(next: RolloutRecord, ctx: MachineContext, full: boolean): RolloutRecord {
  if (next.awaiting === 'afterAllowTraffic') {
    next.promoteRequested = true;
    if (ctx.by !== undefined) next.promotedBy = ctx.by;
    return record_(next, ctx, 'promote-requested', 'promotion follows the afterAllowTraffic hook, without the bake');
  }
  const atFull = next.state === 'baking' || next.pausedFrom === 'baking';
  if (next.state === 'paused') {
    next.pausedMs += next.pausedAt !== undefined ? Math.max(0, ctx.now - next.pausedAt) : 0;
    delete next.pausedFrom;
    delete next.pauseKind;
    delete next.pausedAt;
    delete next.holdRemainingMs;
  }
  let detail: string;
  const by = who(ctx);
  if (atFull) detail = `promoted by ${by}: bake ended early`;
  else if (full) detail = `promoted by ${by}: remaining steps and bake skipped`;
  else if (next.plan.bakeTimeMs === 0) detail = `promoted by ${by}: remaining steps skipped (no bake configured)`;
  else detail = `promoted by ${by}: remaining steps skipped; the bake still watches the alarms`;
  if (atFull || full || next.plan.bakeTimeMs === 0) next.promoteRequested = true;
  if (ctx.by !== undefined) next.promotedBy = ctx.by;
  next.stepIndex = next.plan.steps.length - 1;
  next.state = 'progressing';
  next.canaryWeight = 100;
  next.reason = null;
  record_(next, ctx, 'promote', detail);
  return reachFull(next, ctx);
}

function hookPassed(next: RolloutRecord, hook: AwaitedHook, ctx: MachineContext): RolloutRecord {
  if (next.awaiting !== hook) throw new ConflictError(`not waiting for the ${hook} hook`);
  delete next.awaiting;
  record_(next, ctx, 'hook-passed', hook);
  if (hook === 'beforeAllowTraffic') {
    next.state = 'progressing';
    return enterStep(next, 0, ctx);
  }
  next.afterAllowTrafficPassed = true;
  return afterFull(next, ctx);
}

/** Moves to step `index` (or past the last step), passing through zero-hold steps. */
function enterStep(next: RolloutRecord, index: number, ctx: MachineContext): RolloutRecord {
  const steps = next.plan.steps;
  if (next.state === 'pending') next.state = 'progressing';
  for (let i = index; i < steps.length; i++) {
    const step = steps[i] as PlanStep;
    next.stepIndex = i;
    next.canaryWeight = step.weight;
    next.holdStartedAt = ctx.now;
    next.reason = null;
    delete next.holdChecks;
    record_(next, ctx, 'step', { step: i + 1, of: steps.length, weight: step.weight, hold: step.hold, ...(step.minHold !== undefined ? { minHold: step.minHold } : {}) });
    if (step.hold === 'manual') {
      next.state = 'paused';
      next.pausedFrom = 'progressing';
      next.pauseKind = 'manual-step';
      next.pausedAt = ctx.now;
      next.reason = `waiting at ${step.weight}% for promote or resume`;
      return record_(next, ctx, 'paused', next.reason);
    }
    if (step.hold > 0) return next;
  }
  return reachFull(next, ctx);
}

/** The last step is done: verify with the afterAllowTraffic hook if there is one, then bake or finish. */
function reachFull(next: RolloutRecord, ctx: MachineContext): RolloutRecord {
  if (ctx.afterAllowTraffic && !next.afterAllowTrafficPassed) {
    next.awaiting = 'afterAllowTraffic';
    return record_(next, ctx, 'awaiting-hook', 'afterAllowTraffic');
  }
  return afterFull(next, ctx);
}

function afterFull(next: RolloutRecord, ctx: MachineContext): RolloutRecord {
  if (next.promoteRequested || next.plan.bakeTimeMs === 0) return finish(next, ctx, next.promoteRequested ? `promoted by ${next.promotedBy ?? 'a person'}` : 'all steps done');
  next.state = 'baking';
  next.holdStartedAt = ctx.now;
  delete next.holdChecks;
  return record_(next, ctx, 'baking', { bakeTimeMs: next.plan.bakeTimeMs });
}

/** Promoted: the new slot took all traffic and becomes live (the controller flips the routing). */
function finish(next: RolloutRecord, ctx: MachineContext, detail: string): RolloutRecord {
  next.state = 'promoted';
  next.canaryWeight = 100;
  next.reason = detail;
  clearTransient(next);
  return record_(next, ctx, 'promoted', detail);
}

function rollBack(next: RolloutRecord, ctx: MachineContext, cause: RollbackCause, detail: string): RolloutRecord {
  next.state = 'rolled_back';
  next.canaryWeight = 0;
  next.reason = detail;
  next.rollbackCause = cause;
  clearTransient(next);
  return record_(next, ctx, 'rolled_back', { cause, reason: detail });
}

function clearTransient(next: RolloutRecord): void {
  delete next.awaiting;
  delete next.pausedFrom;
  delete next.pauseKind;
  delete next.pausedAt;
  delete next.holdRemainingMs;
}

/** Analysis entries kept per rollout; transitions are always kept, so the history stays bounded but complete where it matters. */
export const MAX_ANALYSIS_ENTRIES = 500;

function trimAnalysisHistory(next: RolloutRecord): void {
  let analysis = 0;
  for (const entry of next.history) if (entry.event === 'analysis') analysis++;
  if (analysis < MAX_ANALYSIS_ENTRIES) return;
  const oldest = next.history.findIndex((entry) => entry.event === 'analysis');
  next.history.splice(oldest, 1);
}

/**
 * A person's command the state refused, kept in the history so racing commands can be told apart
 * afterwards. A repeat of the same refusal is not recorded again, so retries cannot grow the history.
 */
export function noteRefusal(record: RolloutRecord, command: string, reason: string, ctx: MachineContext): RolloutRecord | null {
  const last = record.history.at(-1);
  const detail = last?.detail as { command?: string } | undefined;
  if (last?.event === 'refused' && detail?.command === command) return null;
  return record_({ ...record, history: [...record.history] }, ctx, 'refused', { command, reason });
}

/**
 * Settings a config reload changed under a running rollout (its analysis applies from the next
 * check), kept in its history with what changed from what to what. The state does not change.
 */
export function noteSettingsChange(record: RolloutRecord, changes: readonly unknown[], ctx: MachineContext): RolloutRecord {
  return record_({ ...record, history: [...record.history], updatedAt: ctx.now }, ctx, 'analysis-changed', { changes });
}

function note(next: RolloutRecord, ctx: MachineContext, event: string, detail: unknown): RolloutRecord {
  return record_(next, ctx, event, detail);
}

/** Who a person's command names: the token's holder, or "a person" when the caller is not known. */
function who(ctx: MachineContext): string {
  return ctx.by ?? 'a person';
}

function record_(next: RolloutRecord, ctx: MachineContext, event: string, detail: unknown): RolloutRecord {
  const entry: HistoryEntry = { at: new Date(ctx.now).toISOString(), event, canaryWeight: next.canaryWeight };
  if (detail !== null && detail !== undefined) entry.detail = detail;
  if (ctx.by !== undefined) entry.by = ctx.by;
  next.history.push(entry);
  return next;
}

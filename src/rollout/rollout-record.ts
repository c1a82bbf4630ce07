import type { TargetConfig } from '../core/config-types.js';
import type { Role, SlotName } from '../core/types.js';
import type { SequentialState } from '../analysis/sequential-judge.js';
import type { StepPlan } from '../strategies/step-plan.js';

export type RolloutState = 'pending' | 'progressing' | 'paused' | 'baking' | 'promoted' | 'rolled_back';
export const ROLLOUT_STATES: readonly RolloutState[] = ['pending', 'progressing', 'paused', 'baking', 'promoted', 'rolled_back'];
export const ACTIVE_STATES: readonly RolloutState[] = ['pending', 'progressing', 'paused', 'baking'];

/** Why a rollout rolled back, as a bounded label for `shiftproxy_rollbacks_total{cause}`. */
export type RollbackCause = 'aborted' | 'alarm' | 'inconclusive' | 'unhealthy' | 'hook' | 'deadline';
export const ROLLBACK_CAUSES: readonly RollbackCause[] = ['aborted', 'alarm', 'inconclusive', 'unhealthy', 'hook', 'deadline'];

/** The webhook a rollout is waiting on, if any. */
export type AwaitedHook = 'beforeAllowTraffic' | 'afterAllowTraffic';

/**
 * A role's last full alarm window from before its weight reached 0, kept to compare against
 * while it takes no traffic (stable during the bake, the canary at 0%). Times are the
 * rollout's wall-clock epoch milliseconds.
 */
export interface FrozenWindow {
  role: Role;
  slot: SlotName;
  /** When the role's weight reached 0: the traffic this window closes. */
  zeroAt: number;
  /** The alarm's window, and the stretch the counts really cover (a sample's spacing more, at most). */
  windowMs: number;
  from: number;
  to: number;
  /** When the check that froze it ran. */
  takenAt: number;
  requests: number;
  failures: number;
  /** Kept only for latency alarms. */
  latency?: { bounds: number[]; counts: number[] };
}

/** Analysis checks during the current step or bake: a hold in which none could judge anything does not end by its timer. */
export interface HoldChecks {
  judged: number;
  unjudged: number;
  /** Why the last unjudged check could not judge (each alarm's reason). */
  lastUnjudged?: string;
}

export interface HistoryEntry {
  /** ISO timestamp. */
  at: string;
  event: string;
  canaryWeight: number;
  detail?: unknown;
  /** Who caused it, for a person's command: the admin token's name ("loopback" when none is configured). */
  by?: string;
}

/**
 * One rollout, as persisted and as the controller reasons about it. Times are wall-clock
 * epoch milliseconds because they must survive a restart; timers in a running process use the
 * monotonic clock and only read these when scheduling after a restart.
 */
export interface RolloutRecord {
  id: string;
  service: string;
  from: SlotName;
  to: SlotName;
  plan: StepPlan;
  state: RolloutState;
  canaryWeight: number;
  /** 0-based index of the current step in `plan.steps`; -1 while pending. */
  stepIndex: number;
  /** When the current step (or the bake) began its hold. */
  holdStartedAt: number;
  /** While paused: what was left of the interrupted hold, to resume with. */
  holdRemainingMs?: number;
  /** While paused: the state to return to on `resume`. */
  pausedFrom?: 'progressing' | 'baking';
  /**
   * While paused: whether a person paused it, an alarm did, a manual step is waiting, or a hold
   * ended with no alarm able to judge it (`unjudged`: resume or promote goes on, abort rolls back).
   */
  pauseKind?: 'user' | 'alarm' | 'manual-step' | 'unjudged';
  /** A webhook being awaited: the rollout does not move until it answers. */
  awaiting?: AwaitedHook;
  /** Set by `promote`: after the afterAllowTraffic hook, go straight to promoted (no bake). */
  promoteRequested?: boolean;
  /** Who asked for the promotion, named when it completes later. */
  promotedBy?: string;
  /** Who started the rollout. */
  startedBy?: string;
  afterAllowTrafficPassed?: boolean;
  /** Consecutive failed and inconclusive analysis checks (kept across restarts). */
  consecutiveFailures: number;
  consecutiveInconclusive: number;
  /** Frozen windows by alarm name, for `relativeTo` alarms while one role takes no traffic. */
  baselines?: Record<string, FrozenWindow>;
  /** The sequential judge's evidence so far, by alarm name: it covers the whole rollout, so it survives restarts. */
  sequential?: Record<string, SequentialState>;
  /** Checks of the current hold, by whether they could judge anything. */
  holdChecks?: HoldChecks;
  /** Targets the start request gave the new slot, if any. */
  targets?: TargetConfig[];
  startedAt: number;
  updatedAt: number;
  /** Time spent in `paused` so far, excluded from the progress deadline. */
  pausedMs: number;
  pausedAt?: number;
  reason: string | null;
  rollbackCause?: RollbackCause;
  /** The alarm whose checks rolled the rollout back (or paused it). */
  alarm?: string;
  history: HistoryEntry[];
}

export function isActive(record: RolloutRecord | null | undefined): boolean {
  return record !== null && record !== undefined && ACTIVE_STATES.includes(record.state);
}

/** The copies the current step asks for, while the rollout holds it; otherwise the service's own `mirror.percent` applies. */
export function stepMirrorOf(record: RolloutRecord | null): number | undefined {
  if (!record || (record.state !== 'progressing' && record.state !== 'paused')) return undefined;
  return record.plan.steps[record.stepIndex]?.mirror;
}

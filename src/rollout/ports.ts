import type { TargetConfig } from '../core/config-types.js';
import type { SlotName } from '../core/types.js';
import type { SequentialState } from '../analysis/sequential-judge.js';
import type { FrozenWindow, RolloutRecord } from './rollout-record.js';

/**
 * What the controller needs of the data plane: the routing it sets and the targets it swaps.
 * A change may take a while to reach every process that routes (workers acknowledge it): the
 * controller awaits it before it reports the change as applied.
 */
export interface RoutingPort {
  routing(service: string): { live: SlotName; canaryWeight: number; mirrorPercent?: number };
  /** `mirrorPercent`: the current step's copies, when it sets them; absent, the service's own `mirror.percent` applies. */
  setRouting(service: string, state: { live: SlotName; canaryWeight: number; mirrorPercent?: number }): void | Promise<void>;
  replaceTargets(service: string, slot: SlotName, targets: readonly TargetConfig[]): void | Promise<void>;
}

/** How the controller learns whether a slot can take traffic. */
export interface SlotHealthPort {
  /**
   * `available`: targets taking traffic now. `settled`: every target of the slot has a health
   * result (none is still waiting for its first check), so "0 available" is a verdict, not a
   * start-up state.
   */
  slotHealth(service: string, slot: SlotName): { available: number; total: number; settled: boolean };
}

/** One analysis check's verdict, as the controller acts on it. */
export interface AnalysisReport {
  /** `not-applicable`: no alarm could judge at this weight (each reads a role that takes no traffic); recorded, and it changes no count. */
  outcome: 'pass' | 'breach' | 'inconclusive' | 'not-applicable';
  /** For a breach: roll back, unless every breached alarm asked to pause. */
  breachAction: 'rollback' | 'pause';
  /** One line naming the deciding alarm(s) and values, used as the rollback or pause reason. */
  summary: string;
  /** The alarm that decided a breach (or the first inconclusive one). */
  alarm?: string;
  /** Every alarm's values, thresholds and verdict, kept in the rollout history. */
  detail: unknown;
  /** Baselines this check froze, by alarm: they outlive the traffic they came from, so the record keeps them. */
  baselines?: Record<string, FrozenWindow>;
  /** A breach from the sequential judge, which has accounted for every look already: it acts at once, without failureLimit. */
  decisive?: boolean;
  /** The canary was shown no worse than stable by every comparison the sequential judge made (an adaptive step may advance). */
  cleared?: boolean;
  /** The sequential judge's evidence after this check, by alarm: the record keeps it for the next one. */
  sequential?: Record<string, SequentialState>;
}

/** Evaluates a service's alarms for a rollout; implemented by the analysis module. */
export interface AnalysisPort {
  /** `now`: the rollout's wall-clock time, which its history's times are in. */
  evaluate(service: string, rollout: RolloutRecord, now: number): Promise<AnalysisReport>;
}

/**
 * Whether this instance may change rollout state. In a fleet (`state.store: etcd`) only the
 * elected leader does; the others follow the state it writes. A single proxy always leads.
 */
export interface LeadershipPort {
  isLeader(): boolean;
}

/** How a change reached the controller: a command relayed by another instance is consumed with the write it causes. */
export interface CommandOrigin {
  command?: string;
  /** Who asked (an admin token's name), recorded in the rollout's history. */
  by?: string;
}

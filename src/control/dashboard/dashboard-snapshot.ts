import type { AlarmConfig } from '../../core/config-types.js';
import type { SlotName } from '../../core/types.js';
import type { HistoryEntry } from '../../rollout/rollout-record.js';
import type { RolloutView } from '../../rollout/rollout-view.js';
import { TRANSITIONS } from '../../rollout/state-machine.js';
import type { ServiceView } from '../service-view.js';
import type { FleetView } from '../../fleet/etcd-fleet.js';
import type { ServiceTraffic } from './traffic-sampler.js';

export type DashboardCommand = 'start' | 'pause' | 'resume' | 'promote' | 'abort';

/** What the dashboard reads; the composition root supplies it from the data plane and controller. */
export interface DashboardSources {
  serviceNames(): string[];
  /** name, live, weights and health (its rollout field is ignored: `rollout` below is used). */
  describe(service: string): ServiceView;
  rollout(service: string): RolloutView | null;
  /** Time left in the current timed hold, on the controller's clock; null when nothing is timed. */
  nextStepInMs(service: string): number | null;
  /** The instances sharing this rollout state (`state.store: etcd`); absent for a single proxy. */
  fleet?(): FleetView;
  /** The service's alarms as configured now (for the bounds drawn on the charts). */
  alarms?(service: string): readonly AlarmConfig[];
  /** Each slot's recent rates, one point per sample, times in wall-clock ms (the builtin rings). */
  recentTraffic?(service: string, windowMs: number): RecentSeries | null;
}

export interface RecentSeries {
  at: number[];
  slots: Record<SlotName, { rps: (number | null)[]; errorRate: (number | null)[]; p99Ms: (number | null)[] }>;
}

/** Sent once to a page that connects, before its first snapshot: the charts open with the last minutes drawn. */
export interface DashboardHistory {
  services: ({ name: string } & RecentSeries)[];
}

export function buildHistory(sources: DashboardSources, windowMs: number): DashboardHistory {
  const services: DashboardHistory['services'] = [];
  for (const name of sources.serviceNames()) {
    const recent = sources.recentTraffic?.(name, windowMs);
    if (recent && recent.at.length > 0) services.push({ name, ...recent });
  }
  return { services };
}

/** A bound an alarm puts on a metric the page charts per slot, in the chart's own unit. */
export interface ChartThreshold {
  chart: 'rps' | 'errorRate' | 'p99Ms';
  alarm: string;
  role: 'canary' | 'stable';
  bound: 'max' | 'min';
  value: number;
}

export interface DashboardRollout extends RolloutView {
  /** How many entries the full history has; `history` holds only the recent ones. */
  historyTotal: number;
}

/** The part of a service that a rollout transition changes; sent alone as a `rollout` event. */
export interface DashboardRolloutUpdate {
  service: string;
  live: SlotName;
  weights: Record<SlotName, number>;
  rollout: DashboardRollout | null;
  nextStepInMs: number | null;
  /** Commands the rollout's state accepts now (`start` when none is active). */
  commands: DashboardCommand[];
}

export interface DashboardService extends Omit<DashboardRolloutUpdate, 'service'> {
  name: string;
  health: unknown;
  traffic: ServiceTraffic & { windowMs: number };
  thresholds: ChartThreshold[];
}

export interface DashboardSnapshot {
  at: string;
  services: DashboardService[];
  fleet?: FleetView;
}

/** Recent history kept in every frame: analysis checks come every few seconds and would crowd out the decisions. */
export const RECENT_ANALYSIS_ENTRIES = 20;
export const RECENT_OTHER_ENTRIES = 40;

export function rolloutUpdate(sources: DashboardSources, service: string): DashboardRolloutUpdate {
  return updateOf(sources, service, sources.describe(service));
}

export function buildSnapshot(
  sources: DashboardSources,
  traffic: (service: string) => ServiceTraffic,
  windowMs: number,
  wallNow: number,
): DashboardSnapshot {
  return {
    at: new Date(wallNow).toISOString(),
    services: sources.serviceNames().map((name) => {
      const view = sources.describe(name);
      const { service: _service, ...update } = updateOf(sources, name, view);
      return { name, ...update, health: view.health, traffic: { windowMs, ...traffic(name) }, thresholds: chartThresholds(sources.alarms?.(name) ?? []) };
    }),
    ...(sources.fleet ? { fleet: sources.fleet() } : {}),
  };
}

function updateOf(sources: DashboardSources, service: string, view: ServiceView): DashboardRolloutUpdate {
  const rollout = sources.rollout(service);
  return {
    service,
    live: view.live,
    weights: view.weights,
    rollout: rollout ? { ...rollout, history: recentHistory(rollout.history), historyTotal: rollout.history.length } : null,
    nextStepInMs: rollout ? sources.nextStepInMs(service) : null,
    commands: commandsFor(rollout?.state ?? null),
  };
}

/** Builtin alarms with a fixed bound on what the page charts: error rate (percent), p99 (ms), request rate. Comparisons with stable and PromQL have no line to draw. */
export function chartThresholds(alarms: readonly AlarmConfig[]): ChartThreshold[] {
  const out: ChartThreshold[] = [];
  for (const alarm of alarms) {
    if (alarm.relativeTo !== undefined || alarm.metric === undefined) continue;
    const chart = alarm.metric === 'error_rate' ? 'errorRate' : alarm.metric === 'latency_p99' ? 'p99Ms' : alarm.metric === 'request_rate' ? 'rps' : null;
    if (chart === null) continue;
    const scale = chart === 'errorRate' ? 100 : chart === 'p99Ms' ? 1000 : 1;
    for (const bound of ['max', 'min'] as const) {
      const value = alarm[bound];
      if (value !== undefined) out.push({ chart, alarm: alarm.name, role: alarm.role, bound, value: value * scale });
    }
  }
  return out;
}

/** The newest analysis checks and the newest other entries, in their original order. */
export function recentHistory(history: readonly HistoryEntry[]): HistoryEntry[] {
  const picked: HistoryEntry[] = [];
  let analysis = 0;
  let other = 0;
  for (let i = history.length - 1; i >= 0 && (analysis < RECENT_ANALYSIS_ENTRIES || other < RECENT_OTHER_ENTRIES); i--) {
    const entry = history[i] as HistoryEntry;
    if (entry.event === 'analysis' ? analysis++ < RECENT_ANALYSIS_ENTRIES : other++ < RECENT_OTHER_ENTRIES) picked.push(entry);
  }
  return picked.reverse();
}

const STEERING: readonly DashboardCommand[] = ['pause', 'resume', 'promote', 'abort'];

/** From the state machine's own table, so the page never offers a button the API would refuse. */
export function commandsFor(state: string | null): DashboardCommand[] {
  const accepted = state !== null && state in TRANSITIONS ? TRANSITIONS[state as keyof typeof TRANSITIONS] : null;
  if (!accepted || accepted.length === 0) return ['start'];
  // Pausing a paused rollout is an idempotent no-op in the API; a button for it would only confuse.
  return STEERING.filter((command) => (accepted as readonly string[]).includes(command) && !(command === 'pause' && state === 'paused'));
}

import { MIRROR_METRICS, type AlarmConfig, type AlarmMetric, type AnalysisConfig, type ShiftproxyConfig } from '../core/config-types.js';
import { errorMessage } from '../core/errors.js';
import { formatDuration } from '../core/duration.js';
import type { Role } from '../core/types.js';
import type { AnalysisPort, AnalysisReport } from '../rollout/ports.js';
import { stepMirrorOf, type FrozenWindow, type RolloutRecord } from '../rollout/rollout-record.js';
import { baselineStats, describeBaseline, freezeWindow, planSide } from './frozen-baseline.js';
import { quantileOf } from './latency-quantile.js';
import type { MetricsSource, PromqlSource } from './metrics-source.js';
import { compareSides, type ComparedSide } from './relative-comparison.js';
import { roleTraffic, type RoleTraffic } from './role-traffic.js';
import type { MirrorWindowStats } from './mirror-window.js';
import { judgeSequentially, type SequentialLevels, type SequentialState } from './sequential-judge.js';
import { MeasurementError, type WindowStats } from './window-stats.js';
import type { StepPlan } from '../strategies/step-plan.js';

/** Where mirror alarms read the copies' results (the builtin windows, whatever the traffic provider). */
export interface MirrorStatsSource {
  mirrorStats(service: string, windowMs: number): Promise<MirrorWindowStats>;
}

/**
 * `not-applicable`: the alarm reads a role that takes no traffic at this weight (and, for a
 * comparison, has no frozen baseline). It neither passes, fails nor counts toward inconclusiveLimit.
 */
export type AlarmVerdict = 'pass' | 'breach' | 'inconclusive' | 'not-applicable';

/** One alarm's check: what was measured, against what, and the verdict — kept in the rollout history. */
export interface AlarmCheck {
  alarm: string;
  verdict: AlarmVerdict;
  /** The compared value (a ratio canary/stable for relativeTo alarms); null when not measured. */
  value: number | null;
  /** `alpha` (sequential judge): the share of falseRollbackRate this comparison may spend in the current phase. */
  threshold: { max?: number; min?: number } | { maxRatio: number; confidence: number } | { maxRatio: number; alpha: number };
  /** Judged by the sequential judge: a breach is final, and `cleared` says the canary was shown no worse. */
  sequential?: { cleared: boolean };
  requests?: number;
  stableRequests?: number;
  windowMs?: number;
  /** Why: the comparison, or what was missing. */
  reason: string;
  /** A mirror alarm's copies: results in the window and which fields differed (the most frequent kinds). */
  mirror?: { match: number; mismatch: number; error: number; dropped: number; kinds: [string, number][] };
  /** The frozen window a comparison used for the role that takes no traffic (times ISO). */
  baseline?: { role: Role; slot: string; from: string; to: string; takenAt: string; requests: number; failures: number };
}

/** The statistical comparison of canary and stable (see judge.ts). */
export interface JudgePort {
  errorRate(canary: WindowStats, stable: WindowStats, options: { maxRatio: number; confidence: number; minRequests: number }): JudgeOutcome;
  latency(canary: WindowStats, stable: WindowStats, options: { quantile: number; maxRatio: number; confidence: number; minRequests: number }): JudgeOutcome;
}

export interface JudgeOutcome {
  verdict: AlarmVerdict;
  explanation: string;
  ratio: number;
  canaryRequests: number;
  stableRequests: number;
}

/** The quantile each latency metric reads. */
export const METRIC_QUANTILES: Partial<Record<AlarmMetric, number>> = { latency_p50: 0.5, latency_p90: 0.9, latency_p99: 0.99 };

/**
 * Evaluates a service's alarms once, all alarms concurrently. An alarm that cannot be measured
 * (no data, too few requests, the provider down) is inconclusive, never a pass. An alarm on a
 * role that takes no traffic at the current weight is not applicable, except that a comparison
 * with stable uses the idle role's frozen baseline (its last full window before its weight
 * reached 0), frozen by the first check that needs it and kept in the rollout record. The
 * report's outcome is a breach if any alarm breached, else inconclusive if any was, else a pass
 * if any passed, else not applicable.
 */
export class AlarmEvaluator implements AnalysisPort {
  private analysisByService: ReadonlyMap<string, AnalysisConfig>;
  private source: MetricsSource;
  private promql: PromqlSource | undefined;
  private mirrorPercents: ReadonlyMap<string, number>;
  private readonly mirror: MirrorStatsSource | undefined;
  private readonly judge: JudgePort;
  /** Last measured value per service and alarm, for shiftproxy_alarm_value. */
  readonly lastValues = new Map<string, Map<string, number>>();
  /**
   * Each alarm's last checked value, whatever it was: Infinity for a ratio whose stable side had
   * no failures (lastValues keeps finite numbers only, for metrics), null when it could not be measured.
   */
  readonly lastChecked = new Map<string, Map<string, number | null>>();

  constructor(options: { config: ShiftproxyConfig; source: MetricsSource; promql?: PromqlSource; mirror?: MirrorStatsSource; judge: JudgePort }) {
    this.analysisByService = new Map(options.config.services.map((s) => [s.name, s.rollout.analysis]));
    this.mirrorPercents = mirrorPercentsOf(options.config);
    this.mirror = options.mirror;
    this.source = options.source;
    this.promql = options.promql;
    this.judge = options.judge;
  }

  /** A reloaded config: its alarms and sources apply from the next evaluation (one in flight finishes with the old ones). */
  reconfigure(options: { config: ShiftproxyConfig; source: MetricsSource; promql?: PromqlSource }): void {
    this.analysisByService = new Map(options.config.services.map((s) => [s.name, s.rollout.analysis]));
    this.mirrorPercents = mirrorPercentsOf(options.config);
    this.source = options.source;
    this.promql = options.promql;
    // Gauges of alarms that are gone would otherwise report their last value forever.
    for (const [service, values] of this.lastValues) {
      const names = new Set((this.analysisByService.get(service)?.alarms ?? []).map((a) => a.name));
      for (const name of values.keys()) if (!names.has(name)) values.delete(name);
    }
  }

  /** `now`: the rollout's wall-clock time (the controller's), which its history's times are in. */
  async evaluate(service: string, rollout: RolloutRecord, now: number = Date.now()): Promise<AnalysisReport> {
    const analysis = this.analysisByService.get(service);
    const alarms = analysis?.alarms ?? [];
    const at: CheckContext = {
      service,
      rollout,
      now,
      traffic: { canary: roleTraffic(rollout.history, 'canary'), stable: roleTraffic(rollout.history, 'stable') },
      frozen: {},
      sequential: {},
      judge: analysis?.judge ?? 'fixed',
      levels: analysis?.judge === 'sequential' ? sequentialLevels(analysis, rollout.plan) : { live: 0, frozen: 0 },
      intervalMs: analysis?.intervalMs ?? 10_000,
    };
    const checks = await Promise.all(alarms.map((alarm) => this.check(alarm, at)));
    const values = this.lastValues.get(service) ?? new Map<string, number>();
    this.lastValues.set(service, values);
    for (const check of checks) if (check.value !== null && Number.isFinite(check.value)) values.set(check.alarm, check.value);
    const checked = this.lastChecked.get(service) ?? new Map<string, number | null>();
    this.lastChecked.set(service, checked);
    for (const check of checks) checked.set(check.alarm, check.value);
    const report = summarise(checks, alarms);
    if (Object.keys(at.frozen).length > 0) report.baselines = at.frozen;
    if (Object.keys(at.sequential).length > 0) report.sequential = at.sequential;
    return report;
  }

  private async check(alarm: AlarmConfig, at: CheckContext): Promise<AlarmCheck> {
    try {
      if (alarm.promql !== undefined) return await this.checkPromql(alarm);
      if (MIRROR_METRICS.includes(alarm.metric as AlarmMetric)) return await this.checkMirror(alarm, at);
      if (alarm.relativeTo === 'stable') return at.judge === 'sequential' ? await this.checkSequential(alarm, at) : await this.checkRelative(alarm, at);
      return await this.checkAbsolute(alarm, at);
    } catch (err) {
      const why = err instanceof MeasurementError ? err.message : `evaluation failed: ${errorMessage(err)}`;
      return { alarm: alarm.name, verdict: 'inconclusive', value: null, threshold: thresholdOf(alarm), reason: why };
    }
  }

  private async checkPromql(alarm: AlarmConfig): Promise<AlarmCheck> {
    if (!this.promql) throw new MeasurementError('provider-error', 'no Prometheus is configured (metrics.prometheus.url)');
    let value: number;
    try {
      value = await this.promql.scalar(alarm.promql as string);
    } catch (err) {
      // The alarm said an absent series means none happened; config validation refused
      // onEmpty: zero wherever emptiness could also mean no traffic (a ratio's divisor).
      if (alarm.onEmpty === 'zero' && err instanceof MeasurementError && err.emptyAnswer) return compare(alarm, 0, 'promql = 0 (no series, read as 0: onEmpty: zero)');
      throw err;
    }
    return compare(alarm, value, `promql = ${format(value)}`);
  }

  /**
   * The share of compared copies that differed (or failed): applicable where copies are made,
   * that is a step that mirrors (or the service's own percent) while stable takes requests.
   */
  private async checkMirror(alarm: AlarmConfig, at: CheckContext): Promise<AlarmCheck> {
    const threshold = thresholdOf(alarm);
    const percent = stepMirrorOf(at.rollout) ?? this.mirrorPercents.get(at.service) ?? 0;
    if (percent <= 0) return { alarm: alarm.name, verdict: 'not-applicable', value: null, threshold, reason: 'not applicable: nothing is mirrored at this step' };
    if (at.traffic.stable.kind !== 'taking') return { alarm: alarm.name, verdict: 'not-applicable', value: null, threshold, reason: 'not applicable: stable takes no traffic at 100%, so nothing is copied' };
    if (!this.mirror) throw new MeasurementError('provider-error', 'mirror results are not available here');
    const stats = await this.mirror.mirrorStats(at.service, alarm.windowMs);
    const mirror = { match: stats.match, mismatch: stats.mismatch, error: stats.error, dropped: stats.dropped, kinds: stats.kinds.slice(0, 5) };
    const dropped = stats.dropped > 0 ? `, ${stats.dropped} dropped` : '';
    const seen = `${stats.compared} copies compared in ${formatDuration(stats.windowMs)}${dropped}`;
    if (stats.compared < alarm.minRequests) {
      return { alarm: alarm.name, verdict: 'inconclusive', value: null, threshold, requests: stats.compared, windowMs: stats.windowMs, mirror, reason: `only ${seen} (needs ${alarm.minRequests})` };
    }
    const value = (alarm.metric === 'mirror_mismatch_rate' ? stats.mismatch : stats.error) / stats.compared;
    const differed = mirror.kinds.length > 0 ? `; ${mirror.kinds.map(([kind, count]) => `${kind} x${count}`).join(', ')}` : '';
    return { ...compare(alarm, value, `${alarm.metric} = ${format(value)} (${seen}${differed})`), requests: stats.compared, windowMs: stats.windowMs, mirror };
  }

  private async checkAbsolute(alarm: AlarmConfig, at: CheckContext): Promise<AlarmCheck> {
    const { service, rollout } = at;
    const idle = at.traffic[alarm.role];
    if (idle.kind !== 'taking') {
      const who = alarm.role === 'canary' ? 'the canary takes no traffic at 0%' : 'stable takes no traffic at 100%';
      return { alarm: alarm.name, verdict: 'not-applicable', value: null, threshold: thresholdOf(alarm), reason: `not applicable: ${who}` };
    }
    const slot = alarm.role === 'canary' ? rollout.to : rollout.from;
    const stats = await this.source.windowStats(service, slot, alarm.role, alarm.windowMs);
    const metric = alarm.metric as AlarmMetric;
    const seen = `${alarm.role}, ${stats.requests} requests in ${formatDuration(stats.windowMs)}`;
    if (metric !== 'request_rate' && stats.requests < alarm.minRequests) {
      return {
        alarm: alarm.name,
        verdict: 'inconclusive',
        value: null,
        threshold: thresholdOf(alarm),
        requests: stats.requests,
        windowMs: stats.windowMs,
        reason: `only ${stats.requests} ${alarm.role} requests in ${formatDuration(stats.windowMs)} (needs ${alarm.minRequests})`,
      };
    }
    const value = measure(metric, stats);
    if (!Number.isFinite(value)) {
      return { alarm: alarm.name, verdict: 'inconclusive', value: null, threshold: thresholdOf(alarm), requests: stats.requests, windowMs: stats.windowMs, reason: `no ${metric} data (${seen})` };
    }
    return { ...compare(alarm, value, `${metric} = ${format(value)} (${seen})`), requests: stats.requests, windowMs: stats.windowMs };
  }

  private async checkRelative(alarm: AlarmConfig, at: CheckContext): Promise<AlarmCheck> {
    const [canary, stable] = await Promise.all([this.side(alarm, 'canary', at), this.side(alarm, 'stable', at)]);
    const options = { maxRatio: alarm.maxRatio as number, confidence: alarm.confidence, minRequests: alarm.minRequests };
    const quantile = METRIC_QUANTILES[alarm.metric as AlarmMetric];
    const comparison = compareSides(canary, stable, (c, s) =>
      quantile === undefined ? this.judge.errorRate(c, s, options) : this.judge.latency(c, s, { ...options, quantile }),
    );
    const threshold = { maxRatio: options.maxRatio, confidence: options.confidence };
    const outcome = comparison.outcome;
    if (!outcome) return { alarm: alarm.name, verdict: comparison.verdict, value: null, threshold, reason: comparison.reason };
    const windows = [canary, stable].map((side) => (side.kind === 'live' ? side.stats.windowMs : side.kind === 'frozen' ? side.baseline.to - side.baseline.from : 0));
    const check: AlarmCheck = {
      alarm: alarm.name,
      verdict: comparison.verdict,
      value: Number.isFinite(outcome.ratio) ? outcome.ratio : null,
      threshold,
      requests: outcome.canaryRequests,
      stableRequests: outcome.stableRequests,
      windowMs: Math.min(...windows),
      reason: comparison.reason,
    };
    const b = comparison.baseline;
    if (b) {
      const iso = (ms: number) => new Date(ms).toISOString();
      check.baseline = { role: b.role, slot: b.slot, from: iso(b.from), to: iso(b.to), takenAt: iso(b.takenAt), requests: b.requests, failures: b.failures };
    }
    return check;
  }

  /**
   * A comparison with stable by the sequential judge: the traffic since the last check (the
   * mark kept with the rollout) is added to everything learnt so far in this rollout. While
   * stable takes no traffic it is its frozen baseline; while the canary takes none there is
   * nothing new to judge, and the evidence gathered so far stands.
   */
  private async checkSequential(alarm: AlarmConfig, at: CheckContext): Promise<AlarmCheck> {
    const maxRatio = alarm.maxRatio as number;
    const quantile = METRIC_QUANTILES[alarm.metric as AlarmMetric];
    const metric = quantile === undefined ? 'error_rate' : 'latency';
    const previous = at.rollout.sequential?.[alarm.name];
    const canary = at.traffic.canary;
    // Stable taking traffic is counted below with the canary; only a frozen or missing stable needs its side worked out.
    const stable: { kind: 'live' } | Exclude<ComparedSide, { kind: 'live' }> = at.traffic.stable.kind === 'taking' ? { kind: 'live' } : await this.frozenSide(alarm, at);
    const phaseLevel = stable.kind === 'live' ? at.levels.live : at.levels.frozen;
    const threshold = { maxRatio, alpha: phaseLevel };
    if (canary.kind !== 'taking') {
      const why =
        canary.kind === 'never'
          ? 'the canary takes no traffic at 0% and has taken none in this rollout'
          : 'the canary takes no traffic at 0%: nothing new to judge, and the evidence gathered so far stands';
      return { alarm: alarm.name, verdict: 'not-applicable', value: null, threshold, reason: `not applicable: ${why}` };
    }
    if (stable.kind === 'not-applicable') return { alarm: alarm.name, verdict: 'not-applicable', value: null, threshold, reason: `not applicable: ${stable.reason}` };
    const to = at.rollout.to;
    const from = at.rollout.from;
    const firstWindowMs = Math.max(0, Math.min(at.now - canary.since, at.intervalMs));
    const sides = stable.kind === 'live' ? [{ slot: to, role: 'canary' as const }, { slot: from, role: 'stable' as const }] : [{ slot: to, role: 'canary' as const }];
    const counted = await this.source.increments(at.service, sides, previous?.mark ?? null, firstWindowMs);
    const recent = stable.kind === 'live' && metric === 'latency' ? await this.source.windowStats(at.service, from, 'stable', alarm.windowMs) : undefined;
    const outcome = judgeSequentially({
      metric,
      maxRatio,
      ...(quantile !== undefined ? { quantile } : {}),
      levels: at.levels,
      state: previous,
      canary: counted.stats[0] as WindowStats,
      stable:
        stable.kind === 'live'
          ? { kind: 'live', increment: counted.stats[1] as WindowStats, ...(recent ? { recent } : {}) }
          : { kind: 'frozen', zeroAt: stable.baseline.zeroAt, window: baselineStats(stable.baseline) },
      mark: counted.mark,
    });
    at.sequential[alarm.name] = outcome.state;
    const check: AlarmCheck = {
      alarm: alarm.name,
      verdict: outcome.verdict,
      value: Number.isFinite(outcome.ratio) ? outcome.ratio : null,
      threshold,
      requests: outcome.canaryRequests,
      stableRequests: outcome.stableRequests,
      reason: stable.kind === 'frozen' ? `${outcome.explanation} (${describeBaseline(stable.baseline)})` : outcome.explanation,
      sequential: { cleared: outcome.cleared },
    };
    if (stable.kind === 'frozen') {
      const b = stable.baseline;
      const iso = (ms: number) => new Date(ms).toISOString();
      check.baseline = { role: b.role, slot: b.slot, from: iso(b.from), to: iso(b.to), takenAt: iso(b.takenAt), requests: b.requests, failures: b.failures };
    }
    return check;
  }

  private async frozenSide(alarm: AlarmConfig, at: CheckContext): Promise<Exclude<ComparedSide, { kind: 'live' }>> {
    const side = await this.side(alarm, 'stable', at);
    if (side.kind === 'live') throw new Error('stable takes traffic: not a frozen side');
    return side;
  }

  /** One side of a comparison: measured now, frozen earlier, frozen now, or not applicable. */
  private async side(alarm: AlarmConfig, role: Role, at: CheckContext): Promise<ComparedSide> {
    const slot = role === 'canary' ? at.rollout.to : at.rollout.from;
    const plan = planSide(role, at.traffic[role], at.rollout.baselines?.[alarm.name], alarm.windowMs, at.now);
    switch (plan.kind) {
      case 'live':
        return { kind: 'live', stats: await this.source.windowStats(at.service, slot, role, alarm.windowMs) };
      case 'frozen':
        return { kind: 'frozen', baseline: plan.baseline };
      case 'not-applicable':
        return plan;
      case 'freeze': {
        const stats = await this.source.windowStats(at.service, slot, role, alarm.windowMs, plan.endedAgoMs);
        const keepLatency = METRIC_QUANTILES[alarm.metric as AlarmMetric] !== undefined;
        const frozen = freezeWindow({ role, slot, zeroAt: plan.zeroAt, windowMs: alarm.windowMs, takenAt: at.now, keepLatency }, stats);
        if ('notApplicable' in frozen) return { kind: 'not-applicable', reason: frozen.notApplicable };
        at.frozen[alarm.name] = frozen.baseline;
        return { kind: 'frozen', baseline: frozen.baseline };
      }
    }
  }
}

/** What every alarm of one evaluation shares: the rollout, its time, each role's traffic, the baselines frozen so far. */
interface CheckContext {
  service: string;
  rollout: RolloutRecord;
  now: number;
  traffic: Record<Role, RoleTraffic>;
  frozen: Record<string, FrozenWindow>;
  /** The sequential judge's state after this check, by alarm. */
  sequential: Record<string, SequentialState>;
  judge: AnalysisConfig['judge'];
  levels: SequentialLevels;
  intervalMs: number;
}

/**
 * How the sequential judge shares `falseRollbackRate` (alpha per rollout): equally among the
 * comparisons with stable (one rolling back is a rollback), and, where the schedule holds a
 * weight of 100% (the bake), half of each share for the time stable is frozen. By the union
 * bound, the chance that any of them ever rolls back a healthy canary is at most alpha.
 */
export function sequentialLevels(analysis: Pick<AnalysisConfig, 'alarms' | 'falseRollbackRate'> | undefined, plan: StepPlan): SequentialLevels {
  const comparisons = analysis?.alarms.filter((a) => a.relativeTo === 'stable' && a.promql === undefined).length ?? 0;
  if (!analysis || comparisons === 0) return { live: 0, frozen: 0 };
  const share = analysis.falseRollbackRate / comparisons;
  return stableFreezes(plan) ? { live: share / 2, frozen: share / 2 } : { live: share, frozen: 0 };
}

/** Whether a schedule holds a weight of 100% for a while, where stable takes no traffic and comparisons use its frozen baseline. */
export function stableFreezes(plan: StepPlan): boolean {
  return plan.bakeTimeMs > 0 || plan.steps.some((s) => s.weight === 100 && s.hold !== 0);
}

function mirrorPercentsOf(config: ShiftproxyConfig): Map<string, number> {
  return new Map(config.services.map((s) => [s.name, s.mirror?.percent ?? 0]));
}

function measure(metric: AlarmMetric, stats: WindowStats): number {
  switch (metric) {
    case 'error_rate':
      return stats.requests === 0 ? Number.NaN : stats.failures / stats.requests;
    case 'request_rate':
      return stats.windowMs <= 0 ? Number.NaN : stats.requests / (stats.windowMs / 1000);
    default:
      return quantileOf(stats.latency, METRIC_QUANTILES[metric] as number);
  }
}

/** Value against max/min. NaN never reaches here: `NaN > max` is false and would pass silently. */
function compare(alarm: AlarmConfig, value: number, measured: string): AlarmCheck {
  const threshold = thresholdOf(alarm);
  if (!Number.isFinite(value)) return { alarm: alarm.name, verdict: 'inconclusive', value: null, threshold, reason: `not a finite number: ${measured}` };
  if (alarm.max !== undefined && value > alarm.max) return { alarm: alarm.name, verdict: 'breach', value, threshold, reason: `${measured} > max ${alarm.max}` };
  if (alarm.min !== undefined && value < alarm.min) return { alarm: alarm.name, verdict: 'breach', value, threshold, reason: `${measured} < min ${alarm.min}` };
  const bounds = [alarm.min !== undefined ? `>= min ${alarm.min}` : '', alarm.max !== undefined ? `<= max ${alarm.max}` : ''].filter(Boolean).join(' and ');
  return { alarm: alarm.name, verdict: 'pass', value, threshold, reason: `${measured} ${bounds}` };
}

function summarise(checks: AlarmCheck[], alarms: readonly AlarmConfig[]): AnalysisReport {
  const breached = checks.filter((c) => c.verdict === 'breach');
  const inconclusive = checks.filter((c) => c.verdict === 'inconclusive');
  const judged = checks.filter((c) => c.verdict !== 'not-applicable');
  const detail = { alarms: checks };
  if (breached.length > 0) {
    const rollback = breached.some((c) => alarms.find((a) => a.name === c.alarm)?.onBreach !== 'pause');
    const report: AnalysisReport = {
      outcome: 'breach',
      breachAction: rollback ? 'rollback' : 'pause',
      alarm: breached[0]?.alarm as string,
      summary: breached.map((c) => `${c.alarm}: ${c.reason}`).join('; '),
      detail,
    };
    // The sequential judge has accounted for every look already: its breach needs no run of failed checks.
    if (breached.some((c) => c.sequential)) report.decisive = true;
    return report;
  }
  if (inconclusive.length > 0) {
    return { outcome: 'inconclusive', breachAction: 'rollback', alarm: inconclusive[0]?.alarm as string, summary: inconclusive.map((c) => `${c.alarm}: ${c.reason}`).join('; '), detail };
  }
  if (judged.length === 0 && checks.length > 0) {
    return { outcome: 'not-applicable', breachAction: 'rollback', summary: checks.map((c) => `${c.alarm}: ${c.reason}`).join('; '), detail };
  }
  const report: AnalysisReport = { outcome: 'pass', breachAction: 'rollback', summary: checks.map((c) => `${c.alarm}: ${c.reason}`).join('; '), detail };
  // Shown no worse: every comparison the sequential judge could make cleared the canary, and the other alarms passed.
  const compared = judged.filter((c) => c.sequential);
  if (compared.length > 0 && compared.every((c) => c.sequential?.cleared)) report.cleared = true;
  return report;
}

function thresholdOf(alarm: AlarmConfig): AlarmCheck['threshold'] {
  if (alarm.relativeTo === 'stable') return { maxRatio: alarm.maxRatio as number, confidence: alarm.confidence };
  return { ...(alarm.max !== undefined ? { max: alarm.max } : {}), ...(alarm.min !== undefined ? { min: alarm.min } : {}) };
}

function format(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value !== 0 && Math.abs(value) < 0.001) return value.toExponential(2);
  return String(Math.round(value * 10_000) / 10_000);
}

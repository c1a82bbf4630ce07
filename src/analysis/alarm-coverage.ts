import { MIRROR_METRICS, type AlarmConfig, type AlarmMetric, type AnalysisConfig } from '../core/config-types.js';
import { formatDuration } from '../core/duration.js';
import type { Role } from '../core/types.js';
import type { StepPlan } from '../strategies/step-plan.js';
import { METRIC_QUANTILES } from './alarm-evaluator.js';
import { MAX_BASELINE_AGE_MS } from './frozen-baseline.js';
import { minLatencyObservations } from './judge.js';

export interface CoverageOptions {
  /** Requests per second of schedule time through the service; without it, sample sizes are not checked. */
  rps?: number;
  /** How long a manual step lasts (simulate releases it after one analysis interval); unknown by default. */
  manualHoldMs?: number;
  /** The service's own `mirror.percent`, for steps that set none (0 by default). */
  mirrorPercent?: number;
}

export interface AlarmCoverage {
  /** Alarms that can never decide somewhere in the schedule, and what that leads to. */
  warnings: string[];
  /** How comparisons are made where a role takes no traffic. */
  notes: string[];
}

/** A stretch of the schedule at one canary weight; the first one is the time before the rollout. */
interface Segment {
  start: number;
  end: number;
  weight: number;
  /** A manual step of unknown length. */
  open: boolean;
  /** Percent of stable's requests copied to the canary. */
  mirror: number;
}

/** A hold the analysis checks: a step with a hold, or the bake. */
interface Phase {
  label: string;
  segment: Segment;
  index: number;
}

/**
 * Pure: where in a schedule each alarm can never decide, by the rules the analysis applies at run
 * time, so `plan` and `simulate` can say so before anything runs:
 * - an alarm on a role that takes no traffic at a step (`role: stable` at 100%, `role: canary`
 *   at 0%) is not applicable there;
 * - a `relativeTo: stable` alarm at such a step compares with the idle role's last full window
 *   before its weight reached 0: never possible when that role took traffic for less than the
 *   window (or, for the canary, none at all), and not after the baseline is MAX_BASELINE_AGE_MS old;
 * - given a request rate, a window that can never hold the requests the alarm needs only ever
 *   reports inconclusive, and inconclusiveLimit such checks in a row roll back;
 * - a hold where no alarm can judge at all pauses at its end for a person (at 0% it ends as planned).
 */
export function alarmCoverage(
  plan: StepPlan,
  analysis: Pick<AnalysisConfig, 'alarms' | 'intervalMs' | 'inconclusiveLimit'> & Partial<Pick<AnalysisConfig, 'judge'>>,
  options: CoverageOptions = {},
): AlarmCoverage {
  const { segments, phases } = timeline(plan, options.manualHoldMs, options.mirrorPercent ?? 0);
  const warnings: string[] = [];
  const notes: string[] = [];
  for (const phase of phases) {
    let applicable = 0;
    for (const alarm of analysis.alarms) {
      const found = alarm.promql !== undefined ? { applicable: true, warnings: [], notes: [] } : coverageAt(alarm, phase, segments, analysis, options);
      if (found.applicable) applicable++;
      warnings.push(...found.warnings.map((w) => `${phase.label}: ${alarm.name} ${w}`));
      notes.push(...found.notes.map((n) => `${phase.label}: ${alarm.name} ${n}`));
    }
    if (analysis.alarms.length > 0 && applicable === 0) {
      warnings.push(
        phase.segment.weight > 0
          ? `${phase.label}: no alarm can judge it, so the rollout pauses at its end for a person to promote or abort`
          : `${phase.label}: no alarm can judge it; it ends as planned, since no client reaches the canary at 0%`,
      );
    }
  }
  return { warnings, notes };
}

function coverageAt(
  alarm: AlarmConfig,
  phase: Phase,
  segments: readonly Segment[],
  analysis: Pick<AnalysisConfig, 'intervalMs' | 'inconclusiveLimit'> & Partial<Pick<AnalysisConfig, 'judge'>>,
  options: CoverageOptions,
): { applicable: boolean; warnings: string[]; notes: string[] } {
  const weight = phase.segment.weight;
  // Mirror alarms judge the copies: they apply where copies are made, and nowhere else (no warning: that is their design).
  if (MIRROR_METRICS.includes(alarm.metric as AlarmMetric)) return { applicable: phase.segment.mirror > 0 && weight < 100, warnings: [], notes: [] };
  const sides: Role[] = alarm.relativeTo === 'stable' ? ['canary', 'stable'] : [alarm.role];
  const idle = sides.find((role) => share(role, weight) === 0);
  if (idle && alarm.relativeTo !== 'stable') return { applicable: false, warnings: [`can never be evaluated: ${takesNone(idle)}`], notes: [] };
  // The sequential judge adds up whatever each check brings: it needs no minimum in a window, and
  // a canary at 0% brings nothing new while the evidence gathered before it stands.
  const sequential = analysis.judge === 'sequential' && alarm.relativeTo === 'stable';
  if (sequential && idle === 'canary') return { applicable: false, warnings: [], notes: [`is not judged: ${takesNone('canary')}, and the evidence gathered before stands`] };
  const warnings: string[] = [];
  const notes: string[] = [];
  const needed = sequential ? 0 : neededRequests(alarm);
  const thin = (role: Role, expected: number, where: string) =>
    `can never be evaluated at ${options.rps} requests/s: ${where} holds at most about ${expected} ${role} requests, and it needs ${needed}, ` +
    `so it only reports inconclusive there (${analysis.inconclusiveLimit} in a row roll back)`;
  if (idle) {
    const period = lastPeriod(idle, phase.index, segments);
    if (!period) return { applicable: false, warnings: [`can never be evaluated: ${takesNone(idle)} and has taken none before in this rollout`], notes: [] };
    const tookFor = period.end - period.start;
    if (!period.open && tookFor < alarm.windowMs) {
      const before = period.start === Number.NEGATIVE_INFINITY ? '' : ` for only ${formatDuration(tookFor)}`;
      return { applicable: false, warnings: [`can never be evaluated: ${takesNone(idle)}, and it took traffic${before} before, less than its ${formatDuration(alarm.windowMs)} window`], notes: [] };
    }
    const other = idle === 'canary' ? "stable's current window" : "the canary's current window";
    const fromBefore = period.end - alarm.windowMs < 0 ? ` (partly from before the rollout: the proxy must have served for ${formatDuration(alarm.windowMs - period.end)} when it starts)` : '';
    notes.push(
      sequential
        ? `judges the canary's requests since stable's weight reached 0 against stable's last full ${formatDuration(alarm.windowMs)} window before it, a frozen baseline${fromBefore}`
        : `compares ${other} with ${idle === 'canary' ? "the canary's" : "stable's"} last full ${formatDuration(alarm.windowMs)} window before its weight reached 0, a frozen baseline${fromBefore}`,
    );
    const phaseEnd = phase.segment.open ? Number.POSITIVE_INFINITY : phase.segment.end;
    if (phaseEnd - period.end > MAX_BASELINE_AGE_MS) {
      const usable = Math.max(0, period.end + MAX_BASELINE_AGE_MS - phase.segment.start);
      warnings.push(`cannot be evaluated after its first ${formatDuration(usable)}: the frozen baseline is then more than ${formatDuration(MAX_BASELINE_AGE_MS)} old`);
    }
    if (options.rps !== undefined && needed > 0) {
      const frozen = Math.floor(requestsIn(idle, period.end - alarm.windowMs, period.end, segments, options.rps));
      if (frozen < needed) warnings.push(thin(idle, frozen, `its frozen ${formatDuration(alarm.windowMs)} window`));
    }
  }
  if (options.rps !== undefined && needed > 0) {
    for (const role of sides) {
      if (role === idle) continue;
      const expected = Math.floor(mostInWindow(role, alarm.windowMs, phase.segment, segments, analysis.intervalMs, options.rps));
      if (expected < needed) warnings.push(thin(role, expected, `its ${formatDuration(alarm.windowMs)} window`));
    }
  }
  return { applicable: true, warnings, notes };
}

/** The schedule as segments of constant weight from the rollout's start, and the holds analysis checks. */
function timeline(plan: StepPlan, manualHoldMs: number | undefined, mirrorPercent: number): { segments: Segment[]; phases: Phase[] } {
  const segments: Segment[] = [{ start: Number.NEGATIVE_INFINITY, end: 0, weight: 0, open: false, mirror: mirrorPercent }];
  const phases: Phase[] = [];
  let at = 0;
  plan.steps.forEach((step, i) => {
    const manual = step.hold === 'manual';
    const length = manual ? (manualHoldMs ?? 0) : (step.hold as number);
    const segment: Segment = { start: at, end: at + length, weight: step.weight, open: manual && manualHoldMs === undefined, mirror: step.mirror ?? mirrorPercent };
    segments.push(segment);
    const hold = manual ? (manualHoldMs === undefined ? 'until promoted' : `released after ${formatDuration(length)}`) : formatDuration(length);
    const copies = segment.mirror > 0 && step.weight < 100 ? `, ${step.mirror ?? mirrorPercent}% mirrored` : '';
    if (manual || length > 0) phases.push({ label: `step ${i + 1} (${step.weight}%${copies}, ${hold})`, segment, index: segments.length - 1 });
    at += length;
  });
  if (plan.bakeTimeMs > 0) {
    const segment: Segment = { start: at, end: at + plan.bakeTimeMs, weight: 100, open: false, mirror: 0 };
    segments.push(segment);
    phases.push({ label: `the bake (100%, ${formatDuration(plan.bakeTimeMs)})`, segment, index: segments.length - 1 });
  }
  return { segments, phases };
}

/** The role's last stretch of traffic before the idle stretch that includes segment `index`. */
function lastPeriod(role: Role, index: number, segments: readonly Segment[]): { start: number; end: number; open: boolean } | null {
  let i = index;
  while (i >= 0 && share(role, (segments[i] as Segment).weight) === 0) i--;
  if (i < 0) return null;
  const end = (segments[i] as Segment).end;
  let start = end;
  let open = false;
  while (i >= 0 && share(role, (segments[i] as Segment).weight) > 0) {
    start = (segments[i] as Segment).start;
    open ||= (segments[i] as Segment).open;
    i--;
  }
  return { start, end, open };
}

/** The most requests of `role` a window holds at any check of the phase (at its first check, its end, or where a step leaves the window). */
function mostInWindow(role: Role, windowMs: number, phase: Segment, segments: readonly Segment[], intervalMs: number, rps: number): number {
  const end = phase.open ? phase.start + windowMs : phase.end;
  const candidates = [Math.min(phase.start + intervalMs, end), end];
  for (const s of segments) {
    for (const edge of [s.start, s.end]) if (edge + windowMs > phase.start && edge + windowMs < end) candidates.push(edge + windowMs);
  }
  return Math.max(...candidates.map((t) => requestsIn(role, t - windowMs, t, segments, rps)));
}

function requestsIn(role: Role, from: number, to: number, segments: readonly Segment[], rps: number): number {
  let total = 0;
  for (const s of segments) {
    const overlap = Math.min(to, s.end) - Math.max(from, s.start);
    if (overlap > 0) total += (rps * overlap * share(role, s.weight)) / 100_000;
  }
  return total;
}

function neededRequests(alarm: AlarmConfig): number {
  if (alarm.metric === 'request_rate') return 0;
  const quantile = METRIC_QUANTILES[alarm.metric as AlarmMetric];
  if (alarm.relativeTo === 'stable' && quantile !== undefined) return minLatencyObservations(quantile, alarm.minRequests);
  return alarm.relativeTo === 'stable' ? Math.max(1, alarm.minRequests) : alarm.minRequests;
}

function share(role: Role, weight: number): number {
  return role === 'canary' ? weight : 100 - weight;
}

function takesNone(role: Role): string {
  return role === 'canary' ? 'the canary takes no traffic at 0%' : 'stable takes no traffic at 100%';
}

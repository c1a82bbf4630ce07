import type { AnalysisConfig } from '../core/config-types.js';
import { formatDuration } from '../core/duration.js';
import type { StepPlan } from '../strategies/step-plan.js';

/** The fastest a simulation runs unless asked otherwise: a 10-minute schedule in 10 seconds. */
export const MAX_DEFAULT_SPEED = 60;
/** A window should hold this many times an alarm's minRequests to decide reliably, not just barely. */
const HEADROOM = 2;

/** How many requests an alarm's window holds at the schedule's thinnest step, against what it needs. */
export interface WindowLoad {
  alarm: string;
  window: number;
  /** Schedule time the alarm has to gather them: its window, or less when inconclusiveLimit checks come sooner. */
  span: number;
  weight: number;
  expected: number;
  needed: number;
}

/** What load sizing reads from a service's analysis (its alarms: the simulated ones). */
export type SizedAnalysis = Pick<AnalysisConfig, 'alarms' | 'intervalMs' | 'inconclusiveLimit'> & Partial<Pick<AnalysisConfig, 'judge'>>;

/**
 * Compressed time shrinks every alarm window in real time while the load stays at `rps` real
 * requests per second, so a window sees `speed` times fewer requests than in production. This
 * finds, per alarm, the step where its role gets the smallest share of the traffic (the first
 * canary step, usually) and the requests its window then holds. A step's first checks see a
 * window that is still filling: `inconclusiveLimit` of them in a row without enough requests
 * roll back, so what counts is what arrives by the last of those checks, if that comes before
 * the window is full.
 */
export function windowLoads(analysis: SizedAnalysis, plan: StepPlan, speed: number, rps: number): WindowLoad[] {
  const untilLimit = analysis.intervalMs * analysis.inconclusiveLimit;
  const weights = plan.steps.map((step) => step.weight);
  const canaryWeights = weights.filter((w) => w > 0);
  const stableWeights = weights.filter((w) => w < 100);
  const loads: WindowLoad[] = [];
  for (const alarm of analysis.alarms) {
    // The sequential judge adds up every check's requests and never reports inconclusive: no window has a minimum to hold.
    if (analysis.judge === 'sequential' && alarm.relativeTo === 'stable') continue;
    const candidates = alarm.role === 'canary' ? canaryWeights : stableWeights;
    if (candidates.length === 0) continue;
    const weight = alarm.role === 'canary' ? Math.min(...candidates) : Math.max(...candidates);
    const share = (alarm.role === 'canary' ? weight : 100 - weight) / 100;
    const span = Math.min(alarm.windowMs, untilLimit);
    const expected = Math.floor((rps * span * share) / 1000 / speed);
    loads.push({ alarm: alarm.name, window: alarm.windowMs, span, weight, expected, needed: alarm.minRequests });
  }
  return loads;
}

/**
 * The speed to run at when none was given: as fast as possible up to MAX_DEFAULT_SPEED, but
 * slow enough that every alarm holds twice its minRequests at the thinnest step, in time.
 */
export function defaultSpeed(analysis: SizedAnalysis, plan: StepPlan, rps: number): number {
  let speed = MAX_DEFAULT_SPEED;
  for (const load of windowLoads(analysis, plan, 1, rps)) {
    if (load.needed > 0) speed = Math.min(speed, load.expected / (HEADROOM * load.needed));
  }
  return Math.max(1, Math.floor(speed));
}

/** Warnings for windows too thin to decide: such an alarm only ever reports inconclusive. */
export function thinWindowNotes(analysis: SizedAnalysis, plan: StepPlan, speed: number, rps: number): string[] {
  return windowLoads(analysis, plan, speed, rps)
    .filter((load) => load.expected < load.needed)
    .map((load) => {
      const holds =
        load.span < load.window
          ? `gathers about ${load.expected} requests in the first ${formatDuration(load.span)} of the ${load.weight}% step (${analysis.inconclusiveLimit} checks)`
          : `holds about ${load.expected} requests at the ${load.weight}% step`;
      return (
        `at ${speed}x and ${rps} requests/s, ${load.alarm}'s ${formatDuration(load.window)} window ${holds} ` +
        `and needs ${load.needed}, so it can only report inconclusive there: raise --rps or lower --speed`
      );
    });
}

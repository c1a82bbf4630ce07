import type { AlarmConfig } from '../core/config-types.js';
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
  weight: number;
  expected: number;
  needed: number;
}

/**
 * Compressed time shrinks every alarm window in real time while the load stays at `rps` real
 * requests per second, so a window sees `speed` times fewer requests than in production. This
 * finds, per alarm, the step where its role gets the smallest share of the traffic (the first
 * canary step, usually) and the requests its window then holds.
 */
export function windowLoads(alarms: readonly AlarmConfig[], plan: StepPlan, speed: number, rps: number): WindowLoad[] {
  const weights = plan.steps.map((step) => step.weight);
  const canaryWeights = weights.filter((w) => w > 0);
  const stableWeights = weights.filter((w) => w < 100);
  const loads: WindowLoad[] = [];
  for (const alarm of alarms) {
    const candidates = alarm.role === 'canary' ? canaryWeights : stableWeights;
    if (candidates.length === 0) continue;
    const weight = alarm.role === 'canary' ? Math.min(...candidates) : Math.max(...candidates);
    const share = (alarm.role === 'canary' ? weight : 100 - weight) / 100;
    const expected = Math.floor((rps * alarm.windowMs * share) / 1000 / speed);
    loads.push({ alarm: alarm.name, window: alarm.windowMs, weight, expected, needed: alarm.minRequests });
  }
  return loads;
}

/**
 * The speed to run at when none was given: as fast as possible up to MAX_DEFAULT_SPEED, but
 * slow enough that every alarm's window holds twice its minRequests at the thinnest step.
 */
export function defaultSpeed(alarms: readonly AlarmConfig[], plan: StepPlan, rps: number): number {
  let speed = MAX_DEFAULT_SPEED;
  for (const load of windowLoads(alarms, plan, 1, rps)) {
    if (load.needed > 0) speed = Math.min(speed, load.expected / (HEADROOM * load.needed));
  }
  return Math.max(1, Math.floor(speed));
}

/** Warnings for windows too thin to decide: such an alarm only ever reports inconclusive. */
export function thinWindowNotes(alarms: readonly AlarmConfig[], plan: StepPlan, speed: number, rps: number): string[] {
  return windowLoads(alarms, plan, speed, rps)
    .filter((load) => load.expected < load.needed)
    .map(
      (load) =>
        `at ${speed}x and ${rps} requests/s, ${load.alarm}'s ${formatDuration(load.window)} window holds about ${load.expected} requests at the ${load.weight}% step ` +
        `and needs ${load.needed}, so it can only report inconclusive there: raise --rps or lower --speed`,
    );
}

import type { StrategyName } from '../core/config-types.js';

/**
 * One step of a rollout schedule: set the canary weight, then hold it. `hold` 0 moves on at
 * once; 'manual' waits for a person (`resume` or `promote`). With `minHold` the hold is adaptive:
 * the step advances as soon as the canary is shown no worse than stable after `minHold`, and
 * `hold` is the most it lasts.
 */
export interface PlanStep {
  weight: number;
  hold: number | 'manual';
  /** Percent of stable's requests copied to the canary during the step (a dark launch at weight 0). */
  mirror?: number;
  minHold?: number;
}

/** A compiled schedule: what the controller walks through, step by step, before the bake. */
export interface StepPlan {
  strategy: StrategyName;
  preset?: string;
  steps: PlanStep[];
  bakeTimeMs: number;
}

/** The shortest a plan can take: adaptive steps at their minimum (null with a manual step). */
export function shortestDurationMs(plan: StepPlan): number | null {
  return plannedDurationMs({ ...plan, steps: plan.steps.map((s) => ({ weight: s.weight, hold: s.minHold ?? s.hold })) });
}

/** Total planned time to reach the last step (adaptive steps at their maximum), or null when a manual step makes it unknowable. */
export function plannedDurationMs(plan: StepPlan): number | null {
  let total = 0;
  for (const step of plan.steps) {
    if (step.hold === 'manual') return null;
    total += step.hold;
  }
  return total + plan.bakeTimeMs;
}

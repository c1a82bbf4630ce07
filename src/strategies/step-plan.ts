import type { StrategyName } from '../core/config-types.js';

/**
 * One step of a rollout schedule: set the canary weight, then hold it. `holdMs` 0 moves on at
 * once; 'manual' waits for a person (`resume` or `promote`).
 */
export interface PlanStep {
  weight: number;
  hold: number | 'manual';
  /** Percent of stable's requests copied to the canary during the step (a dark launch at weight 0). */
  mirror?: number;
}

/** A compiled schedule: what the controller walks through, step by step, before the bake. */
export interface StepPlan {
  strategy: StrategyName;
  preset?: string;
  steps: PlanStep[];
  bakeTimeMs: number;
}

/** Total planned time to reach the last step, or null when a manual step makes it unknowable. */
export function plannedDurationMs(plan: StepPlan): number | null {
  let total = 0;
  for (const step of plan.steps) {
    if (step.hold === 'manual') return null;
    total += step.hold;
  }
  return total + plan.bakeTimeMs;
}

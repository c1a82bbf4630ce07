import type { RolloutConfig, StepConfig, StrategyName } from '../core/config-types.js';
import { BadRequestError } from '../core/errors.js';
import { resolvePreset, unknownPresetMessage } from './codedeploy-presets.js';
import type { PlanStep, StepPlan } from './step-plan.js';

/** What a person may change for one rollout when starting it. */
export interface RolloutOverrides {
  strategy?: StrategyName;
  preset?: string;
  /** Linear: percent added per step. Canary: the canary weight. */
  step?: number;
  /** Linear and canary: time per step. Blue-green: how long the 0% preview is held. */
  intervalMs?: number;
}

/**
 * Compiles a service's rollout settings (and a start request's overrides) into its schedule.
 * Pure: the same input always gives the same steps, so `plan` shows exactly what `run` will do.
 */
export function compileStrategy(config: RolloutConfig, overrides: RolloutOverrides = {}): StepPlan {
  const preset = overrides.preset !== undefined ? resolvePresetOrFail(overrides.preset) : undefined;
  const strategy: StrategyName = preset?.strategy ?? overrides.strategy ?? config.strategy;
  const presetName = preset?.name ?? (overrides.strategy === undefined || overrides.strategy === config.strategy ? config.preset : undefined);
  const base = { strategy, ...(presetName ? { preset: presetName } : {}), bakeTimeMs: config.bakeTimeMs };
  switch (strategy) {
    case 'canary': {
      const weight = overrides.step ?? (preset ? preset.percent : config.canary.weight);
      const intervalMs = overrides.intervalMs ?? (preset ? preset.intervalMs : config.canary.intervalMs);
      requireRange('step', weight, 0, 100, false);
      return { ...base, steps: canarySteps(weight, intervalMs) };
    }
    case 'linear': {
      const step = overrides.step ?? (preset ? preset.percent : config.linear.step);
      const intervalMs = overrides.intervalMs ?? (preset ? preset.intervalMs : config.linear.intervalMs);
      requireRange('step', step, 0, 100, true);
      return { ...base, steps: linearSteps(step, intervalMs) };
    }
    case 'all-at-once':
      return { ...base, steps: [{ weight: 100, hold: 0 }] };
    case 'blue-green':
      return { ...base, steps: [{ weight: 0, hold: overrides.intervalMs ?? 0 }, { weight: 100, hold: 0 }] };
    case 'steps': {
      if (config.steps.length === 0) throw new BadRequestError('strategy steps needs steps in the service config');
      return { ...base, steps: config.steps.map(planStep) };
    }
  }
}

/** A configured step as the controller walks it: an adaptive pause holds for at most its max, and at least its min. */
function planStep(step: StepConfig): PlanStep {
  const pause = step.pause ?? 0;
  const mirror = step.mirror !== undefined ? { mirror: step.mirror } : {};
  if (typeof pause === 'object') return { weight: step.weight, hold: pause.maxMs, minHold: pause.minMs, ...mirror };
  return { weight: step.weight, hold: pause, ...mirror };
}

/** `weight` for one interval, then everything (CodeDeploy's two increments). */
export function canarySteps(weight: number, intervalMs: number): PlanStep[] {
  return [
    { weight, hold: intervalMs },
    { weight: 100, hold: 0 },
  ];
}

/** `+step` every interval until 100; the last increment may be smaller (e.g. 30, 60, 90, 100). */
export function linearSteps(step: number, intervalMs: number): PlanStep[] {
  const steps: PlanStep[] = [];
  for (let k = 1; k * step < 100 - 1e-9; k++) steps.push({ weight: round(k * step), hold: intervalMs });
  steps.push({ weight: 100, hold: 0 });
  return steps;
}

function resolvePresetOrFail(name: string) {
  const preset = resolvePreset(name);
  if (!preset) throw new BadRequestError(unknownPresetMessage(name));
  return preset;
}

function requireRange(name: string, value: number, min: number, max: number, maxInclusive: boolean): void {
  const ok = Number.isFinite(value) && value > min && (maxInclusive ? value <= max : value < max);
  if (!ok) throw new BadRequestError(`${name} must be greater than ${min} and ${maxInclusive ? 'at most' : 'less than'} ${max}, got ${value}`);
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

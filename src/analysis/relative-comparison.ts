import type { FrozenWindow } from '../rollout/rollout-record.js';
import type { AlarmVerdict, JudgeOutcome } from './alarm-evaluator.js';
import { baselineStats, describeBaseline } from './frozen-baseline.js';
import type { WindowStats } from './window-stats.js';

/** One side of a `relativeTo` comparison: its current window, its frozen baseline, or nothing to compare. */
export type ComparedSide = { kind: 'live'; stats: WindowStats } | { kind: 'frozen'; baseline: FrozenWindow } | { kind: 'not-applicable'; reason: string };

type MeasuredSide = Exclude<ComparedSide, { kind: 'not-applicable' }>;

export interface Comparison {
  verdict: AlarmVerdict;
  /** The judge's answer; null when the comparison was not applicable. */
  outcome: JudgeOutcome | null;
  reason: string;
  /** The frozen window one side was represented by, if any. */
  baseline?: FrozenWindow;
}

/**
 * Pure: a comparison of the canary with stable, from counts and buckets only, so whatever
 * gathers them (the builtin windows, Prometheus, the workers' or a fleet's summed counters, a
 * count simulation) gets the same verdict. A side at 0% is its frozen baseline; with none the
 * verdict is `not-applicable`, which neither passes, fails nor counts toward inconclusiveLimit.
 */
export function compareSides(canary: ComparedSide, stable: ComparedSide, judge: (canary: WindowStats, stable: WindowStats) => JudgeOutcome): Comparison {
  if (canary.kind === 'not-applicable') return { verdict: 'not-applicable', outcome: null, reason: `not applicable: ${canary.reason}` };
  if (stable.kind === 'not-applicable') return { verdict: 'not-applicable', outcome: null, reason: `not applicable: ${stable.reason}` };
  const windowOf = (side: MeasuredSide) => (side.kind === 'live' ? side.stats : baselineStats(side.baseline));
  const outcome = judge(windowOf(canary), windowOf(stable));
  const frozen = canary.kind === 'frozen' ? canary.baseline : stable.kind === 'frozen' ? stable.baseline : undefined;
  if (!frozen) return { verdict: outcome.verdict, outcome, reason: outcome.explanation };
  return { verdict: outcome.verdict, outcome, reason: `${outcome.explanation} (${describeBaseline(frozen)})`, baseline: frozen };
}

import { formatDuration } from '../core/duration.js';
import type { HistoryEntry } from '../rollout/rollout-record.js';

/** When a rollout reached each step, the bake and its decision, in schedule time from its start. */
export interface StepTime {
  atMs: number;
  /** `step` (with its number), `bake`, or the decision. */
  event: 'step' | 'bake' | 'promoted' | 'rolled_back';
  step?: number;
  weight: number;
  /** The hold before it ended early: an adaptive step whose canary was shown no worse than stable. */
  early: boolean;
}

/** Reads the times off a rollout's history (its first entry is the start), so any run of it can report them. */
export function stepTimes(history: readonly HistoryEntry[]): StepTime[] {
  const start = Date.parse(history[0]?.at ?? '');
  const times: StepTime[] = [];
  let cleared = false;
  for (const entry of history) {
    const atMs = Date.parse(entry.at) - start;
    if (entry.event === 'cleared') cleared = true;
    else if (entry.event === 'step') {
      const step = (entry.detail as { step?: number } | undefined)?.step;
      times.push({ atMs, event: 'step', ...(step !== undefined ? { step } : {}), weight: entry.canaryWeight, early: cleared });
      cleared = false;
    } else if (entry.event === 'baking' || entry.event === 'promoted' || entry.event === 'rolled_back') {
      times.push({ atMs, event: entry.event === 'baking' ? 'bake' : entry.event, weight: entry.canaryWeight, early: cleared });
      cleared = false;
    }
  }
  return times;
}

/** One line: `10% at 0s, 50% at 1m20s (early: shown no worse), bake at 2m30s, promoted at 7m30s`. */
export function formatStepTimes(times: readonly StepTime[]): string {
  return times
    .map((t) => {
      const what = t.event === 'step' ? `${t.weight}%` : t.event === 'bake' ? 'bake' : t.event === 'promoted' ? 'promoted' : 'rolled back';
      return `${what} at ${formatDuration(Math.round(t.atMs))}${t.early ? ' (early: shown no worse)' : ''}`;
    })
    .join(', ');
}

import type { PassiveHealthObserver, Target } from '../proxy/target.js';
import type { OutcomeRun } from './fleet-messages.js';

interface Runs {
  leading: number;
  succeeded: boolean;
  runs: number[];
  current: number;
}

/**
 * A worker's stand-in for passive health: it records each target's successes and failures
 * (compressed to what consecutive-failure detection needs) for the primary, which keeps each
 * target's failure streak and whose outlier detector decides ejections for the whole fleet. A
 * failure asks for a prompt report, so an ejection is not held back by the reporting interval.
 */
export class OutcomeRecorder implements PassiveHealthObserver {
  readonly threshold: number;
  private readonly onFailureSeen: () => void;
  private readonly byTarget = new Map<Target, Runs>();

  constructor(consecutiveErrors: number, onFailureSeen: () => void) {
    this.threshold = consecutiveErrors;
    this.onFailureSeen = onFailureSeen;
  }

  onFailure(target: Target): void {
    const runs = this.runs(target);
    if (runs.succeeded) runs.current += 1;
    else runs.leading += 1;
    // Only an ejection is worth a prompt report; a streak alone waits for the next one.
    if (this.threshold !== Infinity) this.onFailureSeen();
  }

  onSuccess(target: Target): void {
    const runs = this.runs(target);
    if (runs.current >= this.threshold) runs.runs.push(runs.current);
    runs.current = 0;
    runs.succeeded = true;
  }

  /** Keeps what `previous` recorded and did not report yet (a reload changed the threshold). */
  carry(previous: OutcomeRecorder): void {
    for (const [target, runs] of previous.byTarget) this.byTarget.set(target, runs);
    previous.byTarget.clear();
  }

  /** Everything recorded since the last call. */
  take(): OutcomeRun[] {
    const out: OutcomeRun[] = [];
    for (const [target, runs] of this.byTarget) {
      out.push({ service: target.service, slot: target.slot, url: target.url, leading: runs.leading, succeeded: runs.succeeded, runs: runs.runs, trailing: runs.current });
    }
    this.byTarget.clear();
    return out;
  }

  private runs(target: Target): Runs {
    let runs = this.byTarget.get(target);
    if (runs === undefined) {
      runs = { leading: 0, succeeded: false, runs: [], current: 0 };
      this.byTarget.set(target, runs);
    }
    return runs;
  }
}

/**
 * Replays a worker's outcomes into the primary's copy of the target, in the order they
 * happened: its failure streak and, through its passive observer, outlier detection.
 */
export function replayOutcomes(target: Target, run: OutcomeRun): void {
  for (let i = 0; i < run.leading; i++) target.recordFailure();
  if (run.succeeded) target.recordSuccess();
  for (const length of run.runs) {
    for (let i = 0; i < length; i++) target.recordFailure();
    target.recordSuccess();
  }
  for (let i = 0; i < run.trailing; i++) target.recordFailure();
}

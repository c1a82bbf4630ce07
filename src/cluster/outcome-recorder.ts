import type { PassiveHealthObserver, Target } from '../proxy/target.js';
import type { OutcomeRun } from './fleet-messages.js';

interface Runs {
  leading: number;
  succeeded: boolean;
  runs: number[];
  current: number;
}

/**
 * A worker's stand-in for outlier detection: it records each target's successes and failures
 * (compressed to what consecutive-failure detection needs) for the primary, whose detector
 * decides ejections for the whole fleet. A failure asks for a prompt report, so an ejection is
 * not held back by the reporting interval.
 */
export class OutcomeRecorder implements PassiveHealthObserver {
  private readonly threshold: number;
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
    this.onFailureSeen();
  }

  onSuccess(target: Target): void {
    const runs = this.runs(target);
    if (runs.current >= this.threshold) runs.runs.push(runs.current);
    runs.current = 0;
    runs.succeeded = true;
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

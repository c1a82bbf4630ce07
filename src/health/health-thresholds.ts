/** A target's state as active checks see it. */
export type ActiveState = 'unknown' | 'healthy' | 'unhealthy';

/**
 * The rise/fall arithmetic of active checks (HAProxy's `rise`/`fall`, Envoy's thresholds). A
 * healthy target goes down on exactly the `unhealthyThreshold`-th failure in a row and an
 * unhealthy one comes back on exactly the `healthyThreshold`-th success in a row, so a target
 * that alternates pass and fail never flips the split.
 *
 * The very first result decides at once (as NGINX Plus `mandatory` and Envoy do for new hosts):
 * a target that passes its first probe takes traffic right away instead of waiting
 * `healthyThreshold` intervals, and one that fails it is unhealthy until it rises normally.
 */
export class HealthThresholds {
  private readonly healthyThreshold: number;
  private readonly unhealthyThreshold: number;
  state: ActiveState;
  consecutiveSuccesses = 0;
  consecutiveFailures = 0;

  constructor(healthyThreshold: number, unhealthyThreshold: number, initial: ActiveState = 'unknown') {
    this.healthyThreshold = healthyThreshold;
    this.unhealthyThreshold = unhealthyThreshold;
    this.state = initial;
  }

  /** Counts one probe result; returns the new state when it changed, else null. */
  record(passed: boolean): ActiveState | null {
    if (passed) {
      this.consecutiveSuccesses += 1;
      this.consecutiveFailures = 0;
    } else {
      this.consecutiveFailures += 1;
      this.consecutiveSuccesses = 0;
    }
    const next = this.nextState(passed);
    if (next === this.state) return null;
    this.state = next;
    return next;
  }

  private nextState(passed: boolean): ActiveState {
    switch (this.state) {
      case 'unknown':
        return passed ? 'healthy' : 'unhealthy';
      case 'healthy':
        return this.consecutiveFailures >= this.unhealthyThreshold ? 'unhealthy' : 'healthy';
      case 'unhealthy':
        return this.consecutiveSuccesses >= this.healthyThreshold ? 'healthy' : 'unhealthy';
    }
  }
}

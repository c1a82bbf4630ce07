import type { Clock, TimerHandle } from '../core/clock.js';
import type { OutlierDetectionConfig } from '../core/config-types.js';
import { HealthFlag } from '../core/health-flags.js';
import type { ServiceRuntime } from '../proxy/service-runtime.js';
import type { PassiveHealthObserver, Target } from '../proxy/target.js';
import { decayedEjections, ejectionDurationMs, maxEjectable } from './ejection-policy.js';

/** Where ejections land: the registry sets the flag, logs the transition and tells listeners. */
export interface EjectionSink {
  ejected(target: Target, durationMs: number, reason: string): void;
  returned(target: Target): void;
}

/** What outlier detection knows about one target, for the admin view. */
export interface OutlierStatus {
  /** Ejections so far, ever (a counter). */
  ejections: number;
  /** Monotonic time (the clock's `now`) the current ejection ends; null when not ejected. */
  ejectedUntil: number | null;
  /** Ejections refused because `maxEjectionPercent` of the slot was already out. */
  ejectionsRefused: number;
}

interface OutlierState extends OutlierStatus {
  /** The n of the last ejection (its length is ejectionTime × n); it decays while the target serves. */
  level: number;
  returnedAt: number | null;
  timer: TimerHandle | undefined;
}

/**
 * Passive health for one service (Envoy's consecutive-5xx detector). The hot path counts
 * `target.consecutiveFailures` (5xx answers and connection failures; 4xx never count) and calls
 * `onFailure`; after `consecutiveErrors` in a row the target is ejected for
 * `ejectionTime × n` (n = its ejections, decayed), capped at `maxEjectionTime`, unless
 * `maxEjectionPercent` of its slot is already ejected. It returns by itself when the time is up.
 */
export class OutlierDetector implements PassiveHealthObserver {
  private runtime: ServiceRuntime;
  private config: OutlierDetectionConfig;
  private readonly clock: Clock;
  private readonly sink: EjectionSink;
  private readonly states = new Map<Target, OutlierState>();

  constructor(runtime: ServiceRuntime, config: OutlierDetectionConfig, clock: Clock, sink: EjectionSink) {
    this.runtime = runtime;
    this.config = config;
    this.clock = clock;
    this.sink = sink;
  }

  /** A config reload: the service's new runtime and settings; ejections in progress keep their end time. */
  reconfigure(runtime: ServiceRuntime, config: OutlierDetectionConfig): void {
    this.runtime = runtime;
    this.config = config;
  }

  watch(target: Target): void {
    if (this.states.has(target)) return;
    this.states.set(target, { ejections: 0, level: 0, ejectedUntil: null, ejectionsRefused: 0, returnedAt: null, timer: undefined });
    target.passive = this;
  }

  unwatch(target: Target): void {
    const state = this.states.get(target);
    if (!state) return;
    this.clock.clearTimeout(state.timer);
    this.states.delete(target);
    if (target.passive === this) target.passive = null;
  }

  /**
   * A target replaced by an equal one (same URL, new weight) keeps its history: the new one
   * stays ejected for what is left of the old ejection. The caller copies the flag itself.
   */
  adopt(from: Target, to: Target): void {
    const old = this.states.get(from);
    this.watch(to);
    if (!old) return;
    const state = this.states.get(to) as OutlierState;
    state.ejections = old.ejections;
    state.level = old.level;
    state.ejectionsRefused = old.ejectionsRefused;
    state.returnedAt = old.returnedAt;
    if (old.ejectedUntil !== null) {
      const remainingMs = Math.max(0, old.ejectedUntil - this.clock.now());
      state.ejectedUntil = old.ejectedUntil;
      state.timer = this.clock.setTimeout(() => this.restore(to), remainingMs);
    }
    this.unwatch(from);
  }

  status(target: Target): OutlierStatus | null {
    const state = this.states.get(target);
    return state ? { ejections: state.ejections, ejectedUntil: state.ejectedUntil, ejectionsRefused: state.ejectionsRefused } : null;
  }

  /** Nothing to do: the target already reset its own failure streak. */
  onSuccess(): void {}

  onFailure(target: Target): void {
    if (target.consecutiveFailures < this.config.consecutiveErrors) return;
    const state = this.states.get(target);
    // Requests that were in flight when the target was ejected still report their failures.
    if (!state || state.ejectedUntil !== null) return;
    const targets = this.runtime.slot(target.slot).targets;
    if (ejectedCount(targets) >= maxEjectable(targets.length, this.config.maxEjectionPercent)) {
      state.ejectionsRefused += 1;
      return;
    }
    this.eject(target, state);
  }

  /** Cancels every pending return; used at shutdown, when nothing will route again. */
  stop(): void {
    for (const state of this.states.values()) {
      this.clock.clearTimeout(state.timer);
      state.timer = undefined;
    }
  }

  private eject(target: Target, state: OutlierState): void {
    const now = this.clock.now();
    const servedMs = state.returnedAt === null ? 0 : now - state.returnedAt;
    const n = decayedEjections(state.level, servedMs, this.config.ejectionTimeMs) + 1;
    const durationMs = ejectionDurationMs(this.config, n);
    const failures = target.consecutiveFailures;
    state.level = n;
    state.ejections += 1;
    state.ejectedUntil = now + durationMs;
    // The streak that caused this ejection must not count again when the target returns.
    target.consecutiveFailures = 0;
    state.timer = this.clock.setTimeout(() => this.restore(target), durationMs);
    this.sink.ejected(target, durationMs, `${failures} consecutive failed responses (5xx or connection failure)`);
  }

  private restore(target: Target): void {
    const state = this.states.get(target);
    if (!state) return;
    state.timer = undefined;
    state.ejectedUntil = null;
    state.returnedAt = this.clock.now();
    target.consecutiveFailures = 0;
    this.sink.returned(target);
  }
}

function ejectedCount(targets: readonly Target[]): number {
  let count = 0;
  for (const target of targets) if ((target.flags & HealthFlag.OUTLIER_EJECTED) !== 0) count++;
  return count;
}

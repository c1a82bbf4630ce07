import type { Clock, TimerHandle } from '../core/clock.js';
import type { SlotPool } from '../proxy/slot-pool.js';
import type { Target } from '../proxy/target.js';

/**
 * A warming target starts at this share of its weight, not at 0: at 0 it would take no
 * requests at all (Envoy's `min_weight_percent` defaults to the same 10%).
 */
export const SLOW_START_MIN_FACTOR = 0.1;

interface Ramp {
  readonly startedAt: number;
}

/**
 * Slow start for one service (HAProxy `slowstart`, NGINX `slow_start`): a target that comes
 * back ramps its `effectiveWeight` linearly from 10% to its configured weight over the window,
 * so a cold cache or JIT is not handed a full share at once. The hot path only reads the weight;
 * this class moves it in small steps on the control plane's clock and tells the slot's picker.
 * The share is relative within the slot: a slot's only available target still takes all of it.
 */
export class SlowStart {
  readonly windowMs: number;
  private readonly clock: Clock;
  /** The target's current pool (a reload can rebuild pools around the same target); null once it left the service. */
  private readonly poolOf: (target: Target) => SlotPool | null;
  private readonly ramps = new Map<Target, Ramp>();
  private readonly stepMs: number;
  private timer: TimerHandle | undefined;

  /** Told after each weight change (other processes that route must hear of it). */
  private readonly onWeightChanged: () => void;

  constructor(windowMs: number, clock: Clock, poolOf: (target: Target) => SlotPool | null, onWeightChanged: () => void = () => undefined) {
    this.windowMs = windowMs;
    this.clock = clock;
    this.poolOf = poolOf;
    this.onWeightChanged = onWeightChanged;
    // About 20 steps per window, between 50 ms and 1 s apart: smooth enough, and cheap.
    this.stepMs = Math.min(1000, Math.max(50, Math.floor(windowMs / 20)));
  }

  /** Starts (or restarts) the target's ramp from the floor. */
  begin(target: Target): void {
    this.ramps.set(target, { startedAt: this.clock.now() });
    this.setWeight(target, target.weight * SLOW_START_MIN_FACTOR);
    this.schedule();
  }

  /** Ends the target's ramp at once, at its full weight (it became unavailable, or left the slot). */
  cancel(target: Target): void {
    if (!this.ramps.delete(target)) return;
    this.setWeight(target, target.weight);
  }

  /** Monotonic ms at which the target's ramp ends; null when it is not warming. */
  warmingUntil(target: Target): number | null {
    const ramp = this.ramps.get(target);
    return ramp ? ramp.startedAt + this.windowMs : null;
  }

  /** Every warming target back at full weight; no more steps. */
  stop(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    for (const target of [...this.ramps.keys()]) this.cancel(target);
  }

  private schedule(): void {
    if (this.timer !== undefined || this.ramps.size === 0) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.step();
      this.schedule();
    }, this.stepMs);
  }

  private step(): void {
    const now = this.clock.now();
    for (const [target, ramp] of this.ramps) {
      const progress = (now - ramp.startedAt) / this.windowMs;
      if (progress >= 1) {
        this.ramps.delete(target);
        this.setWeight(target, target.weight);
      } else {
        this.setWeight(target, target.weight * Math.max(SLOW_START_MIN_FACTOR, progress));
      }
    }
  }

  private setWeight(target: Target, weight: number): void {
    if (target.effectiveWeight === weight) return;
    target.effectiveWeight = weight;
    this.poolOf(target)?.weightsChanged();
    this.onWeightChanged();
  }
}

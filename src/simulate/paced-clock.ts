import { VirtualClock, type Clock, type TimerHandle } from '../core/clock.js';

/** How often the clock catches up with real time and the load (real milliseconds). */
const TICK_MS = 10;
/**
 * How far simulated time may run ahead of the load actually delivered, in real milliseconds of
 * load: the load generator sends in bursts a tenth of a second apart, so a little lead keeps
 * the clock smooth on a machine that keeps up.
 */
const LEAD_REAL_MS = 200;
/** A stalled load slows the clock to this fraction of its speed, never to a stop. */
const SLOWEST_FRACTION = 0.1;

export interface PacedClockOptions {
  /** Simulated milliseconds per real millisecond when the load keeps up. */
  speed: number;
  /** The rate the load generator was asked for, in real requests per second. */
  rps: number;
  /** Requests the load generator has completed (answered or failed) so far. */
  delivered: () => number;
  /** Real monotonic milliseconds (injected by tests). */
  realNow?: () => number;
  /** Starts the real-time ticker; tests tick by hand. */
  autoTick?: boolean;
}

/**
 * The simulator's clock: `speed` times faster than real time, but never further ahead of the
 * load than the load generator has got. Compressed time only means something while every
 * analysis window gets the requests it would get in production, scaled down by `speed`; on a
 * busy machine the generator falls short of its rate, windows would hold too few requests and
 * a healthy canary would be judged inconclusive and rolled back. Slowing simulated time to the
 * load actually delivered gives the same windows, and so the same outcome, on any machine.
 */
export class PacedClock implements Clock {
  readonly speed: number;
  private readonly rps: number;
  private readonly delivered: () => number;
  private readonly realNow: () => number;
  private readonly realStart: number;
  private readonly virtual: VirtualClock;
  private readonly ticker: NodeJS.Timeout | null;

  constructor(options: PacedClockOptions) {
    if (!(options.speed > 0) || !Number.isFinite(options.speed)) throw new RangeError(`speed must be a positive number, got ${options.speed}`);
    if (!(options.rps > 0) || !Number.isFinite(options.rps)) throw new RangeError(`rps must be a positive number, got ${options.rps}`);
    this.speed = options.speed;
    this.rps = options.rps;
    this.delivered = options.delivered;
    this.realNow = options.realNow ?? (() => performance.now());
    this.realStart = this.realNow();
    this.virtual = new VirtualClock(0, Date.now());
    this.ticker = options.autoTick === false ? null : setInterval(() => this.tick(), TICK_MS);
  }

  now(): number {
    return this.virtual.now();
  }

  wallNow(): number {
    return this.virtual.wallNow();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.virtual.setTimeout(fn, ms);
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    this.virtual.clearTimeout(handle);
  }

  /** Resolves once `ms` of simulated time have passed. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }

  /**
   * Moves simulated time to where real time and the load allow: `speed` times the real time
   * elapsed, held back to the load delivered (plus a small lead), and at least a tenth of the
   * speed so a stalled load cannot stop the clock.
   */
  tick(): void {
    const scaled = (this.realNow() - this.realStart) * this.speed;
    const loadAllows = ((this.delivered() * 1000) / this.rps + LEAD_REAL_MS) * this.speed;
    const target = Math.min(scaled, Math.max(loadAllows, scaled * SLOWEST_FRACTION));
    if (target > this.virtual.now()) this.virtual.advance(target - this.virtual.now());
  }

  /** Simulated time per real time so far: `speed` when the load kept up, less when it fell behind. */
  effectiveSpeed(): number {
    const real = this.realNow() - this.realStart;
    return real > 0 ? this.virtual.now() / real : this.speed;
  }

  stop(): void {
    if (this.ticker) clearInterval(this.ticker);
  }
}

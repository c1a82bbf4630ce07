import type { Clock, TimerHandle } from '../core/clock.js';
import type { HealthProbe, ProbeResult } from './http-probe.js';

export interface ActiveCheckerOptions {
  intervalMs: number;
  clock: Clock;
  /** Uniform in [0, 1); spreads probes so targets are not checked in lockstep. */
  random: () => number;
  onResult: (result: ProbeResult) => void;
  /** Told when `onResult` throws; probing goes on regardless. */
  onError?: (err: unknown) => void;
}

/** Each wait is the interval ±10%, drawn anew every time, so targets drift apart even when started together. */
export const INTERVAL_JITTER = 0.1;

export function jitteredIntervalMs(intervalMs: number, random: () => number): number {
  return Math.max(1, Math.round(intervalMs * (1 + INTERVAL_JITTER * (2 * random() - 1))));
}

/**
 * Probes one target forever: the first probe at `start`, then the next one a jittered interval
 * after the previous one finished. Waiting for the previous result means probes of one target
 * can never overlap; a hung probe is cut by the probe's own timeout, so the period is at most
 * timeout + interval.
 */
export class ActiveChecker {
  private readonly probe: HealthProbe;
  private readonly options: ActiveCheckerOptions;
  private timer: TimerHandle | undefined;
  private inFlight: Promise<void> | null = null;
  private running = false;
  private stopped = false;
  private firstDone: Promise<void>;
  private resolveFirst: () => void = () => undefined;
  constructor(probe: HealthProbe, options: ActiveCheckerOptions) {
    this.probe = probe;
    this.options = options;
    this.firstDone = new Promise((resolve) => {
      this.resolveFirst = resolve;
    });
  }

  /** Starts probing; the promise settles once the first result is in (or the checker stopped). A stopped checker stays stopped. */
  start(): Promise<void> {
    if (!this.running && !this.stopped) {
      this.running = true;
      this.runProbe();
    }
    return this.firstDone;
  }

  get probing(): boolean {
    return this.inFlight !== null;
  }

  /** Stops probing: cancels the next probe, cuts the one in flight and closes the connection. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopped = true;
    this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.probe.abort();
    await this.inFlight;
    await this.probe.close();
    this.resolveFirst();
  }

  private runProbe(): void {
    this.timer = undefined;
    if (!this.running || this.inFlight !== null) return;
    this.inFlight = this.probe.run().then((result) => {
      this.inFlight = null;
      if (!this.running) return;
      try {
        this.options.onResult(result);
      } catch (err) {
        this.options.onError?.(err);
      }
      this.resolveFirst();
      this.scheduleNext();
    });
  }

  private scheduleNext(): void {
    if (!this.running) return;
    const delay = jitteredIntervalMs(this.options.intervalMs, this.options.random);
    this.timer = this.options.clock.setTimeout(() => this.runProbe(), delay);
  }
}

import { Client } from 'undici';
import type { Clock } from '../core/clock.js';
import type { HealthCheckConfig } from '../core/config-types.js';
import { probeErrorText } from './probe-error-text.js';

/** What one health probe found. */
export interface ProbeResult {
  healthy: boolean;
  /** The status received, or null when no response came. */
  status: number | null;
  /** Why the probe failed; null when it passed. */
  error: string | null;
  durationMs: number;
}

/** One probe at a time against one target; `run` never rejects. */
export interface HealthProbe {
  run(): Promise<ProbeResult>;
  /** Cuts the probe in flight, if any (its `run` then resolves as a failure). */
  abort(): void;
  close(): Promise<void>;
}

/** A health endpoint answers in a few bytes; more than this is read no further and the connection is dropped. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * undici's own timers only guard against a deadline that never fires (a clock that is not
 * advanced, or a lost abort); the real deadline is the injected clock's, so tests drive it.
 */
const BACKSTOP_EXTRA_MS = 5_000;

const PROBE_HEADERS = { 'user-agent': 'shiftproxy-health-check', accept: '*/*' };

/** Sentinel abort reasons, made once: a timed-out probe is an expected outcome, not an exception. */
const TIMED_OUT = new Error('health probe timed out');
const STOPPED = new Error('health probe stopped');

/**
 * An HTTP GET of the check path on one target, through its own small undici client, never the
 * proxy's pool: probes must not show up in request counters or take a pooled connection from
 * real traffic. Each probe opens a fresh connection and closes it afterwards (as HAProxy does),
 * so a server closing an idle keep-alive socket can never turn into a false failure.
 */
export class HttpProbe implements HealthProbe {
  private readonly client: Client;
  private readonly config: HealthCheckConfig;
  private readonly clock: Clock;
  private controller: AbortController | null = null;

  constructor(targetUrl: string, config: HealthCheckConfig, clock: Clock) {
    this.config = config;
    this.clock = clock;
    this.client = new Client(new URL(targetUrl).origin, {
      connect: { timeout: config.timeoutMs },
      headersTimeout: config.timeoutMs + BACKSTOP_EXTRA_MS,
      bodyTimeout: config.timeoutMs + BACKSTOP_EXTRA_MS,
      pipelining: 1,
      allowH2: false,
    });
  }

  async run(): Promise<ProbeResult> {
    const controller = new AbortController();
    this.controller = controller;
    const started = this.clock.now();
    const deadline = this.clock.setTimeout(() => controller.abort(TIMED_OUT), this.config.timeoutMs);
    let status: number | null = null;
    try {
      const response = await this.client.request({
        method: 'GET',
        path: this.config.path,
        headers: PROBE_HEADERS,
        signal: controller.signal,
        reset: true,
      });
      status = response.statusCode;
      // The verdict needs only the status, but the probe is over only once the body is gone:
      // otherwise a slow body would hold the connection into the next probe.
      await response.body.dump({ limit: MAX_BODY_BYTES, signal: controller.signal });
      const { min, max } = this.config.expectStatus;
      const healthy = status >= min && status <= max;
      return { healthy, status, error: healthy ? null : `status ${status} (expected ${rangeText(min, max)})`, durationMs: this.clock.now() - started };
    } catch (err) {
      const reason = controller.signal.aborted ? controller.signal.reason : undefined;
      const error =
        reason === TIMED_OUT ? `timed out after ${this.config.timeoutMs} ms` : reason === STOPPED ? 'stopped' : probeErrorText(err);
      return { healthy: false, status, error, durationMs: this.clock.now() - started };
    } finally {
      this.clock.clearTimeout(deadline);
      if (this.controller === controller) this.controller = null;
    }
  }

  abort(): void {
    this.controller?.abort(STOPPED);
  }

  async close(): Promise<void> {
    this.abort();
    await this.client.destroy().catch(() => undefined);
  }
}

function rangeText(min: number, max: number): string {
  return min === max ? String(min) : `${min}-${max}`;
}

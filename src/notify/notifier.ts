import { request } from 'undici';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { NotifyTarget } from '../core/config-types.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { RolloutRecord } from '../rollout/rollout-record.js';
import { buildNotification, notifyEventsOf, slackPayload, type Notification } from './notification.js';

export interface NotifierOptions {
  /** The targets as configured now (a reload may change them; the next event uses the new ones). */
  targets: () => readonly NotifyTarget[];
  /** The dashboard's address for links (admin.publicUrl, else the admin listener). */
  dashboardUrl: () => string;
  clock: Clock;
  logger: Logger;
  /** The wait before the second attempt; doubled for each one after (1 s by default). */
  firstBackoffMs?: number;
  /** Deliveries waiting or in flight per target beyond which new ones are dropped (and counted). */
  maxPending?: number;
  /** Failures are logged once, then at most once per this long per target with the count between (60 s by default). */
  logQuietMs?: number;
}

export type DeliveryResult = 'delivered' | 'failed' | 'dropped';

interface TargetState {
  pending: number;
  results: Record<DeliveryResult, number>;
  lastLoggedAt: number;
  unlogged: number;
}

/**
 * Tells webhooks about rollout events: each history entry a transition adds becomes at most one
 * notification per target that subscribed to it. Delivery is best effort and off the
 * controller's path: `transition()` only queues, so a slow or dead endpoint never delays a
 * rollout. Each attempt has a timeout; a failed one is retried with a doubling wait, a bounded
 * number of times; what never arrives is counted and logged at a bounded rate. The target's URL
 * is never logged (Slack's carry their secret in the path): its name and host are.
 */
export class Notifier {
  private readonly options: NotifierOptions;
  private readonly state = new Map<string, TargetState>();
  private readonly timers = new Set<TimerHandle>();
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(options: NotifierOptions) {
    this.options = options;
  }

  /** The controller's transition listener: queues a notification for each new entry a target wants. */
  transition(previous: RolloutRecord | null, next: RolloutRecord): void {
    if (this.stopped) return;
    const targets = this.options.targets();
    if (targets.length === 0) return;
    const fresh = next.history.slice(previous?.id === next.id ? previous.history.length : 0);
    for (const entry of fresh) {
      const events = notifyEventsOf(entry);
      if (events.length === 0) continue;
      for (const target of targets) {
        const event = events.find((e) => target.events.includes(e));
        if (event) this.enqueue(target, buildNotification(event, entry, next, this.options.dashboardUrl()));
      }
    }
  }

  /** Delivered, failed and dropped notifications per target name, since start. */
  counts(): Map<string, Record<DeliveryResult, number>> {
    return new Map([...this.state].map(([name, s]) => [name, { ...s.results }]));
  }

  /** Target names to report even before their first notification (so a failure counter starts at 0). */
  targetNames(): string[] {
    return this.options.targets().map((t) => t.name);
  }

  /** Resolves once nothing is waiting or in flight (tests; shutdown does not wait for webhooks). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Cancels the retries still waiting; attempts in flight finish on their own timeouts. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) this.options.clock.clearTimeout(timer);
    this.timers.clear();
  }

  private stateOf(name: string): TargetState {
    let s = this.state.get(name);
    if (!s) {
      s = { pending: 0, results: { delivered: 0, failed: 0, dropped: 0 }, lastLoggedAt: -Infinity, unlogged: 0 };
      this.state.set(name, s);
    }
    return s;
  }

  private enqueue(target: NotifyTarget, notification: Notification): void {
    const s = this.stateOf(target.name);
    if (s.pending >= (this.options.maxPending ?? 100)) {
      s.results.dropped += 1;
      this.logFailure(target, s, `dropped: ${s.pending} notifications already waiting`, notification);
      return;
    }
    s.pending += 1;
    const body = JSON.stringify(target.format === 'slack' ? slackPayload(notification) : notification);
    const done = this.deliver(target, body, 1).then((outcome) => {
      s.pending -= 1;
      if (outcome === true) s.results.delivered += 1;
      else {
        s.results.failed += 1;
        this.logFailure(target, s, outcome, notification);
      }
    });
    this.inFlight.add(done);
    void done.finally(() => this.inFlight.delete(done));
  }

  /** true once delivered; otherwise why the last attempt failed. */
  private async deliver(target: NotifyTarget, body: string, attempt: number): Promise<true | string> {
    const failure = await this.attempt(target, body);
    if (failure === null) return true;
    if (attempt >= target.attempts || this.stopped) return `${failure} (after ${attempt} attempt${attempt === 1 ? '' : 's'})`;
    const waitMs = (this.options.firstBackoffMs ?? 1000) * 2 ** (attempt - 1);
    await new Promise<void>((resolve) => {
      const timer = this.options.clock.setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, waitMs);
      this.timers.add(timer);
      // stop() clears the timer: resolve anyway so the delivery settles as failed.
      if (this.stopped) resolve();
    });
    if (this.stopped) return `${failure} (gave up at shutdown after ${attempt} attempt${attempt === 1 ? '' : 's'})`;
    return this.deliver(target, body, attempt + 1);
  }

  /** null when the target took it (any 2xx). */
  private async attempt(target: NotifyTarget, body: string): Promise<string | null> {
    try {
      const response = await request(target.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'shiftproxy' },
        body,
        headersTimeout: target.timeoutMs,
        bodyTimeout: target.timeoutMs,
        signal: AbortSignal.timeout(target.timeoutMs),
      });
      await response.body.dump().catch(() => undefined);
      return response.statusCode >= 200 && response.statusCode < 300 ? null : `HTTP ${response.statusCode}`;
    } catch (err) {
      const { code, name } = err as { code?: unknown; name?: string };
      if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || name === 'TimeoutError' || name === 'AbortError') {
        return `timed out after ${target.timeoutMs} ms`;
      }
      return errorMessage(err);
    }
  }

  private logFailure(target: NotifyTarget, s: TargetState, why: string, notification: Notification): void {
    const now = this.options.clock.now();
    if (now - s.lastLoggedAt < (this.options.logQuietMs ?? 60_000)) {
      s.unlogged += 1;
      return;
    }
    this.options.logger.warn(
      { target: target.name, host: new URL(target.url).host, event: notification.event, service: notification.service, rollout: notification.rollout, error: why, unloggedSincePrevious: s.unlogged },
      'notification not delivered',
    );
    s.lastLoggedAt = now;
    s.unlogged = 0;
  }
}

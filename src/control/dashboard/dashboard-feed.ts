import type { ServerResponse } from 'node:http';
import type { Logger } from '../../core/logger.js';
import { errorMessage } from '../../core/errors.js';
import { buildHistory, buildSnapshot, rolloutUpdate, type DashboardSources } from './dashboard-snapshot.js';
import { sseFrame } from './sse-frame.js';
import { SseHub } from './sse-hub.js';
import { TrafficSampler, type SlotCounterLookup, type TargetCounterLookup } from './traffic-sampler.js';

export interface DashboardFeedOptions {
  logger: Logger;
  /** How often a snapshot goes out (and the counters are sampled). */
  intervalMs?: number;
  /** The span the per-slot rates are measured over. */
  windowMs?: number;
  heartbeatMs?: number;
  maxClients?: number;
  wallNow?: () => number;
  /** Each target's cumulative requests and failures, for per-target rates. */
  targets?: TargetCounterLookup;
}

/**
 * The dashboard's live feed, `GET /api/v1/events`: a `snapshot` of every service each interval
 * and a `rollout` event the moment a rollout changes, so a click on the page shows its effect
 * without waiting for the next snapshot.
 */
export class DashboardFeed {
  private readonly sources: DashboardSources;
  private readonly sampler: TrafficSampler;
  private readonly hub: SseHub;
  private readonly windowMs: number;
  private readonly wallNow: () => number;
  private readonly logger: Logger;

  constructor(sources: DashboardSources, counters: SlotCounterLookup, options: DashboardFeedOptions) {
    this.sources = sources;
    this.windowMs = options.windowMs ?? 5000;
    this.wallNow = options.wallNow ?? Date.now;
    this.logger = options.logger;
    this.sampler = new TrafficSampler(counters, { windowMs: this.windowMs, ...(options.targets ? { targets: options.targets } : {}) });
    this.hub = new SseHub({
      tick: () => {
        this.sampler.sample(sources.serviceNames());
        return this.snapshotFrame();
      },
      // A page that connects gets the recent past first, then the present.
      greeting: () => `${sseFrame('history', JSON.stringify(buildHistory(sources, this.windowMs)))}${this.snapshotFrame()}`,
      // Sampling starts with the first watcher, so its first rates arrive one interval later.
      onActive: () => this.sampler.sample(sources.serviceNames()),
      onIdle: () => this.sampler.reset(),
      onError: (err) => this.logger.error({ err: errorMessage(err) }, 'dashboard feed failed to build an event'),
      ...(options.intervalMs !== undefined ? { intervalMs: options.intervalMs } : {}),
      ...(options.heartbeatMs !== undefined ? { heartbeatMs: options.heartbeatMs } : {}),
      ...(options.maxClients !== undefined ? { maxClients: options.maxClients } : {}),
    });
  }

  get clientCount(): number {
    return this.hub.clientCount;
  }

  /** Whether the shared sampling timer runs (only while someone watches). */
  get sampling(): boolean {
    return this.hub.ticking;
  }

  attach(res: ServerResponse): void {
    this.hub.attach(res);
  }

  /** Called on every rollout transition; must never throw into the controller. */
  rolloutChanged(service: string): void {
    if (this.hub.clientCount === 0) return;
    try {
      this.hub.broadcast(sseFrame('rollout', JSON.stringify(rolloutUpdate(this.sources, service))));
    } catch (err) {
      this.logger.error({ service, err: errorMessage(err) }, 'dashboard feed failed to send a rollout event');
    }
  }

  close(): void {
    this.hub.close();
  }

  private snapshotFrame(): string {
    const snapshot = buildSnapshot(this.sources, (service) => this.sampler.traffic(service), this.windowMs, this.wallNow());
    return sseFrame('snapshot', JSON.stringify(snapshot));
  }
}

import type { Registry } from 'prom-client';
import type { Fleet } from '../cluster/fleet.js';
import type { WorkerFleet } from '../cluster/worker-fleet.js';
import { ScrapeMetric } from './scrape-metric.js';

/** shiftproxy_workers and shiftproxy_worker_restarts_total. */
export function registerWorkerMetrics(registry: Registry, fleet: Fleet, workers: WorkerFleet | null): void {
  new ScrapeMetric('shiftproxy_workers', 'Processes serving proxy traffic (the one process with workers: 1).', 'gauge', () => [
    { labels: {}, value: fleet.list().length },
  ]).registerIn(registry);
  new ScrapeMetric('shiftproxy_worker_restarts_total', 'Worker processes started to replace one that exited or stopped answering.', 'counter', () => [
    { labels: {}, value: workers?.restarts ?? 0 },
  ]).registerIn(registry);
}

import type { Registry } from 'prom-client';
import { ScrapeMetric } from './scrape-metric.js';

/** What the config gauges read at scrape time (the config reloader). */
export interface ReloadStatus {
  readonly lastSuccessful: boolean;
  /** Wall-clock ms of the last successful load (the start counts). */
  readonly lastSuccessAtMs: number;
}

/** The reload gauges, named like Prometheus's own `prometheus_config_last_reload_*`. */
export function registerConfigMetrics(registry: Registry, status: ReloadStatus): void {
  new ScrapeMetric('shiftproxy_config_last_reload_successful', 'Whether the last configuration reload attempt was successful (1) or not (0).', 'gauge', () => [
    { labels: {}, value: status.lastSuccessful ? 1 : 0 },
  ]).registerIn(registry);

  new ScrapeMetric('shiftproxy_config_last_reload_success_timestamp_seconds', 'Timestamp of the last successful configuration load (start or reload).', 'gauge', () => [
    { labels: {}, value: Math.floor(status.lastSuccessAtMs / 1000) },
  ]).registerIn(registry);
}

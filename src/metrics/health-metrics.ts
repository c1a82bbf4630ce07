import type { Registry } from 'prom-client';
import type { HealthRegistry } from '../health/health-registry.js';
import { ScrapeMetric, type Sample } from './scrape-metric.js';

/**
 * Health counters, read at scrape time. `shiftproxy_target_healthy` (the flag bits) is a data
 * plane metric; these say how it got there: probe results, state changes (flapping shows as a
 * fast-growing transition count) and ejections.
 */
export function registerHealthMetrics(registry: Registry, health: HealthRegistry): void {
  new ScrapeMetric('shiftproxy_health_checks_total', 'Active health check results by target (result: pass or fail).', 'counter', () =>
    health.counters().flatMap((c): Sample[] => {
      const labels = { service: c.service, slot: c.slot, target: c.target };
      return [
        { labels: { ...labels, result: 'pass' }, value: c.checksPassed },
        { labels: { ...labels, result: 'fail' }, value: c.checksFailed },
      ];
    }),
  ).registerIn(registry);

  new ScrapeMetric('shiftproxy_health_transitions_total', 'Health state changes by target (unknown, healthy, unhealthy, ejected).', 'counter', () =>
    health.counters().map((c) => ({ labels: { service: c.service, slot: c.slot, target: c.target }, value: c.transitions })),
  ).registerIn(registry);

  new ScrapeMetric('shiftproxy_outlier_ejections_total', 'Ejections by outlier detection, by target.', 'counter', () =>
    health.counters().map((c) => ({ labels: { service: c.service, slot: c.slot, target: c.target }, value: c.ejections })),
  ).registerIn(registry);
}

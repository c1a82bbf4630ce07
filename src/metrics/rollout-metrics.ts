import type { Registry } from 'prom-client';
import { ROLLOUT_STATES } from '../rollout/rollout-record.js';
import type { RolloutController } from '../rollout/rollout-controller.js';
import { ScrapeMetric, type Sample } from './scrape-metric.js';

/** shiftproxy_rollout_state and shiftproxy_rollbacks_total, read from the controller at scrape time. */
export function registerRolloutMetrics(registry: Registry, controller: RolloutController): void {
  new ScrapeMetric('shiftproxy_rollout_state', '1 for the state of the current or last rollout of each service, 0 for the others.', 'gauge', () => {
    const samples: Sample[] = [];
    for (const service of controller.serviceNames()) {
      const current = controller.get(service)?.state;
      if (!current) continue;
      for (const state of ROLLOUT_STATES) samples.push({ labels: { service, state }, value: state === current ? 1 : 0 });
    }
    return samples;
  }).registerIn(registry);

  new ScrapeMetric('shiftproxy_rollbacks_total', 'Rollbacks since the process started, by service and cause (aborted, alarm, inconclusive, unhealthy, hook, deadline).', 'counter', () =>
    [...controller.rollbacks].map(([key, value]) => {
      const [service, reason] = key.split('\u0000') as [string, string];
      return { labels: { service, reason }, value };
    }),
  ).registerIn(registry);
}

import type { Registry } from 'prom-client';
import type { Notifier } from '../notify/notifier.js';
import { ScrapeMetric, type Sample } from './scrape-metric.js';

const RESULTS = ['delivered', 'failed', 'dropped'] as const;

/** shiftproxy_notifications_total{target, result}: every configured target starts at 0 for each result, so increase() sees the first failure. */
export function registerNotifyMetrics(registry: Registry, notifier: Notifier): void {
  new ScrapeMetric(
    'shiftproxy_notifications_total',
    'Rollout notifications by target (its configured name) and result: delivered, failed (every attempt failed) or dropped (too many waiting).',
    'counter',
    () => {
      const counts = notifier.counts();
      const names = new Set([...notifier.targetNames(), ...counts.keys()]);
      const samples: Sample[] = [];
      for (const target of names) {
        const c = counts.get(target);
        for (const result of RESULTS) samples.push({ labels: { target, result }, value: c?.[result] ?? 0 });
      }
      return samples;
    },
  ).registerIn(registry);
}

import type { Registry } from 'prom-client';
import type { AlarmEvaluator } from '../analysis/alarm-evaluator.js';
import type { ServiceConfig } from '../core/config-types.js';
import { ScrapeMetric, type Sample } from './scrape-metric.js';

/** shiftproxy_alarm_value: each alarm's last measured value (canary/stable ratio for relativeTo alarms). */
export function registerAnalysisMetrics(registry: Registry, evaluator: AlarmEvaluator, services: () => readonly ServiceConfig[]): void {
  new ScrapeMetric('shiftproxy_alarm_value', 'Last value each alarm measured; for relativeTo: stable alarms, the canary/stable ratio.', 'gauge', () => {
    const samples: Sample[] = [];
    for (const [service, values] of evaluator.lastValues) {
      for (const [alarm, value] of values) samples.push({ labels: { service, alarm }, value });
    }
    return samples;
  }).registerIn(registry);

  // The bounds beside the values, so a dashboard draws each alarm against its own line.
  new ScrapeMetric(
    'shiftproxy_alarm_threshold',
    'Each configured alarm\'s bound, by kind: max or min (in the alarm\'s unit), maxRatio (for relativeTo: stable).',
    'gauge',
    () =>
      services().flatMap((service) =>
        service.rollout.analysis.alarms.flatMap((alarm) => {
          const bounds: [string, number | undefined][] =
            alarm.relativeTo === 'stable' ? [['maxRatio', alarm.maxRatio]] : [['max', alarm.max], ['min', alarm.min]];
          return bounds.filter((b): b is [string, number] => b[1] !== undefined).map(([bound, value]) => ({ labels: { service: service.name, alarm: alarm.name, bound }, value }));
        }),
      ),
  ).registerIn(registry);
}

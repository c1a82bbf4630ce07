import type { Registry } from 'prom-client';
import type { AlarmEvaluator } from '../analysis/alarm-evaluator.js';
import { ScrapeMetric, type Sample } from './scrape-metric.js';

/** shiftproxy_alarm_value: each alarm's last measured value (canary/stable ratio for relativeTo alarms). */
export function registerAnalysisMetrics(registry: Registry, evaluator: AlarmEvaluator): void {
  new ScrapeMetric('shiftproxy_alarm_value', 'Last value each alarm measured; for relativeTo: stable alarms, the canary/stable ratio.', 'gauge', () => {
    const samples: Sample[] = [];
    for (const [service, values] of evaluator.lastValues) {
      for (const [alarm, value] of values) samples.push({ labels: { service, alarm }, value });
    }
    return samples;
  }).registerIn(registry);
}

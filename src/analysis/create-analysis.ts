import type { Clock } from '../core/clock.js';
import type { ShiftproxyConfig } from '../core/config-types.js';
import { AlarmEvaluator } from './alarm-evaluator.js';
import { BuiltinWindows, type CountersLookup } from './builtin-windows.js';
import { judgeErrorRate, judgeLatency } from './judge.js';
import type { MetricsSource } from './metrics-source.js';
import { PrometheusClient } from './prometheus-client.js';
import { PrometheusMetricsSource } from './prometheus-metrics-source.js';

export interface Analysis {
  readonly evaluator: AlarmEvaluator;
  start(): void;
  stop(): Promise<void>;
}

/**
 * Builds alarm evaluation for a config: the builtin windows (or Prometheus) as the source of
 * builtin metrics, a Prometheus client for `promql` alarms when one is configured, and the
 * judge for `relativeTo: stable`. Null when no service has alarms.
 */
export function createAnalysis(config: ShiftproxyConfig, deps: { lookup: CountersLookup; clock: Clock; refresh?: () => Promise<void> }): Analysis | null {
  const alarms = config.services.flatMap((s) => s.rollout.analysis.alarms);
  if (alarms.length === 0) return null;
  const prometheus = config.metrics.prometheus ? new PrometheusClient({ url: config.metrics.prometheus.url, timeoutMs: config.metrics.prometheus.timeoutMs }) : undefined;
  let windows: BuiltinWindows | undefined;
  let source: MetricsSource;
  if (config.metrics.provider === 'prometheus' && prometheus) {
    source = new PrometheusMetricsSource(prometheus);
  } else {
    const sizing = BuiltinWindows.sizing(alarms.filter((a) => a.metric !== undefined).map((a) => a.windowMs));
    windows = new BuiltinWindows({
      services: config.services.map((s) => s.name),
      lookup: deps.lookup,
      clock: deps.clock,
      ...sizing,
      ...(deps.refresh ? { refresh: deps.refresh } : {}),
    });
    source = windows;
  }
  const evaluator = new AlarmEvaluator({
    config,
    source,
    ...(prometheus ? { promql: prometheus } : {}),
    judge: { errorRate: judgeErrorRate, latency: judgeLatency },
  });
  return {
    evaluator,
    start: () => windows?.start(),
    stop: async () => {
      windows?.stop();
      await prometheus?.close();
    },
  };
}

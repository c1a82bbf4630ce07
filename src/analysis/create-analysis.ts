import type { Clock } from '../core/clock.js';
import type { MetricsConfig, ShiftproxyConfig } from '../core/config-types.js';
import { sameValue } from '../core/same-value.js';
import { AlarmEvaluator } from './alarm-evaluator.js';
import { BuiltinWindows, type CountersLookup, type MirrorLookup, type RecentTraffic } from './builtin-windows.js';
import { judgeErrorRate, judgeLatency } from './judge.js';
import type { MetricsSource } from './metrics-source.js';
import { PrometheusClient } from './prometheus-client.js';
import { PrometheusMetricsSource } from './prometheus-metrics-source.js';

export interface Analysis {
  readonly evaluator: AlarmEvaluator;
  /** The builtin windows' recent per-slot traffic (whatever the provider), for the dashboard's charts. */
  recentTraffic(service: string, windowMs: number): RecentTraffic;
  start(): void;
  /** A reloaded config: alarms, windows and the metrics provider apply from the next check. */
  reconfigure(config: ShiftproxyConfig): void;
  stop(): Promise<void>;
}

/**
 * Builds alarm evaluation for a config: the builtin windows (or Prometheus) as the source of
 * builtin metrics, a Prometheus client for `promql` alarms when one is configured, and the
 * judge for `relativeTo: stable`. The builtin windows sample from the start whatever the
 * provider and even with no alarm yet, so stable has history when a rollout begins, when a
 * reload adds the first alarm, or when one switches the provider back to builtin.
 */
export function createAnalysis(
  config: ShiftproxyConfig,
  deps: { lookup: CountersLookup; mirrorLookup?: MirrorLookup; clock: Clock; refresh?: () => Promise<void> },
): Analysis {
  const windows = new BuiltinWindows({
    services: config.services.map((s) => s.name),
    lookup: deps.lookup,
    ...(deps.mirrorLookup ? { mirrorLookup: deps.mirrorLookup } : {}),
    clock: deps.clock,
    ...windowSizing(config),
    ...(deps.refresh ? { refresh: deps.refresh } : {}),
  });
  let metrics: MetricsConfig = config.metrics;
  let prometheus = prometheusFor(metrics);
  const sourceFor = (m: MetricsConfig): MetricsSource => (m.provider === 'prometheus' && prometheus ? new PrometheusMetricsSource(prometheus) : windows);
  const evaluator = new AlarmEvaluator({
    config,
    source: sourceFor(metrics),
    ...(prometheus ? { promql: prometheus } : {}),
    // Mirror results exist only in the proxy's own counters, whichever provider judges traffic.
    mirror: windows,
    judge: { errorRate: judgeErrorRate, latency: judgeLatency },
  });
  return {
    evaluator,
    recentTraffic: (service, windowMs) => windows.recentTraffic(service, windowMs),
    start: () => windows.start(),
    reconfigure(next) {
      windows.resize(windowSizing(next));
      if (!sameValue(metrics.prometheus, next.metrics.prometheus)) {
        // Queries in flight finish on the old client (close waits for them), later ones use the new one.
        void prometheus?.close();
        prometheus = prometheusFor(next.metrics);
      }
      metrics = next.metrics;
      evaluator.reconfigure({ config: next, source: sourceFor(metrics), ...(prometheus ? { promql: prometheus } : {}) });
    },
    stop: async () => {
      windows.stop();
      await prometheus?.close();
    },
  };
}

function prometheusFor(metrics: MetricsConfig): PrometheusClient | undefined {
  return metrics.prometheus ? new PrometheusClient({ url: metrics.prometheus.url, timeoutMs: metrics.prometheus.timeoutMs }) : undefined;
}

function windowSizing(config: ShiftproxyConfig): { sampleIntervalMs: number; retentionMs: number } {
  const alarms = config.services.flatMap((s) => s.rollout.analysis.alarms);
  return BuiltinWindows.sizing(
    alarms.filter((a) => a.metric !== undefined).map((a) => a.windowMs),
    config.services.map((s) => s.rollout.analysis.intervalMs),
  );
}

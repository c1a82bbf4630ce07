import type { ServiceConfig, ShiftproxyConfig } from '../core/config-types.js';

/** What the simulation changed from the user's config, so the summary can say so. */
export interface SimulationAdjustments {
  hooksSkipped: string[];
  promqlAlarmsSkipped: string[];
}

/**
 * The config a simulation runs: the chosen service alone (matching every request), its slots pointed at the fake
 * backends, everything on loopback with a throwaway state file, the builtin metrics provider.
 * Webhooks would call real systems and PromQL alarms need a Prometheus that scrapes this
 * throwaway proxy, so both are left out (and reported). `speed` is the simulation clock's.
 */
export function simulationConfig(
  config: ShiftproxyConfig,
  service: ServiceConfig,
  backends: { blue: string; green: string },
  statePath: string,
  speed = 1,
): { config: ShiftproxyConfig; adjustments: SimulationAdjustments } {
  const hooks = service.rollout.hooks;
  const hooksSkipped = (['beforeAllowTraffic', 'afterAllowTraffic', 'onEvent'] as const).filter((h) => hooks[h] !== undefined);
  const promqlAlarmsSkipped = service.rollout.analysis.alarms.filter((a) => a.promql !== undefined).map((a) => a.name);
  const simulated: ServiceConfig = {
    ...structuredClone(service),
    // The load generator talks to the proxy by address; the service is alone, so it takes everything.
    match: { pathPrefix: '/' },
    blue: { targets: [{ url: backends.blue, weight: 1 }] },
    green: { targets: [{ url: backends.green, weight: 1 }] },
    retry: { attempts: 0 },
    // The fake backends speak HTTP/1.1 (the proxy translates, so the rollout is the same).
    upstream: { http2: false },
  };
  delete simulated.testListen;
  // Health checks run on the simulation's fast clock, but a probe's answer takes real time: a
  // 2 s probe timeout would be 33 ms at 60x and fail on any busy machine. Its timeout stays the
  // configured length of real time; how often probes run still follows the schedule's clock.
  if (simulated.healthCheck) simulated.healthCheck.timeoutMs *= speed;
  simulated.rollout.hooks = { timeoutMs: hooks.timeoutMs };
  simulated.rollout.analysis.alarms = simulated.rollout.analysis.alarms.filter((a) => a.promql === undefined);
  return {
    config: {
      listen: { host: '127.0.0.1', port: 0 },
      listeners: [{ address: { host: '127.0.0.1', port: 0 }, http2: false }],
      // One process: the simulated clock drives health and analysis, and the load is small.
      workers: 1,
      admin: { listen: { host: '127.0.0.1', port: 0 }, token: '', tokens: [] },
      instance: { name: '' },
      state: { store: 'file', path: statePath, etcd: { endpoints: ['http://127.0.0.1:2379'], prefix: '/shiftproxy/', leaseTtlMs: 10_000 } },
      metrics: { provider: 'builtin' },
      server: { ...config.server, drainTimeoutMs: 1000, shutdownDelayMs: 0 },
      notify: [],
      services: [simulated],
    },
    adjustments: { hooksSkipped, promqlAlarmsSkipped },
  };
}

import { availableParallelism } from 'node:os';
import type { ShiftproxyConfig, WorkersSetting } from '../core/config-types.js';

/** `workers: auto` is one data-plane process per core the process may use. */
export function resolveWorkerCount(setting: WorkersSetting): number {
  return setting === 'auto' ? availableParallelism() : setting;
}

/**
 * The config a worker builds its data plane from. Per-target `limits` bound connections from
 * the whole proxy, but each worker has its own pools, so each gets an equal share (rounded
 * down, at least one connection), and the fleet stays within the configured numbers.
 */
export function workerConfig(config: ShiftproxyConfig, workers: number): ShiftproxyConfig {
  if (workers <= 1 || !config.services.some((s) => s.limits)) return config;
  return {
    ...config,
    services: config.services.map((service) =>
      service.limits
        ? {
            ...service,
            limits: {
              maxConnections: Math.max(1, Math.floor(service.limits.maxConnections / workers)),
              maxPending: Math.floor(service.limits.maxPending / workers),
            },
          }
        : service,
    ),
  };
}

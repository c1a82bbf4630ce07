import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { SystemClock, type Clock } from './core/clock.js';
import type { ShiftproxyConfig } from './core/config-types.js';
import type { Logger } from './core/logger.js';
import { formatListen } from './core/types.js';
import { AdminServer } from './control/admin-server.js';
import { registerCoreRoutes } from './control/core-routes.js';
import { HealthRegistry } from './health/health-registry.js';
import { registerDataPlaneMetrics } from './metrics/data-plane-metrics.js';
import { registerHealthMetrics } from './metrics/health-metrics.js';
import { DataPlane } from './proxy/data-plane.js';

export interface RunningShiftproxy {
  readonly config: ShiftproxyConfig;
  readonly dataPlane: DataPlane;
  /** Active checks and outlier detection; subscribe to slot availability here. */
  readonly health: HealthRegistry;
  readonly admin: AdminServer;
  readonly registry: Registry;
  /** Bound addresses: the proxy listener first, then test listeners, in config order. */
  readonly proxyAddresses: AddressInfo[];
  readonly adminAddress: AddressInfo;
  /** Drains the proxy (up to the configured drain timeout unless given), then closes everything. */
  stop(drainTimeoutMs?: number): Promise<{ completed: boolean; cut: number }>;
}

export interface StartOptions {
  logger: Logger;
  /** Collect Node process metrics (off in tests that start many instances). */
  processMetrics?: boolean;
  /** Time for health checks and ejections (tests inject a VirtualClock); the system clock by default. */
  clock?: Clock;
  /** Uniform in [0, 1) for probe jitter; Math.random by default. */
  random?: () => number;
}

/** The composition root: config -> data plane -> health -> metrics -> admin -> first probes -> listen. */
export async function startShiftproxy(config: ShiftproxyConfig, options: StartOptions): Promise<RunningShiftproxy> {
  const { logger } = options;
  const clock = options.clock ?? new SystemClock();
  const dataPlane = new DataPlane(config);
  const registry = new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });
  registerDataPlaneMetrics(registry, dataPlane);

  // Health: built right after the data plane, so targets with active checks are
  // flagged "pending" before any request can reach them.
  const health = new HealthRegistry(dataPlane, {
    clock,
    random: options.random ?? Math.random,
    logger: logger.child({ component: 'health' }),
  });
  registerHealthMetrics(registry, health);

  const contributors = { health: (service: string) => health.describe(service) };

  let draining = false;
  const admin = new AdminServer({ listen: config.admin.listen, token: config.admin.token, logger });
  registerCoreRoutes(admin.router, { dataPlane, registry, isDraining: () => draining, contributors });

  let proxyAddresses: AddressInfo[];
  let adminAddress: AddressInfo;
  try {
    // Wait for each checked target's first probe (bounded by its timeout) before listening,
    // so a start or restart does not answer 503 while health is still unknown.
    await health.start();
    proxyAddresses = await dataPlane.listen();
    adminAddress = await admin.listen();
  } catch (err) {
    await health.stop();
    await dataPlane.close();
    await admin.close();
    throw err;
  }
  logger.info(
    {
      proxy: proxyAddresses.map(addressText),
      admin: addressText(adminAddress),
      services: config.services.map((s) => s.name),
      adminToken: config.admin.token ? 'set' : 'none (loopback only)',
    },
    'shiftproxy listening',
  );

  let stopping: Promise<{ completed: boolean; cut: number }> | null = null;
  return {
    config,
    dataPlane,
    health,
    admin,
    registry,
    proxyAddresses,
    adminAddress,
    stop(drainTimeoutMs = config.server.drainTimeoutMs) {
      if (stopping) return stopping;
      draining = true;
      stopping = (async () => {
        logger.info({ drainTimeoutMs, inFlight: dataPlane.server.inFlight() }, 'draining');
        const result = await dataPlane.drain(drainTimeoutMs);
        await health.stop();
        await admin.close();
        await dataPlane.close();
        logger.info(result, result.completed ? 'drained' : 'drain deadline reached; remaining connections were cut');
        return result;
      })();
      return stopping;
    },
  };
}

function addressText(address: AddressInfo): string {
  return formatListen({ host: address.address, port: address.port });
}

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { parseConfigText } from '../../src/config/load-config.js';
import type { ShiftproxyConfig } from '../../src/core/config-types.js';
import { silentLogger } from '../../src/core/logger.js';
import { startShiftproxy, type RunningShiftproxy, type StartOptions } from '../../src/main.js';

export interface ServiceSpec {
  name?: string;
  blue: string[] | { url: string; weight?: number }[];
  green: string[] | { url: string; weight?: number }[];
  [key: string]: unknown;
}

export interface ConfigSpec {
  services: ServiceSpec[];
  [key: string]: unknown;
}

/** A full config (loopback, port 0 everywhere, a temp state file) from a compact spec, through the real loader. */
export function buildConfig(spec: ConfigSpec): ShiftproxyConfig {
  const { services, ...rest } = spec;
  const document = {
    // `listeners` replaces `listen`: a spec with its own gets no default.
    ...('listeners' in rest ? {} : { listen: '127.0.0.1:0' }),
    admin: { listen: '127.0.0.1:0' },
    state: { path: join(mkdtempSync(join(tmpdir(), 'shiftproxy-test-')), 'state.json') },
    ...rest,
    services: services.map((service, index) => {
      const { blue, green, ...other } = service;
      const targets = (list: ServiceSpec['blue']) => list.map((t) => (typeof t === 'string' ? { url: t } : t));
      return { name: service.name ?? `svc${index}`, ...other, blue: { targets: targets(blue) }, green: { targets: targets(green) } };
    }),
  };
  return parseConfigText(stringify(document), { env: {} });
}

/**
 * `SHIFTPROXY_TEST_WORKERS=N npm test` runs every proxy the helpers start with N worker
 * processes (the built worker from dist/, which the global setup compiles), so the proxy and
 * process-level tests cover `workers: N` as well as the single process. Unset, or 1: one process.
 */
export const TEST_WORKERS = Number(process.env.SHIFTPROXY_TEST_WORKERS ?? 1);

/** The worker program tests start: the sources run under vitest, the workers from the build. */
export const WORKER_ENTRY = resolve(__dirname, '../../dist/cluster/worker-main.js');

/** Options that start `startShiftproxy` with the test workers (see TEST_WORKERS). */
export function testWorkerOptions(workers = TEST_WORKERS): Pick<StartOptions, 'workers' | 'workerEntry'> {
  return { workers, workerEntry: WORKER_ENTRY };
}

export interface ProxyUnderTest {
  running: RunningShiftproxy;
  port: number;
  url: string;
  adminPort: number;
  adminUrl: string;
  /**
   * Every routing change made so far is applied by the processes that serve, and everything
   * they counted is in `running.dataPlane`'s counters. Nothing to wait for with one process.
   */
  settle(): Promise<void>;
  /** Sets a service's canary weight the way the controller does: resolved once every serving process applied it. */
  setCanaryWeight(service: string, weight: number): Promise<void>;
  /** Sets live slot and weight together, as a promotion does (applied everywhere when resolved). */
  setRouting(service: string, state: { live: 'blue' | 'green'; canaryWeight: number }): Promise<void>;
  stop(): Promise<void>;
}

export async function startProxy(
  spec: ConfigSpec | ShiftproxyConfig,
  options: { workers?: number; workerTimeouts?: StartOptions['workerTimeouts']; clock?: StartOptions['clock']; logger?: StartOptions['logger'] } = {},
): Promise<ProxyUnderTest> {
  const config = 'listen' in spec && typeof spec.listen === 'object' ? (spec as ShiftproxyConfig) : buildConfig(spec as ConfigSpec);
  const running = await startShiftproxy(config, {
    logger: options.logger ?? silentLogger(),
    processMetrics: false,
    ...(options.clock ? { clock: options.clock } : {}),
    ...testWorkerOptions(options.workers),
    ...(options.workerTimeouts ? { workerTimeouts: options.workerTimeouts } : {}),
  });
  const port = running.proxyAddresses[0]?.port as number;
  return {
    running,
    port,
    url: `http://127.0.0.1:${port}`,
    adminPort: running.adminAddress.port,
    adminUrl: `http://127.0.0.1:${running.adminAddress.port}`,
    settle: () => running.fleet.settle(),
    setCanaryWeight: async (service, weight) => {
      await running.routing.setRouting(service, { live: running.routing.routing(service).live, canaryWeight: weight });
    },
    setRouting: async (service, state) => {
      await running.routing.setRouting(service, state);
    },
    stop: async () => {
      await running.stop(0);
    },
  };
}

import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { VirtualClock } from '../../src/core/clock.js';
import type { ShiftproxyConfig } from '../../src/core/config-types.js';
import { silentLogger } from '../../src/core/logger.js';
import { DataPlane } from '../../src/proxy/data-plane.js';
import { HookRunner } from '../../src/rollout/hook-runner.js';
import type { AnalysisPort, LeadershipPort, SlotHealthPort } from '../../src/rollout/ports.js';
import { RolloutController } from '../../src/rollout/rollout-controller.js';
import { FileStateStore } from '../../src/state/file-state-store.js';
import type { StateStore } from '../../src/state/state-store.js';
import { buildConfig, type ConfigSpec } from './proxy-harness.js';
import { until, WAIT_MS } from './wait-for.js';
import { advanceTimerByTimer } from './advance-timer-by-timer.js';

export interface ControllerUnderTest {
  config: ShiftproxyConfig;
  clock: VirtualClock;
  dataPlane: DataPlane;
  store: StateStore;
  controller: RolloutController;
  /** Advances virtual time, letting hooks and saves settle between timers. */
  advance(ms: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The real controller with a real data plane (not listening), the real file store and a
 * virtual clock: rollouts that take minutes run in milliseconds, tick by tick.
 */
export async function startController(
  spec: ConfigSpec | ShiftproxyConfig,
  options: { clock?: VirtualClock; store?: StateStore; health?: SlotHealthPort; analysis?: AnalysisPort; persistRetryMs?: number; leadership?: LeadershipPort } = {},
): Promise<ControllerUnderTest> {
  const config = 'listen' in spec && typeof spec.listen === 'object' ? (spec as ShiftproxyConfig) : buildConfig(spec as ConfigSpec);
  const clock = options.clock ?? new VirtualClock(0, Date.UTC(2026, 10, 22, 12));
  const dataPlane = new DataPlane(config);
  const store = options.store ?? new FileStateStore(config.state.path);
  await store.open();
  const controller = new RolloutController({
    config,
    routing: dataPlane,
    store,
    clock,
    logger: silentLogger(),
    hooks: new HookRunner(silentLogger()),
    ...(options.health ? { health: options.health } : {}),
    ...(options.analysis ? { analysis: options.analysis } : {}),
    ...(options.persistRetryMs ? { persistRetryMs: options.persistRetryMs } : {}),
    ...(options.leadership ? { leadership: options.leadership } : {}),
  });
  await controller.restore();
  controller.resumeActive();
  return {
    config,
    clock,
    dataPlane,
    store,
    controller,
    async advance(ms) {
      // Timer by timer: each one's transition is saved (real file I/O) before the next is due.
      await advanceTimerByTimer(clock, ms, () => controller.whenIdle());
    },
    async close() {
      await controller.stop();
      await store.close();
      await dataPlane.close();
    },
  };
}

export interface HookServer {
  url: string;
  calls: { path: string; body: Record<string, unknown> }[];
  /** How the next calls are answered: a status, or 'hang' to never answer. */
  respond: (path: string) => number | 'hang';
  close(): Promise<void>;
}

/** A real webhook receiver on loopback that records every call. */
export async function startHookServer(): Promise<HookServer> {
  const hanging = new Set<IncomingMessage>();
  const hooks: HookServer = {
    url: '',
    calls: [],
    respond: () => 200,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      hooks.calls.push({ path: req.url ?? '', body: body ? (JSON.parse(body) as Record<string, unknown>) : {} });
      const answer = hooks.respond(req.url ?? '');
      if (answer === 'hang') {
        hanging.add(req);
        return;
      }
      res.writeHead(answer, { 'content-type': 'text/plain' });
      res.end(answer >= 300 ? 'smoke test failed: /checkout answered 500' : 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  hooks.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return hooks;
}

/** Waits (in real time) until `check` holds, for hooks whose HTTP calls run on the real clock. */
export function eventually(check: () => boolean | Promise<boolean>, timeoutMs = WAIT_MS): Promise<void> {
  return until(check, 'the condition', timeoutMs);
}

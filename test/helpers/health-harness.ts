import { Writable } from 'node:stream';
import { VirtualClock } from '../../src/core/clock.js';
import { createLogger, type Logger } from '../../src/core/logger.js';
import type { HealthRegistry } from '../../src/health/health-registry.js';
import { DataPlane } from '../../src/proxy/data-plane.js';
import { buildConfig } from './proxy-harness.js';
import { until, WAIT_MS } from './wait-for.js';

/** A pino logger whose lines land in `lines`, parsed. */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: createLogger({ level: 'info', destination }), lines };
}

/** The transition lines of a captured log, as `from>to` per target url. */
export function transitions(lines: Record<string, unknown>[]): { target: string; from: string; to: string }[] {
  return lines
    .filter((l) => l.msg === 'target health changed')
    .map((l) => ({ target: String(l.target), from: String(l.from), to: String(l.to) }));
}

/** A data plane (never listening) for one service `svc` built through the real config loader. */
export function dataPlaneFor(service: { blue: string[]; green: string[]; [key: string]: unknown }): DataPlane {
  return new DataPlane(buildConfig({ services: [{ name: 'svc', ...service }] }));
}

/** Waits, in real time, until no probe is running: results of the probes a clock move started are in. */
export async function settleProbes(registry: HealthRegistry, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (registry.probesInFlight() > 0) {
    if (performance.now() > deadline) throw new Error(`probes still running after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  // Let the result callbacks that follow the probe's promise run.
  await new Promise((resolve) => setImmediate(resolve));
}

/** Moves virtual time by `ms` and waits for the probes it started to finish. */
export async function tick(clock: VirtualClock, registry: HealthRegistry, ms: number): Promise<void> {
  await clock.advanceAsync(ms);
  await settleProbes(registry);
}

export { until, VirtualClock };

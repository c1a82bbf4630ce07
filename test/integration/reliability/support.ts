import { afterEach, expect } from 'vitest';
import type { TrafficCounters } from '../../../src/core/traffic-counters.js';
import type { Target } from '../../../src/proxy/target.js';
import { startProxy, type ConfigSpec, type ProxyUnderTest } from '../../helpers/proxy-harness.js';
import { ScriptedUpstream, type UpstreamScript } from '../../helpers/scripted-upstream.js';
import { until, WAIT_MS } from '../../helpers/wait-for.js';

export { until, WAIT_MS };

const cleanup: (() => Promise<void> | void)[] = [];

/** Registers the afterEach that stops, in reverse order, everything a test started. */
export function useCleanup(): void {
  afterEach(async () => {
    while (cleanup.length) await cleanup.pop()?.();
  });
}

export function onCleanup(fn: () => Promise<void> | void): void {
  cleanup.push(fn);
}

export async function upstream(script?: UpstreamScript): Promise<ScriptedUpstream> {
  const server = new ScriptedUpstream(script);
  await server.start();
  cleanup.push(() => server.stop());
  return server;
}

/** Short timeouts so failure tests finish quickly; callers override per test. */
export const FAST_TIMEOUTS = { connect: 300, response: 500, idle: 1000 };

export async function proxy(spec: ConfigSpec): Promise<ProxyUnderTest> {
  const running = await startProxy(spec);
  cleanup.push(() => running.stop());
  return running;
}

/** The green slot of single-slot tests: nothing listens there, and at weight 0 nothing is sent there. */
export const UNUSED_GREEN = 'http://127.0.0.1:9';

/** A proxy with one service `svc`, live on blue = `blueUrl`, with short timeouts. */
export function oneService(blueUrl: string | string[], extra: Record<string, unknown> = {}, top: Record<string, unknown> = {}): Promise<ProxyUnderTest> {
  const blue = Array.isArray(blueUrl) ? blueUrl : [blueUrl];
  return proxy({ ...top, services: [{ name: 'svc', blue, green: [UNUSED_GREEN], timeouts: FAST_TIMEOUTS, ...extra }] });
}

export function countersOf(p: ProxyUnderTest, service = 'svc'): TrafficCounters {
  return p.running.dataPlane.runtime(service).counters.blue.stable;
}

/** Every outcome counted for the service's stable blue counters: status answers, failures, 503s and aborts. */
export function outcomes(p: ProxyUnderTest, service = 'svc'): { byStatus: Record<number, number>; error: number; aborted: number; unavailable: number } {
  const c = countersOf(p, service);
  const byStatus: Record<number, number> = {};
  c.byStatus.forEach((v, status) => {
    if (v > 0) byStatus[status] = v;
  });
  return { byStatus, error: c.upstreamFailures, aborted: c.clientAborts, unavailable: c.unavailable };
}

/**
 * The proxy is quiet: once traffic stops, no request is left in flight, no target
 * counts an active request and no undici pool holds a running or pending request.
 */
export async function expectQuiet(p: ProxyUnderTest, timeoutMs = WAIT_MS): Promise<void> {
  const dp = p.running.dataPlane;
  const deadline = performance.now() + timeoutMs;
  const state = () =>
    dp.runtimesList().flatMap((r) =>
      r.allTargets().map((t) => {
        const pool = poolStats(p, t);
        return { url: t.url, active: t.counters.active, running: pool.running, pending: pool.pending };
      }),
    );
  const inFlight = () => p.running.fleet.inFlight();
  for (;;) {
    await p.settle();
    const busy = inFlight() !== 0 || state().some((t) => t.active !== 0 || t.running !== 0 || t.pending !== 0);
    if (!busy) return;
    if (performance.now() > deadline) break;
    await sleep(10);
  }
  expect({ inFlight: inFlight(), targets: state() }).toEqual({
    inFlight: 0,
    targets: state().map((t) => ({ ...t, active: 0, running: 0, pending: 0 })),
  });
}

/**
 * A target's upstream pool: the process's own, or, with workers, the sum of the workers' as
 * they last reported (the primary's pools never carry a request then; settle first).
 */
export function poolStats(p: ProxyUnderTest, target: Target): { connected: number; running: number; pending: number } {
  const workers = p.running.workers;
  if (workers) return workers.upstreamPool(target.service, target.slot, target.url);
  const { connected, running, pending } = target.pool.stats;
  return { connected, running, pending };
}

export async function scrapeMetrics(p: ProxyUnderTest): Promise<string> {
  const res = await fetch(`${p.adminUrl}/metrics`);
  return res.text();
}

/** The value of one sample in Prometheus text, matched by name and a label subset; 0 when absent. */
export function metricValue(text: string, name: string, labels: Record<string, string>): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf('}');
    const labelText = line.slice(name.length + 1, close);
    const ok = Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`));
    if (ok) total += Number(line.slice(close + 1).trim());
  }
  return total;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}


/** A well-formed request head for the raw client. */
export function head(lines: string[], method = 'GET', path = '/', version = 'HTTP/1.1'): string {
  return `${method} ${path} ${version}\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`;
}

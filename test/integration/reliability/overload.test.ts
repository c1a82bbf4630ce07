import { createServer, type Server } from 'node:http';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { listenOnLoopback } from '../../helpers/loopback-server.js';
import { startProxy } from '../../helpers/proxy-harness.js';

/** Per-target connection and queue limits; the excess is refused at once. */

const WAIT_MS = 10_000;

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

interface HeldBackend {
  url: string;
  name: string;
  /** Requests received, by path. */
  received: string[];
  inFlight: number;
  maxInFlight: number;
  openSockets: number;
  maxOpenSockets: number;
  /** Answers every request held so far, and from now on answers at once. */
  release(): void;
}

/**
 * Answers its name, but holds every request until `release()` (or at once when `hold` is
 * false): a slow target whose slowness the test decides, not the clock. Counts concurrent
 * requests and sockets.
 */
async function heldBackend(name: string, hold = true): Promise<HeldBackend> {
  const waiting: (() => void)[] = [];
  let holding = hold;
  const state: HeldBackend = {
    url: '',
    name,
    received: [],
    inFlight: 0,
    maxInFlight: 0,
    openSockets: 0,
    maxOpenSockets: 0,
    release: () => {
      holding = false;
      for (const answer of waiting.splice(0)) answer();
    },
  };
  const server: Server = createServer((req, res) => {
    state.received.push(req.url ?? '');
    state.inFlight += 1;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    const answer = () => {
      state.inFlight -= 1;
      res.end(name);
    };
    if (holding) waiting.push(answer);
    else answer();
  });
  server.on('connection', (socket) => {
    state.openSockets += 1;
    state.maxOpenSockets = Math.max(state.maxOpenSockets, state.openSockets);
    socket.once('close', () => (state.openSockets -= 1));
  });
  state.url = await listenOnLoopback(server, cleanup);
  cleanup.push(async () => state.release());
  return state;
}

interface Outcome {
  path: string;
  status: number;
  body: string;
}

function send(url: string, dispatcher: Agent, signal?: AbortSignal): Promise<Outcome> {
  const path = new URL(url).pathname;
  return request(url, { dispatcher, ...(signal ? { signal } : {}) }).then(async (res) => ({ path, status: res.statusCode, body: await res.body.text() }));
}

function clientAgent(): Agent {
  const agent = new Agent({ connections: 100 });
  cleanup.push(() => agent.close());
  return agent;
}

/** Polls `check` until it is true; `WAIT_MS` is only a failure bound. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + WAIT_MS;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('per-target limits', () => {
  it('3x the capacity of a held target: the excess gets 503 at once, the target never sees more than its connections', async () => {
    const slow = await heldBackend('blue');
    const green = await heldBackend('green', false);
    const proxy = await startProxy({ services: [{ name: 'shop', blue: [slow.url], green: [green.url], limits: { maxConnections: 2, maxPending: 2 } }] });
    cleanup.push(() => proxy.stop());
    const agent = clientAgent();

    const settled: Outcome[] = [];
    const all = Array.from({ length: 12 }, (_, i) => send(`${proxy.url}/r${i}`, agent).then((o) => void settled.push(o)));
    // The target answers nothing until the test says so: the 8 refusals come while the four it
    // accepted (two on connections, two queued) are still waiting.
    await until(() => settled.length >= 8, 'eight answers while the target holds its requests');
    const refused = [...settled];
    expect(refused.map((o) => o.status)).toEqual(Array(8).fill(503));
    for (const o of refused) expect(JSON.parse(o.body)).toEqual({ error: 'every healthy upstream is at its connection limit', service: 'shop' });
    expect(slow.received).toHaveLength(2);
    slow.release();
    await Promise.all(all);
    const served = settled.slice(8);
    expect(served.map((o) => `${o.status} ${o.body}`)).toEqual(Array(4).fill('200 blue'));
    // Two on connections, two queued behind them: the queued pair reached the target only once a connection was free.
    expect(slow.maxInFlight).toBe(2);
    expect(slow.maxOpenSockets).toBe(2);
    expect(slow.received).toHaveLength(4);
    // Overload never moves traffic to the other version.
    expect(green.received).toEqual([]);
    // The refusals are counted as 503s of the slot that refused them.
    const metrics = await (await request(`${proxy.adminUrl}/metrics`)).body.text();
    expect(metrics).toMatch(/^shiftproxy_requests_total\{service="shop",slot="blue",role="stable",code="503"\} 8$/m);
    expect(metrics).toMatch(/^shiftproxy_target_healthy\{service="shop",slot="blue",target="[^"]+"\} 1$/m);
  });

  it('a queued request whose client left is dropped before it reaches the target', async () => {
    const slow = await heldBackend('blue');
    const green = await heldBackend('green', false);
    const proxy = await startProxy({ services: [{ name: 'shop', blue: [slow.url], green: [green.url], limits: { maxConnections: 1, maxPending: 1 } }] });
    cleanup.push(() => proxy.stop());
    const agent = clientAgent();
    const target = proxy.running.dataPlane.runtime('shop').allTargets().find((t) => t.url === slow.url);
    if (!target) throw new Error('no blue target');

    const first = send(`${proxy.url}/first`, agent);
    await until(() => slow.received.length === 1, 'the first request at the target');
    const controller = new AbortController();
    const queued = send(`${proxy.url}/queued`, agent, controller.signal).catch((err: Error) => err.name);
    await until(() => target.counters.active === 2, 'the second request queued for the target');
    controller.abort();
    expect(await queued).toBe('AbortError');
    // The proxy has seen its client leave (only the first request is in flight); the target
    // frees its connection only now.
    await until(() => proxy.running.dataPlane.server.inFlight() === 1, 'the proxy to see the queued client leave');
    slow.release();
    expect((await first).status).toBe(200);
    // Its place in the queue is free again, and nothing of it reached the target.
    expect((await send(`${proxy.url}/after`, agent)).status).toBe(200);
    expect(slow.received).toEqual(['/first', '/after']);
  });

  it('a full target is passed by: the other targets of its slot take the requests (HAProxy dispatches the same way)', async () => {
    const slow = await heldBackend('slow');
    const fast = await heldBackend('fast', false);
    const green = await heldBackend('green', false);
    const proxy = await startProxy({ services: [{ name: 'shop', blue: [slow.url, fast.url], green: [green.url], limits: { maxConnections: 1 } }] });
    cleanup.push(() => proxy.stop());
    const agent = clientAgent();

    const stuck = send(`${proxy.url}/first`, agent);
    await until(() => slow.received.length === 1, 'the first request at the slow target');
    // The slow target holds its one connection; every later request goes to the fast one in turn.
    const bodies: string[] = [];
    for (let i = 0; i < 6; i++) bodies.push((await send(`${proxy.url}/next${i}`, agent)).body);
    expect(bodies).toEqual(Array(6).fill('fast'));
    slow.release();
    expect((await stuck).body).toBe('slow');
  });
});

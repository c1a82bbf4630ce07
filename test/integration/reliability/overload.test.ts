import { createServer, type Server } from 'node:http';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { listenOnLoopback } from '../../helpers/loopback-server.js';
import { startProxy } from '../../helpers/proxy-harness.js';

/** RELIABILITY C9: per-target connection and queue limits; the excess is refused at once. */

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

interface SlowBackend {
  url: string;
  name: string;
  /** Requests received, by path. */
  received: string[];
  inFlight: number;
  maxInFlight: number;
  openSockets: number;
  maxOpenSockets: number;
}

/** Answers its name after `delayMs`; counts concurrent requests and sockets. */
async function slowBackend(name: string, delayMs: number): Promise<SlowBackend> {
  const state: SlowBackend = { url: '', name, received: [], inFlight: 0, maxInFlight: 0, openSockets: 0, maxOpenSockets: 0 };
  const server: Server = createServer((req, res) => {
    state.received.push(req.url ?? '');
    state.inFlight += 1;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    setTimeout(() => {
      state.inFlight -= 1;
      res.end(name);
    }, delayMs);
  });
  server.on('connection', (socket) => {
    state.openSockets += 1;
    state.maxOpenSockets = Math.max(state.maxOpenSockets, state.openSockets);
    socket.once('close', () => (state.openSockets -= 1));
  });
  state.url = await listenOnLoopback(server, cleanup);
  return state;
}

interface Outcome {
  status: number;
  body: string;
  ms: number;
}

function send(url: string, dispatcher: Agent, signal?: AbortSignal): Promise<Outcome> {
  const started = performance.now();
  return request(url, { dispatcher, ...(signal ? { signal } : {}) }).then(async (res) => ({ status: res.statusCode, body: await res.body.text(), ms: performance.now() - started }));
}

function clientAgent(): Agent {
  const agent = new Agent({ connections: 100 });
  cleanup.push(() => agent.close());
  return agent;
}

describe('per-target limits (C9)', () => {
  it('3x the capacity of a slow target: the excess gets 503 at once, the target never sees more than its connections', async () => {
    const slow = await slowBackend('blue', 800);
    const green = await slowBackend('green', 0);
    const proxy = await startProxy({ services: [{ name: 'shop', blue: [slow.url], green: [green.url], limits: { maxConnections: 2, maxPending: 2 } }] });
    cleanup.push(() => proxy.stop());
    const agent = clientAgent();

    const outcomes = await Promise.all(Array.from({ length: 12 }, (_, i) => send(`${proxy.url}/r${i}`, agent)));
    const served = outcomes.filter((o) => o.status === 200);
    const refused = outcomes.filter((o) => o.status === 503);
    expect(served).toHaveLength(4);
    expect(refused).toHaveLength(8);
    console.log(`overload: ${refused.length} of 12 refused, slowest refusal ${Math.max(...refused.map((o) => o.ms)).toFixed(1)} ms`);
    for (const o of refused) {
      expect(o.ms).toBeLessThan(50 * 4); // well before the 800 ms a served request takes; 50 ms on an idle machine
      expect(JSON.parse(o.body)).toEqual({ error: 'every healthy upstream is at its connection limit', service: 'shop' });
    }
    // Two on connections, two queued behind them: the queued pair answers after a second round.
    expect(slow.maxInFlight).toBe(2);
    expect(slow.maxOpenSockets).toBe(2);
    expect(Math.max(...served.map((o) => o.ms))).toBeGreaterThan(1500);
    // Overload never moves traffic to the other version.
    expect(green.received).toEqual([]);
    // The refusals are counted as 503s of the slot that refused them.
    const metrics = await (await request(`${proxy.adminUrl}/metrics`)).body.text();
    expect(metrics).toMatch(/^shiftproxy_requests_total\{service="shop",slot="blue",role="stable",code="503"\} 8$/m);
    expect(metrics).toMatch(/^shiftproxy_target_healthy\{service="shop",slot="blue",target="[^"]+"\} 1$/m);
  });

  // With workers each gets its share of a target's limits (here 1 each, so more than 1 for the
  // proxy): the two tests below are about one pool's queue and bypass, so they run in one process.
  it('a queued request whose client left is dropped before it reaches the target', async () => {
    const slow = await slowBackend('blue', 600);
    const green = await slowBackend('green', 0);
    const proxy = await startProxy({ services: [{ name: 'shop', blue: [slow.url], green: [green.url], limits: { maxConnections: 1, maxPending: 1 } }] }, { workers: 1 });
    cleanup.push(() => proxy.stop());
    const agent = clientAgent();

    const first = send(`${proxy.url}/first`, agent);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const controller = new AbortController();
    const queued = send(`${proxy.url}/queued`, agent, controller.signal).catch((err: Error) => err.name);
    await new Promise((resolve) => setTimeout(resolve, 100));
    controller.abort();
    expect(await queued).toBe('AbortError');
    expect((await first).status).toBe(200);
    // Its place in the queue is free again, and nothing of it reached the target.
    expect((await send(`${proxy.url}/after`, agent)).status).toBe(200);
    expect(slow.received).toEqual(['/first', '/after']);
  });

  it('a full target is passed by: the other targets of its slot take the requests (HAProxy dispatches the same way)', async () => {
    const slow = await slowBackend('slow', 1000);
    const fast = await slowBackend('fast', 0);
    const green = await slowBackend('green', 0);
    const proxy = await startProxy({ services: [{ name: 'shop', blue: [slow.url, fast.url], green: [green.url], limits: { maxConnections: 1 } }] }, { workers: 1 });
    cleanup.push(() => proxy.stop());
    const agent = clientAgent();

    const stuck = send(`${proxy.url}/first`, agent);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The slow target holds its one connection; every later request goes to the fast one in turn.
    const bodies: string[] = [];
    for (let i = 0; i < 6; i++) bodies.push((await send(`${proxy.url}/next${i}`, agent)).body);
    expect(bodies).toEqual(Array(6).fill('fast'));
    expect((await stuck).body).toBe('slow');
  });
});

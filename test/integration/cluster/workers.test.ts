import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { OneConnection } from '../../helpers/http-client.js';
import { listenOnLoopback } from '../../helpers/loopback-server.js';
import { startProxy, type ProxyUnderTest } from '../../helpers/proxy-harness.js';
import { metricValue, until } from '../reliability/support.js';
import { processExists } from '../../helpers/process-probe.js';

// Two real worker processes behind an in-process primary, whatever SHIFTPROXY_TEST_WORKERS says.

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

const UNUSED = 'http://127.0.0.1:9';

/** An upstream that answers its name after `delayMs`, and counts requests in flight. */
async function backend(name: string, delayMs = 0): Promise<{ url: string; requests: number; inFlight: number; maxInFlight: number }> {
  const state = { url: '', requests: 0, inFlight: 0, maxInFlight: 0 };
  const server: Server = createServer((_req, res) => {
    state.requests += 1;
    state.inFlight += 1;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    setTimeout(() => {
      state.inFlight -= 1;
      res.end(name);
    }, delayMs);
  });
  state.url = await listenOnLoopback(server, cleanup);
  return state;
}

async function proxyWithWorkers(spec: Parameters<typeof startProxy>[0], workerTimeouts?: { ackTimeoutMs?: number }): Promise<ProxyUnderTest> {
  const p = await startProxy(spec, { workers: 2, ...(workerTimeouts ? { workerTimeouts } : {}) });
  cleanup.push(() => p.stop());
  return p;
}

function connections(p: ProxyUnderTest, n: number): OneConnection[] {
  const list = Array.from({ length: n }, () => new OneConnection(p.url));
  cleanup.push(() => Promise.all(list.map((c) => c.close().catch(() => undefined))));
  return list;
}

async function workerList(p: ProxyUnderTest): Promise<{ pid: number; snapshotVersion: number; requests: number; startedAt: string }[]> {
  return (await request(`${p.adminUrl}/api/v1/workers`)).body.json() as Promise<{ pid: number; snapshotVersion: number; requests: number; startedAt: string }[]>;
}

/** One request on its own connection; resolves with everything read once the connection closes. */
function rawGet(port: number, headers = ''): Promise<string> {
  return new Promise<string>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(text));
    socket.write(`GET / HTTP/1.1\r\nHost: a.test\r\n${headers}\r\n`);
  });
}

describe('workers: 2', () => {
  it('serves on every worker, and /metrics and GET /api/v1/workers count every request exactly once', async () => {
    const blue = await backend('blue');
    const p = await proxyWithWorkers({ services: [{ name: 'svc', blue: [blue.url], green: [UNUSED] }] });
    const agent = new Agent({ connections: 16 });
    cleanup.push(() => agent.close());
    const total = 400;
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < total) {
          next += 1;
          const res = await request(p.url, { dispatcher: agent });
          await res.body.dump();
          expect(res.statusCode).toBe(200);
        }
      }),
    );
    const metrics = await (await request(`${p.adminUrl}/metrics`)).body.text();
    expect(metricValue(metrics, 'shiftproxy_requests_total', { service: 'svc', code: '200' })).toBe(total);
    expect(metricValue(metrics, 'shiftproxy_request_duration_seconds_count', { service: 'svc', slot: 'blue', role: 'stable' })).toBe(total);
    expect(metricValue(metrics, 'shiftproxy_request_duration_seconds_bucket', { service: 'svc', slot: 'blue', role: 'stable', le: '+Inf' })).toBe(total);
    expect(metrics).toMatch(/^shiftproxy_workers 2$/m);
    const workers = await workerList(p);
    expect(workers).toHaveLength(2);
    expect(workers.every((w) => w.requests > 0)).toBe(true);
    expect(workers.reduce((sum, w) => sum + w.requests, 0)).toBe(total);
    expect(new Set(workers.map((w) => w.pid)).has(process.pid)).toBe(false);
    expect(blue.requests).toBe(total);
  });

  it('a rollout step is applied by every worker before the API answers', async () => {
    const [blue, green] = [await backend('blue'), await backend('green')];
    const p = await proxyWithWorkers({ services: [{ name: 'svc', blue: [blue.url], green: [green.url] }] });
    // Eight kept-alive connections, handed out in turn: four on each worker.
    const clients = connections(p, 8);
    for (const c of clients) expect((await c.get('/')).body).toBe('blue');
    const started = await request(`${p.adminUrl}/api/v1/services/svc/rollout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ strategy: 'all-at-once' }),
    });
    expect(started.statusCode).toBe(202);
    await started.body.dump();
    // No wait of any kind: the answer came after both workers acknowledged the snapshot.
    for (const c of clients) expect((await c.get('/')).body).toBe('green');
    const versions = (await workerList(p)).map((w) => w.snapshotVersion);
    expect(versions[0]).toBeGreaterThan(0);
    expect(new Set(versions).size).toBe(1);
  });

  it('a worker killed with SIGKILL is replaced; only its own in-flight requests fail, clients of the other worker see nothing', async () => {
    const blue = await backend('blue', 20);
    const p = await proxyWithWorkers({ services: [{ name: 'svc', blue: [blue.url], green: [UNUSED] }] });
    const clients = connections(p, 8);
    const results: string[][] = clients.map(() => []);
    let stop = false;
    const loops = clients.map(async (c, i) => {
      while (!stop) {
        const outcome = await c.get('/').then(
          (res) => String(res.status),
          () => 'failed',
        );
        results[i]!.push(outcome);
      }
    });
    let victim = { pid: 0, connections: 0 };
    let victimConnections = 0;
    let marks: number[] = [];
    try {
      await until(() => results.every((r) => r.length >= 3), 'every client served a few times');
      await p.settle();
      const [first, survivor] = p.running.workers!.status();
      victim = first!;
      victimConnections = victim.connections;
      expect(victimConnections + survivor!.connections).toBe(8);
      marks = results.map((r) => r.length);
      process.kill(victim.pid, 'SIGKILL');
      await until(async () => {
        const list = await workerList(p);
        return list.length === 2 && !list.some((w) => w.pid === victim.pid);
      }, 'a replacement');
      // Every client goes on (the ones that were on the dead worker on a new connection).
      const after = results.map((r) => r.length);
      await until(() => results.every((r, i) => r.length >= (after[i] as number) + 3), 'every client served again');
    } finally {
      // Also when a wait failed: a loop left running on a closed client would spin without end.
      stop = true;
      await Promise.all(loops);
    }

    const failures = results.map((r, i) => r.slice(marks[i]).filter((o) => o === 'failed').length);
    // At most the one request each of its connections had in flight; none elsewhere.
    expect(failures.every((f) => f <= 1)).toBe(true);
    expect(failures.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(victimConnections);
    expect(failures.filter((f) => f === 0).length).toBeGreaterThanOrEqual(8 - victimConnections);
    expect(results.flat().every((o) => o === '200' || o === 'failed')).toBe(true);
    expect(processExists(victim.pid)).toBe(false);
    const metrics = await (await request(`${p.adminUrl}/metrics`)).body.text();
    expect(metrics).toMatch(/^shiftproxy_worker_restarts_total 1$/m);
  });

  it('a worker that stops answering (SIGSTOP) is replaced when a routing change is due, and the change applies everywhere else', async () => {
    const [blue, green] = [await backend('blue'), await backend('green')];
    const p = await proxyWithWorkers({ services: [{ name: 'svc', blue: [blue.url], green: [green.url] }] }, { ackTimeoutMs: 1000 });
    const clients = connections(p, 4);
    for (const c of clients) await c.get('/');
    const [stopped] = p.running.workers!.status();
    process.kill(stopped!.pid, 'SIGSTOP');
    cleanup.push(async () => processExists(stopped!.pid) && process.kill(stopped!.pid, 'SIGCONT'));
    // The change resolves: the stopped worker did not acknowledge in time and was killed.
    await p.setCanaryWeight('svc', 100);
    expect(processExists(stopped!.pid)).toBe(false);
    for (const c of clients) expect((await c.get('/')).body).toBe('green');
    await until(async () => (await workerList(p)).length === 2, 'a replacement');
    expect((await workerList(p)).some((w) => w.pid === stopped!.pid)).toBe(false);
  });

  it('a worker that stops answering is replaced by the watchdog even when nothing changes', async () => {
    const blue = await backend('blue');
    const p = await proxyWithWorkers({ services: [{ name: 'svc', blue: [blue.url], green: [UNUSED] }] }, { ackTimeoutMs: 1000 });
    const [stopped] = p.running.workers!.status();
    process.kill(stopped!.pid, 'SIGSTOP');
    cleanup.push(async () => processExists(stopped!.pid) && process.kill(stopped!.pid, 'SIGCONT'));
    await until(() => !processExists(stopped!.pid), 'the stopped worker to be killed');
    await until(async () => (await workerList(p)).length === 2, 'a replacement');
    // A stopped worker holds at most the one connection handed to it: new clients are served.
    for (const c of connections(p, 4)) expect((await c.get('/')).status).toBe(200);
  });

  it('a connection handed to a worker that dies before taking it is served by another worker', async () => {
    const blue = await backend('blue');
    const p = await proxyWithWorkers({ services: [{ name: 'svc', blue: [blue.url], green: [UNUSED] }] }, { ackTimeoutMs: 20_000 });
    const [stopped] = p.running.workers!.status();
    process.kill(stopped!.pid, 'SIGSTOP');
    cleanup.push(async () => processExists(stopped!.pid) && process.kill(stopped!.pid, 'SIGCONT'));
    // Two clients, handed out in turn: one to each worker. The stopped one cannot take its own.
    const answers = Array.from({ length: 2 }, () => rawGet(p.port, 'Connection: close\r\n'));
    await until(() => blue.requests === 1, 'the running worker to serve its client');
    await until(() => p.running.fleet.inFlight() === 1, 'the other connection to wait in the stopped worker');
    process.kill(stopped!.pid, 'SIGKILL');
    for (const text of await Promise.all(answers)) {
      expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(text.endsWith('blue')).toBe(true);
    }
    expect(blue.requests).toBe(2);
    expect(processExists(stopped!.pid)).toBe(false);
  });

  it('the drain loses no accepted connection: those waiting for a worker are handed over and answered', async () => {
    const blue = await backend('blue');
    // Workers stopped for a moment must not be taken for dead here.
    const p = await proxyWithWorkers({ services: [{ name: 'svc', blue: [blue.url], green: [UNUSED] }] }, { ackTimeoutMs: 20_000 });
    const pids = p.running.workers!.status().map((w) => w.pid);
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    cleanup.push(async () => pids.filter(processExists).forEach((pid) => process.kill(pid, 'SIGCONT')));
    // Ten clients: one connection in each stopped worker's hands, eight waiting in the primary.
    const answers = Array.from({ length: 10 }, () => rawGet(p.port));
    await until(() => p.running.fleet.inFlight() === 10, 'all ten accepted');
    const stopping = p.running.stop(5000);
    // The listener is closed (new connections are refused), and only then do the workers run again.
    await until(
      () =>
        new Promise<boolean>((resolve) => {
          const probe = connect(p.port, '127.0.0.1');
          probe.on('connect', () => (probe.destroy(), resolve(false)));
          probe.on('error', () => resolve(true));
        }),
      'the listener to close',
    );
    for (const pid of pids) process.kill(pid, 'SIGCONT');
    const texts = await Promise.all(answers);
    for (const text of texts) {
      expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(text.toLowerCase()).toContain('connection: close');
      expect(text.endsWith('blue')).toBe(true);
    }
    expect(await stopping).toEqual({ completed: true, cut: 0 });
    expect(pids.filter(processExists)).toEqual([]);
  });

  it('outlier detection sees the failures of every worker: 5xx spread over both eject the target, and both then route around it', async () => {
    const failing = createServer((_req, res) => {
      res.statusCode = 503;
      res.end('down');
    });
    const bad = await listenOnLoopback(failing, cleanup);
    const good = await backend('good');
    const p = await proxyWithWorkers({
      services: [{ name: 'svc', blue: [bad], green: [good.url], outlierDetection: { consecutiveErrors: 4, ejectionTime: '60s' } }],
    });
    // One connection on each worker, used in turn: neither worker alone sees four failures in a row.
    const [a, b] = connections(p, 2);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      await p.settle();
      statuses.push((await (i % 2 === 0 ? a! : b!).get('/')).status);
    }
    expect(statuses).toEqual([503, 503, 503, 503]);
    await p.settle();
    const view = (await (await request(`${p.adminUrl}/api/v1/services/svc`)).body.json()) as { health: { blue: { targets: { url: string; state: string }[] } } };
    expect(view.health.blue.targets[0]).toMatchObject({ url: bad, state: 'ejected' });
    // Blue has nothing left: both workers fail over to green.
    expect([(await a!.get('/')).body, (await b!.get('/')).body]).toEqual(['good', 'good']);
  });

  it('testListen, sticky sessions, WebSocket tunnels and per-target limits work across workers', async () => {
    const [blue, green] = [await backend('blue'), await backend('green')];
    const slow = await backend('slow', 300);
    const echo = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    cleanup.push(() => new Promise((resolve) => echo.close(resolve)));
    await new Promise((resolve) => echo.once('listening', resolve));
    echo.on('connection', (ws) => ws.on('message', (data) => ws.send(data)));
    const echoUrl = `http://127.0.0.1:${(echo.address() as { port: number }).port}`;
    const p = await proxyWithWorkers({
      services: [
        { name: 'shop', match: { host: 'shop.test' }, blue: [blue.url], green: [green.url], sticky: { cookie: 'sp' }, testListen: '127.0.0.1:0' },
        { name: 'ws', match: { host: 'ws.test' }, blue: [echoUrl], green: [UNUSED] },
        { name: 'slow', match: { host: 'slow.test' }, blue: [slow.url], green: [UNUSED], limits: { maxConnections: 2 } },
      ],
    });
    await p.setCanaryWeight('shop', 50);
    const host = { host: 'shop.test' };

    // The test listener reaches the non-live slot on every worker.
    const testPort = p.running.proxyAddresses[1]?.port as number;
    for (const c of Array.from({ length: 4 }, () => new OneConnection(`http://127.0.0.1:${testPort}`))) {
      cleanup.push(() => c.close());
      expect((await c.get('/', host)).body).toBe('green');
    }

    // A sticky client lands on the same slot whichever worker its connection is on.
    const clients = connections(p, 4);
    for (let i = 0; i < 10; i++) {
      const cookie = `sp=client-${i}`;
      const slots = new Set<string>();
      for (const c of clients) slots.add((await c.get('/', { ...host, cookie })).body);
      expect(slots.size).toBe(1);
    }

    // A tunnel through a worker echoes, and its 101 is counted by the primary.
    const ws = new WebSocket(`ws://127.0.0.1:${p.port}/`, { headers: { host: 'ws.test' } });
    cleanup.push(async () => ws.terminate());
    await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
    ws.send('hello');
    expect(String(await new Promise((resolve) => ws.once('message', resolve)))).toBe('hello');
    await p.settle();
    expect(p.running.workers!.openTunnels()).toBe(1);
    expect(metricValue(await (await request(`${p.adminUrl}/metrics`)).body.text(), 'shiftproxy_requests_total', { service: 'ws', code: '101' })).toBe(1);

    // maxConnections: 2 is split between the two workers: the target never holds more than 2.
    const agent = new Agent({ connections: 8 });
    cleanup.push(() => agent.close());
    const statuses = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const res = await request(p.url, { dispatcher: agent, headers: { host: 'slow.test' } });
        await res.body.dump();
        return res.statusCode;
      }),
    );
    expect(slow.maxInFlight).toBeLessThanOrEqual(2);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
  });
});

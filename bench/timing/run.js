// Timing figures the test suite deliberately does not assert: how soon things happen, measured
// and reported here instead. `npm test` proves that each of these happens (an abort reaches the
// upstream, a full target is refused without queueing, a slowloris connection is cut, an alarm
// rolls back); this script says how long it took on this machine, so a regression shows up as
// a number, not as a test that fails whenever the machine is busy.
//
//   npm run bench:timing -- [scenario ...]     (default: all; see SCENARIOS below)
//
// Everything runs in this process on loopback against the built proxy (dist/). Results land in
// bench/results/timing-<time>.json.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool, request } from 'undici';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
if (!existsSync(join(root, 'dist', 'main.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(2);
}
const { startShiftproxy } = await import(join(root, 'dist', 'main.js'));
const { parseConfigText } = await import(join(root, 'dist', 'config', 'load-config.js'));
const { silentLogger } = await import(join(root, 'dist', 'core', 'logger.js'));
const { FakeBackend } = await import(join(root, 'dist', 'simulate', 'fake-backend.js'));

const SCENARIOS = {
  refused: 'a refused target: time to the 502',
  'response-timeout': 'a target that never answers, timeouts.response 500 ms: time to the 504',
  abort: 'a client closing while its request waits upstream: time until the upstream connection is closed',
  overload: 'a target at its connection limit: time to the 503',
  slowloris: '200 dripping connections: their lifetime against headersTimeout 1 s, and a normal client latency with and without them',
  rollback: 'a canary that starts failing under 400 req/s: time from the first bad answer to weight 0',
};

// ---- scenarios --------------------------------------------------------------------------

const RUN = {
  async refused() {
    const proxy = await proxyFor({ blue: ['http://127.0.0.1:1'], timeouts: '{ connect: 2s, response: 5s }' });
    const times = [];
    for (let i = 0; i < 200; i++) times.push((await timed(() => get(proxy.url))).ms);
    await proxy.stop();
    return report('502 after', times);
  },

  async 'response-timeout'() {
    const silent = await silentTarget();
    const proxy = await proxyFor({ blue: [silent.url], timeouts: '{ connect: 2s, response: 500ms }' });
    const times = [];
    for (let i = 0; i < 10; i++) times.push((await timed(() => get(proxy.url))).ms);
    await proxy.stop();
    await silent.stop();
    return report('504 after (configured 500 ms)', times);
  },

  async abort() {
    const silent = await silentTarget();
    const proxy = await proxyFor({ blue: [silent.url], timeouts: '{ connect: 2s, response: 60s, idle: 60s }' });
    const lags = [];
    for (let batch = 0; batch < 50; batch++) {
      const clients = [];
      for (let i = 0; i < 20; i++) {
        const socket = connect(proxy.port, '127.0.0.1');
        socket.on('error', () => undefined);
        socket.write(`GET /b${batch}/${i} HTTP/1.1\r\nHost: bench\r\n\r\n`);
        clients.push(socket);
      }
      await waitUntil(() => silent.requests.filter((r) => r.path.startsWith(`/b${batch}/`)).length === 20);
      const upstreamSide = silent.requests.filter((r) => r.path.startsWith(`/b${batch}/`));
      const closedAt = performance.now();
      for (const socket of clients) socket.destroy();
      await waitUntil(() => upstreamSide.every((r) => r.closedAt !== null));
      for (const r of upstreamSide) lags.push(r.closedAt - closedAt);
    }
    await proxy.stop();
    await silent.stop();
    return report('upstream closed after the client left', lags);
  },

  async overload() {
    const held = await heldTarget();
    const proxy = await proxyFor({ blue: [held.url], limits: '{ maxConnections: 2, maxPending: 2 }' });
    const occupying = Array.from({ length: 4 }, () => get(proxy.url));
    await waitUntil(() => held.waiting.length === 2);
    const times = [];
    for (let i = 0; i < 200; i++) {
      const { ms, value } = await timed(() => get(proxy.url));
      if (value.status !== 503) throw new Error(`expected 503, got ${value.status}`);
      times.push(ms);
    }
    held.release();
    await Promise.all(occupying);
    await proxy.stop();
    await held.stop();
    return report('503 after', times);
  },

  async slowloris() {
    const target = await heldTarget(false);
    const proxy = await proxyFor({ blue: [target.url] }, 'server: { headersTimeout: 1s }');
    const pool = new Pool(proxy.url, { connections: 1 });
    const latency = async () => {
      const times = [];
      for (let i = 0; i < 100; i++) times.push((await timed(async () => (await pool.request({ path: '/', method: 'GET' })).body.dump())).ms);
      return times;
    };
    const baseline = await latency();
    const attackers = [];
    for (let i = 0; i < 200; i++) {
      const socket = connect(proxy.port, '127.0.0.1');
      const entry = { startedAt: performance.now(), closedAt: null };
      socket.on('error', () => undefined);
      socket.on('close', () => (entry.closedAt = performance.now()));
      // Read what comes (the 408), so the proxy's close is seen.
      socket.resume();
      socket.write('GET / HTTP/1.1\r\nHost: bench\r\n');
      let n = 0;
      entry.timer = setInterval(() => socket.destroyed || socket.write(`X-Drip-${n++}: 1\r\n`), 200);
      attackers.push(entry);
    }
    const during = await latency();
    await waitUntil(() => attackers.every((a) => a.closedAt !== null), 10_000);
    for (const a of attackers) clearInterval(a.timer);
    await pool.close();
    await proxy.stop();
    await target.stop();
    return {
      attackerLifetime: report('slowloris connection cut after (headersTimeout 1 s)', attackers.map((a) => a.closedAt - a.startedAt)),
      baseline: report('normal request, no attack', baseline),
      during: report('normal request, under the attack', during),
    };
  },

  async rollback() {
    const runs = [];
    for (let run = 0; run < 3; run++) {
      const blue = new FakeBackend('blue');
      const green = new FakeBackend('green');
      await Promise.all([blue.start(), green.start()]);
      const proxy = await proxyFor(
        { blue: [blue.url], green: [green.url] },
        '',
        `    rollout:
      strategy: canary
      canary: { weight: 30, interval: 1m }
      analysis:
        interval: 250ms
        failureLimit: 2
        inconclusiveLimit: 20
        alarms: [ { name: canary-errors, metric: error_rate, window: 1s, max: 0.05, minRequests: 10 } ]`,
      );
      const stopLoad = steadyLoad(proxy.url, 400);
      let rolledBackAt = 0;
      proxy.running.controller.onTransition((_s, _p, current) => {
        if (current.state === 'rolled_back') rolledBackAt = performance.now();
      });
      await proxy.running.controller.startRollout('svc');
      await sleep(1000);
      const badFrom = performance.now();
      green.faults.errorRate = 0.5;
      await waitUntil(() => rolledBackAt !== 0, 30_000);
      runs.push(rolledBackAt - badFrom);
      await stopLoad();
      await proxy.stop();
      await Promise.all([blue.stop(), green.stop()]);
    }
    return report('weight 0 after the first bad answer (analysis every 250 ms, failureLimit 2, 1 s window)', runs);
  },
};

// ---- helpers ----------------------------------------------------------------------------

async function proxyFor(service, top = '', rollout = '') {
  const lines = [
    'listen: 127.0.0.1:0',
    'admin: { listen: 127.0.0.1:0 }',
    `state: { path: ${JSON.stringify(join(mkdtempSync(join(tmpdir(), 'shiftproxy-bench-timing-')), 'state.json'))} }`,
    top,
    'services:',
    '  - name: svc',
    `    blue: { targets: [ ${service.blue.map((u) => `{ url: "${u}" }`).join(', ')} ] }`,
    `    green: { targets: [ ${(service.green ?? ['http://127.0.0.1:9']).map((u) => `{ url: "${u}" }`).join(', ')} ] }`,
    service.timeouts ? `    timeouts: ${service.timeouts}` : '',
    service.limits ? `    limits: ${service.limits}` : '',
    rollout,
  ];
  const config = parseConfigText(lines.filter(Boolean).join('\n'), { env: {} });
  const running = await startShiftproxy(config, { logger: silentLogger(), processMetrics: false });
  const port = running.proxyAddresses[0].port;
  return { running, port, url: `http://127.0.0.1:${port}`, stop: () => running.stop(0) };
}

/** A TCP target that reads requests and never answers; records each with when its socket closed. */
async function silentTarget() {
  const requests = [];
  const server = createTcpServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', (chunk) => {
      const entry = { path: chunk.toString('latin1').split(' ')[1] ?? '', closedAt: null };
      requests.push(entry);
      socket.once('close', () => (entry.closedAt = performance.now()));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sockets = new Set();
  server.on('connection', (s) => (sockets.add(s), s.once('close', () => sockets.delete(s))));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    stop: () => new Promise((resolve) => (sockets.forEach((s) => s.destroy()), server.close(resolve))),
  };
}

/** An HTTP target holding every request until `release()` (or answering at once). */
async function heldTarget(hold = true) {
  const waiting = [];
  const server = createHttpServer((req, res) => {
    req.resume();
    if (hold) waiting.push(() => res.end('ok'));
    else res.end('ok');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    waiting,
    release: () => {
      hold = false;
      waiting.splice(0).forEach((answer) => answer());
    },
    stop: () => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve))),
  };
}

/** Requests at about `rps` from 8 clients until the returned stop() is awaited. */
function steadyLoad(url, rps) {
  const pool = new Pool(url, { connections: 8 });
  let running = true;
  const workers = Array.from({ length: 8 }, async () => {
    while (running) {
      try {
        await (await pool.request({ path: '/', method: 'GET' })).body.dump();
      } catch {
        // counted by the proxy
      }
      await sleep(8000 / rps);
    }
  });
  return async () => {
    running = false;
    await Promise.all(workers);
    await pool.close();
  };
}

async function get(url) {
  const res = await request(url);
  await res.body.dump();
  return { status: res.statusCode };
}

async function timed(fn) {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

async function waitUntil(check, timeoutMs = 15_000) {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error('timed out');
    await sleep(2);
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Prints and returns p50 / p99 / max of `values` (milliseconds). */
function report(label, values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
  const summary = { n: sorted.length, p50: round(at(0.5)), p99: round(at(0.99)), max: round(sorted.at(-1)) };
  console.log(`  ${label}: p50 ${summary.p50} ms, p99 ${summary.p99} ms, max ${summary.max} ms (n=${summary.n})`);
  return summary;
}

function round(ms) {
  return Math.round(ms * 10) / 10;
}

// ---- main -------------------------------------------------------------------------------

const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!(name in SCENARIOS)) {
    console.error(`unknown scenario "${name}"; known: ${Object.keys(SCENARIOS).join(', ')}`);
    process.exit(2);
  }
}
const selected = wanted.length > 0 ? wanted : Object.keys(SCENARIOS);
const results = {};

for (const name of selected) {
  console.log(`\n== ${name}: ${SCENARIOS[name]}`);
  results[name] = await RUN[name]();
}

mkdirSync(join(root, 'bench', 'results'), { recursive: true });
const file = join(root, 'bench', 'results', `timing-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify({ node: process.version, results }, null, 2)}\n`);
console.log(`\nresults: ${file}`);
process.exit(0);

// Abort storm: clients that vanish at every stage of an exchange, mixed with normal traffic.
// Each abandoned exchange must be released completely (upstream request aborted, counters back,
// sockets closed, nothing retained in the heap) while the normal requests around it all succeed.
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { checkFdsBack, checkNoActiveRequests, proxyOutcomes, stopAndCheckClean } from '../lib/invariants.js';
import { MB, mib, sleep } from '../lib/probes.js';
import { startProxy } from '../lib/proxy.js';
import { startUpstream } from '../lib/upstream.js';

// Live heap growth over the storm, measured after forced full GCs. A leaked exchange (request,
// response, sockets, undici handler) costs several KB, so 10k of them would be tens of MB.
const HEAP_GROWTH_LIMIT = 5 * MB;
const UPLOAD_BYTES = 1024 * 1024;
const DOWNLOAD_BYTES = 4 * 1024 * 1024;

/** The ways a client walks away, from "never said a word" to "left in the middle of the body". */
const ABORTS = {
  // Connected, then gone before sending anything.
  connect: (socket) => finish(socket, 0),
  // Part of the request head, then gone.
  head: (socket) => {
    const head = 'GET /slow?ms=50 HTTP/1.1\r\nHost: soak\r\nUser-Agent: soak\r\n\r\n';
    socket.write(head.slice(0, 1 + Math.floor(Math.random() * (head.length - 2))), () => finish(socket, Math.random() * 20));
  },
  // A complete request, gone before the (delayed) response head.
  waiting: (socket) => {
    socket.write('GET /slow?ms=200 HTTP/1.1\r\nHost: soak\r\n\r\n', () => finish(socket, Math.random() * 150));
  },
  // Part of a 1 MiB body, then gone.
  upload: (socket) => {
    socket.write(`POST /sink HTTP/1.1\r\nHost: soak\r\nContent-Length: ${UPLOAD_BYTES}\r\n\r\n`);
    socket.write(Buffer.alloc(Math.floor(Math.random() * UPLOAD_BYTES), 'u'), () => finish(socket, Math.random() * 10));
  },
  // Part of a 4 MiB response, then gone.
  download: (socket) => {
    const stopAfter = Math.floor(Math.random() * DOWNLOAD_BYTES * 0.75);
    let read = 0;
    socket.on('data', (chunk) => {
      read += chunk.length;
      if (read >= stopAfter) finish(socket, 0);
    });
    socket.write(`GET /download?bytes=${DOWNLOAD_BYTES} HTTP/1.1\r\nHost: soak\r\n\r\n`);
  },
};
const KINDS = Object.keys(ABORTS);

/** Leaves: half the time a plain close (FIN), half a reset (RST), as real clients do both. */
function finish(socket, afterMs) {
  setTimeout(() => (Math.random() < 0.5 ? socket.destroy() : socket.resetAndDestroy()), afterMs);
}

export default {
  name: 'aborts',
  description: 'requests abandoned at every stage among normal traffic: nothing leaks, normal requests all succeed',
  defaults: { requests: 10_000, parallel: 50, normal: 8 },
  quick: { requests: 3000 },

  async run({ report, dir, options }) {
    const upstream = await startUpstream({ dir });
    const proxy = await startProxy({ dir, name: 'aborts', upstream, inspect: true });
    try {
      await sleep(300);
      const fdBaseline = proxy.fds();
      // Warm-up: every code path once, so lazily compiled code and caches are not counted as growth.
      await storm(proxy, Math.min(500, options.requests), options.parallel);
      await normalTraffic(proxy, options.normal, { stop: sleep(1000) });
      await sleep(500);
      const heapBefore = await proxy.heapAfterGc();

      const began = performance.now();
      const stormDone = storm(proxy, options.requests, options.parallel);
      const normal = await normalTraffic(proxy, options.normal, { stop: stormDone });
      const kinds = await stormDone;
      const seconds = (performance.now() - began) / 1000;
      report.info(`${options.requests} aborted requests in ${seconds.toFixed(1)} s: ${JSON.stringify(kinds)}`);
      report.check('proxy alive through the storm', proxy.alive(), proxy.alive() ? 'alive' : 'exited', 'alive');
      report.check('normal requests during the storm succeeded', normal.failed === 0 && normal.ok > 0, `${normal.ok} ok, ${normal.failed} failed${normal.failed ? ` (${JSON.stringify(normal.errors)})` : ''}`, 'all, and at least one');

      await checkNoActiveRequests(report, proxy, 5000);
      const outcomes = await proxyOutcomes(proxy);
      report.info(`the proxy counted responses ${JSON.stringify(outcomes.codes)}, upstream errors ${JSON.stringify(outcomes.upstreamErrors)}`);
      await checkFdsBack(report, proxy, fdBaseline, 10_000);
      const heapAfter = await proxy.heapAfterGc();
      const growth = heapAfter - heapBefore;
      report.check(
        'live heap growth over the storm (after full GC)',
        growth < HEAP_GROWTH_LIMIT,
        `${mib(growth)} MB (${mib(heapBefore)} -> ${mib(heapAfter)} MB, ${Math.round(growth / options.requests)} bytes per aborted request)`,
        `< ${mib(HEAP_GROWTH_LIMIT)} MB`,
      );
      await stopAndCheckClean(report, proxy);
    } finally {
      await proxy.stop('SIGKILL');
      await upstream.stop();
    }
  },
};

/** Runs `total` aborted exchanges, `parallel` at a time, kinds picked at random; resolves with the count per kind. */
async function storm(proxy, total, parallel) {
  const kinds = Object.fromEntries(KINDS.map((k) => [k, 0]));
  let started = 0;
  const worker = async () => {
    while (started < total) {
      started += 1;
      const kind = KINDS[Math.floor(Math.random() * KINDS.length)];
      kinds[kind] += 1;
      await new Promise((resolve) => {
        const socket = connect({ host: proxy.host, port: proxy.port });
        // A storm connection ends in errors by design; the outcome that matters is the proxy's.
        socket.on('error', () => {});
        socket.once('close', resolve);
        socket.once('connect', () => ABORTS[kind](socket));
      });
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return kinds;
}

/**
 * `workers` loops of complete, checked exchanges (a small GET, a 256 KiB download, a 64 KiB
 * upload) on kept-alive connections until `stop` resolves.
 */
async function normalTraffic(proxy, workers, { stop }) {
  const agent = new Agent({ keepAlive: true, maxSockets: workers });
  let stopped = false;
  stop.then(() => (stopped = true));
  const result = { ok: 0, failed: 0, errors: {} };
  const exchanges = [
    { method: 'GET', path: '/', expect: 100 },
    { method: 'GET', path: '/download?bytes=262144', expect: 262_144 },
    { method: 'POST', path: '/sink', body: Buffer.alloc(65_536, 'n'), expect: 5 /* "65536" */ },
  ];
  const worker = async (i) => {
    for (let n = i; !stopped; n++) {
      const outcome = await exchange(proxy, agent, exchanges[n % exchanges.length]);
      if (outcome === 'ok') result.ok += 1;
      else {
        result.failed += 1;
        result.errors[outcome] = (result.errors[outcome] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, i) => worker(i)));
  agent.destroy();
  return result;
}

/** One checked exchange: 'ok', or what went wrong. */
function exchange(proxy, agent, { method, path, body, expect }) {
  return new Promise((resolve) => {
    const req = request(`${proxy.url}${path}`, { method, agent, timeout: 10_000, headers: body ? { 'content-length': body.length } : {} }, (res) => {
      let bytes = 0;
      res.on('data', (chunk) => (bytes += chunk.length));
      res.on('end', () => resolve(res.statusCode !== 200 ? `status ${res.statusCode}` : bytes !== expect ? `${bytes} bytes, not ${expect}` : 'ok'));
      res.on('error', (err) => resolve(err.code ?? err.message));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (err) => resolve(err.code ?? err.message));
    req.end(body);
  });
}

// Downstream connection limit (`server.maxConnections`). Past the limit Node closes each new
// connection as soon as it is accepted: the excess must be turned away quickly and cheaply while
// the connections already admitted keep being served, and capacity must come back as they leave.
import { KeepAliveConnection, openSocket } from '../lib/clients.js';
import { checkFdsBack, stopAndCheckClean } from '../lib/invariants.js';
import { MB, mib, pollUntil } from '../lib/probes.js';
import { startProxy } from '../lib/proxy.js';
import { startUpstream } from '../lib/upstream.js';

const REFUSAL_LIMIT_MS = 1000;
// What the admitted connections may cost on top of the idle proxy (a socket and its parser each).
const RSS_GROWTH_LIMIT = 64 * MB;

export default {
  name: 'conn-limit',
  description: 'connections past server.maxConnections are closed at once; admitted ones keep working',
  defaults: { limit: 500, open: 800, replace: 100 },
  quick: {},

  async run({ report, dir, options }) {
    const upstream = await startUpstream({ dir });
    const proxy = await startProxy({ dir, name: 'conn-limit', upstream, server: { maxConnections: options.limit, keepAliveTimeout: '120s' }, inspect: true });
    const admitted = [];
    const excess = [];
    try {
      await proxy.settle();
      const fdBaseline = proxy.fds();
      const rssBefore = proxy.rss();

      // Up to the limit, one at a time so every one is counted before the next arrives.
      for (let i = 0; i < options.limit; i++) admitted.push(await KeepAliveConnection.open(proxy.host, proxy.port));
      const first = await Promise.all(admitted.map((c) => c.get('/').catch(() => 0)));
      const firstOk = first.filter((s) => s === 200).length;
      report.check('connections up to the limit served', firstOk === options.limit, `${firstOk}/${options.limit} answered 200`, `all ${options.limit}`);

      // Past the limit: each sends a request at once; what matters is how soon it is closed and that it is never served.
      const extra = options.open - options.limit;
      const outcomes = await Promise.all(Array.from({ length: extra }, () => tryExcess(proxy, excess)));
      const served = outcomes.filter((o) => o.served).length;
      const closedFast = outcomes.filter((o) => o.closedAfterMs !== null && o.closedAfterMs < REFUSAL_LIMIT_MS).length;
      const slowest = Math.max(...outcomes.map((o) => o.closedAfterMs ?? Infinity));
      report.check(
        'connections past the limit closed quickly, unserved',
        served === 0 && closedFast === extra,
        `${closedFast}/${extra} closed (slowest ${Number.isFinite(slowest) ? `${slowest.toFixed(0)} ms` : 'never'}), ${served} served`,
        `all within ${REFUSAL_LIMIT_MS} ms, 0 served`,
      );

      const again = await Promise.all(admitted.map((c) => c.get('/').catch(() => 0)));
      const againOk = again.filter((s) => s === 200).length;
      report.check('admitted connections unaffected by the excess', againOk === options.limit, `${againOk}/${options.limit} answered 200 on the same connection`, `all ${options.limit}`);
      const rssGrowth = proxy.rss() - rssBefore;
      report.check('proxy memory with the limit reached', rssGrowth < RSS_GROWTH_LIMIT, `RSS +${mib(rssGrowth)} MB (${mib(proxy.rss())} MB)`, `< +${mib(RSS_GROWTH_LIMIT)} MB`);

      // Capacity comes back: close some admitted connections, and as many new ones get in.
      for (const c of admitted.splice(0, options.replace)) c.close();
      await pollUntil(() => proxy.fds(), (fds) => fds <= fdBaseline + admitted.length + 4, 5000, 50);
      const replacements = [];
      for (let i = 0; i < options.replace; i++) replacements.push(await KeepAliveConnection.open(proxy.host, proxy.port).catch(() => null));
      admitted.push(...replacements.filter(Boolean));
      const replacedOk = (await Promise.all(replacements.map((c) => (c ? c.get('/').catch(() => 0) : 0)))).filter((s) => s === 200).length;
      report.check('new connections admitted once others closed', replacedOk === options.replace, `${replacedOk}/${options.replace} answered 200`, `all ${options.replace}`);

      for (const c of admitted.splice(0)) c.close();
      await checkFdsBack(report, proxy, fdBaseline, 10_000);
      await stopAndCheckClean(report, proxy);
    } finally {
      for (const c of admitted) c.close();
      for (const s of excess) s.destroy();
      await proxy.stop('SIGKILL');
      await upstream.stop();
    }
  },
};

/** Connects past the limit and sends a request: resolves with how long the proxy took to close it and whether any answer came. */
async function tryExcess(proxy, sockets) {
  const began = performance.now();
  let socket;
  try {
    socket = await openSocket(proxy.host, proxy.port);
  } catch {
    return { served: false, closedAfterMs: performance.now() - began };
  }
  sockets.push(socket);
  return new Promise((resolve) => {
    let served = false;
    socket.on('data', (chunk) => (served ||= chunk.toString('latin1').startsWith('HTTP/1.1 200')));
    socket.on('error', () => {});
    const timer = setTimeout(() => resolve({ served, closedAfterMs: null }), REFUSAL_LIMIT_MS * 3);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ served, closedAfterMs: performance.now() - began });
    });
    socket.write('GET / HTTP/1.1\r\nHost: soak\r\n\r\n');
  });
}

// Many WebSockets: thousands of tunnels through the proxy to a ws echo upstream. Each must
// cost little memory, carry messages both ways, be closed by the service's idle timeout once
// quiet, and be cut by a SIGTERM drain when still busy at the drain deadline.
import WebSocket from 'ws';
import { mib, pollUntil, sleep } from '../lib/probes.js';
import { startProxy } from '../lib/proxy.js';
import { startUpstream } from '../lib/upstream.js';

const PER_TUNNEL_LIMIT = 50 * 1024;
// Tunnels that keep talking send a ping this often, well inside the idle timeout.
const PING_EVERY_MS = 2000;
const HANDSHAKES_AT_ONCE = 100;
// Timer slack: Node's socket timeouts and our close detection are not to the millisecond.
const SLACK_MS = 2000;

export default {
  name: 'websockets',
  description: 'idle WebSocket tunnels: small memory each, echo works, idle timeout and SIGTERM drain close them',
  // idle, drain: seconds; keep: tunnels still talking when the proxy is told to stop.
  defaults: { tunnels: 5000, sample: 100, keep: 100, idle: 5, drain: 3 },
  quick: {},

  async run({ report, dir, options }) {
    const upstream = await startUpstream({ dir });
    const proxy = await startProxy({
      dir,
      name: 'websockets',
      upstream,
      service: { timeouts: { connect: '2s', response: '10s', idle: `${options.idle}s` } },
      server: { drainTimeout: `${options.drain}s` },
      inspect: true,
    });
    const clients = [];
    try {
      const url = `ws://${proxy.host}:${proxy.port}/ws`;
      // Warm-up, so the baseline already includes the tunnel code paths; the baseline is taken
      // once the proxy has released the warm-up tunnels' sockets.
      const fdsAtStart = proxy.fds();
      for (const c of await openTunnels(url, 50)) c.ws.terminate();
      await pollUntil(() => proxy.fds(), (n) => n <= fdsAtStart + 2, 5000);
      await proxy.settle();
      const rssBefore = proxy.rss();
      const fdBaseline = proxy.fds();

      const began = performance.now();
      // Every tunnel keeps talking from its first moment while memory and echo are measured:
      // opening thousands takes longer than the short idle timeout.
      clients.push(...(await openTunnels(url, options.tunnels, { ping: true })));
      const opened = clients.filter((c) => c.open).length;
      report.info(`${opened} tunnels opened in ${((performance.now() - began) / 1000).toFixed(1)} s`);
      report.check('tunnels opened', opened === options.tunnels, `${opened}/${options.tunnels}`, `all ${options.tunnels}`);
      await sleep(2000);
      const closedEarly = clients.filter((c) => c.closedAt !== null).length;
      report.check('talking tunnels stay open', closedEarly === 0, `${closedEarly} closed`, '0 closed');
      const perTunnel = (proxy.rss() - rssBefore) / opened;
      report.check('proxy memory per tunnel', perTunnel < PER_TUNNEL_LIMIT, `${(perTunnel / 1024).toFixed(1)} KB (RSS ${mib(rssBefore)} -> ${mib(proxy.rss())} MB)`, `< ${PER_TUNNEL_LIMIT / 1024} KB`);

      const sample = pickRandom(clients.filter((c) => c.open), options.sample);
      const echoed = (await Promise.all(sample.map((c, i) => c.echo(`soak-${i}-${Math.random()}`)))).filter(Boolean).length;
      report.check('echo through a sample of tunnels', echoed === sample.length, `${echoed}/${sample.length}`, `all ${sample.length}`);

      // Idle timeout: all but `keep` go quiet and must be closed by the proxy.
      const keepers = clients.slice(0, options.keep);
      const quiet = clients.slice(options.keep);
      const quietFrom = performance.now();
      for (const c of quiet) c.stopPinging();
      const idleMs = options.idle * 1000;
      await waitForClose(quiet, idleMs + PING_EVERY_MS + SLACK_MS * 2);
      const closedQuiet = quiet.filter((c) => c.closedAt !== null && c.closedAt >= quietFrom);
      const afterQuiet = closedQuiet.map((c) => c.closedAt - c.lastActivity);
      report.check(
        'quiet tunnels closed by the idle timeout',
        closedQuiet.length === quiet.length && Math.min(...afterQuiet) >= idleMs - 500 && Math.max(...afterQuiet) <= idleMs + SLACK_MS,
        `${closedQuiet.length}/${quiet.length} closed, ${(Math.min(...afterQuiet) / 1000).toFixed(1)}-${(Math.max(...afterQuiet) / 1000).toFixed(1)} s after their last message`,
        `all, ${(idleMs - 500) / 1000}-${(idleMs + SLACK_MS) / 1000} s after it`,
      );
      const keptOpen = keepers.filter((c) => c.closedAt === null).length;
      report.check('tunnels still talking survive the idle timeout', keptOpen === keepers.length, `${keptOpen}/${keepers.length} open`, `all ${keepers.length}`);
      // A closed tunnel releases both its sockets: what is left is two per open tunnel.
      const expectedFds = fdBaseline + 2 * keptOpen;
      const fds = await pollUntil(() => proxy.fds(), (n) => Math.abs(n - expectedFds) <= 2, 3000);
      report.check('descriptors released by the closed tunnels', fds.reached, `${fds.value} (baseline ${fdBaseline} + 2 x ${keptOpen} open tunnels)`, `${expectedFds} ±2`);

      // Drain: the talking ones hold the drain until its deadline, then are cut.
      const stopAt = performance.now();
      const exited = proxy.stop('SIGTERM');
      await waitForClose(keepers, options.drain * 1000 + SLACK_MS * 2);
      const exit = await exited;
      const cutAfter = keepers.filter((c) => c.closedAt !== null).map((c) => c.closedAt - stopAt);
      report.check(
        'SIGTERM drain cuts the remaining tunnels at its deadline',
        cutAfter.length === keepers.length && Math.min(...cutAfter) >= options.drain * 1000 - 500 && Math.max(...cutAfter) <= options.drain * 1000 + SLACK_MS,
        `${cutAfter.length}/${keepers.length} closed, ${(Math.min(...cutAfter) / 1000).toFixed(1)}-${(Math.max(...cutAfter) / 1000).toFixed(1)} s after SIGTERM`,
        `all, ${options.drain - 0.5}-${(options.drain * 1000 + SLACK_MS) / 1000} s after it`,
      );
      const drained = proxy.recentLines.find((e) => /drain/.test(e.msg ?? '') && 'cut' in e);
      report.info(`proxy said: ${drained ? `${drained.msg} (cut ${drained.cut})` : 'no drain result logged'}`);
      report.check('proxy exits 0 after the drain, nothing uncaught', exit.code === 0 && proxy.uncaught === 0, `code ${exit.code}, ${proxy.uncaught} uncaught`, 'code 0, 0 uncaught');
    } finally {
      for (const c of clients) c.terminate();
      await proxy.stop('SIGKILL');
      await upstream.stop();
    }
  },
};

/** Opens `count` tunnels, HANDSHAKES_AT_ONCE at a time (each pinging once open if `ping`); failed ones come back with `open` false. */
async function openTunnels(url, count, { ping = false } = {}) {
  const clients = [];
  for (let i = 0; i < count; i += HANDSHAKES_AT_ONCE) {
    const batch = Array.from({ length: Math.min(HANDSHAKES_AT_ONCE, count - i) }, () => new Tunnel(url));
    await Promise.all(batch.map((c) => c.opened));
    if (ping) for (const c of batch) c.startPinging();
    clients.push(...batch);
  }
  return clients;
}

/** One client WebSocket and what the checks need to know about it. */
class Tunnel {
  constructor(url) {
    this.ws = new WebSocket(url, { perMessageDeflate: false });
    this.open = false;
    this.closedAt = null;
    this.lastActivity = performance.now();
    this.pinger = null;
    this.ws.on('error', () => {});
    this.ws.on('pong', () => (this.lastActivity = performance.now()));
    this.ws.on('close', () => {
      this.closedAt = performance.now();
      this.stopPinging();
    });
    this.opened = new Promise((resolve) => {
      this.ws.once('open', () => {
        this.open = true;
        this.lastActivity = performance.now();
        resolve();
      });
      this.ws.once('close', resolve);
    });
  }

  startPinging() {
    const ping = () => {
      if (this.ws.readyState !== WebSocket.OPEN) return;
      this.ws.ping();
      this.lastActivity = performance.now();
    };
    // A random first delay spreads the pings of thousands of tunnels evenly.
    this.pinger = setTimeout(() => {
      ping();
      this.pinger = setInterval(ping, PING_EVERY_MS);
    }, Math.random() * PING_EVERY_MS);
  }

  stopPinging() {
    clearTimeout(this.pinger);
    clearInterval(this.pinger);
    this.pinger = null;
  }

  /** Sends `text` and resolves true when the same text comes back within 3 s. */
  echo(text) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(false), 3000);
      const onMessage = (data) => String(data) === text && done(true);
      const done = (ok) => {
        clearTimeout(timer);
        this.ws.off('message', onMessage);
        this.lastActivity = performance.now();
        resolve(ok);
      };
      this.ws.on('message', onMessage);
      this.ws.send(text);
    });
  }

  terminate() {
    this.stopPinging();
    this.ws.terminate();
  }
}

async function waitForClose(clients, timeoutMs) {
  const deadline = performance.now() + timeoutMs;
  while (clients.some((c) => c.closedAt === null) && performance.now() < deadline) await sleep(100);
}

function pickRandom(items, count) {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, count);
}

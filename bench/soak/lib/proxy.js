// Runs the built proxy the way a user does (`shiftproxy run -c FILE`) as a child on its own CPU,
// writes its config and its log into the run's results directory, and gives the scenarios what
// they measure: PID-based RSS and descriptors, the admin /metrics, and what the log said.
import { createWriteStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eachLine, isAlive, pinned, PROXY_CPU, spawnChild, stopChild } from './children.js';
import { heapUsedAfterGc, openSession } from './inspector.js';
import { openFds, rssBytes, rssParts, rssPeak, scrapeMetrics } from './probes.js';

const BIN = new URL('../../../bin/shiftproxy.js', import.meta.url).pathname;
let workers = 1;

/** `npm run soak -- ... --workers N`: every proxy the scenarios start runs N data-plane processes. */
export function setProxyWorkers(count) {
  workers = count;
}
const LISTENING = 'shiftproxy listening';
const UNCAUGHT = /uncaught exception|unhandled rejection/i;
const started = [];

/** Proxies that exited without being told to stop (a crash), for the report when a scenario broke off. */
export function crashedProxies() {
  const crashed = started.filter((p) => !p.alive() && !p.stopRequested);
  for (const proxy of crashed) started.splice(started.indexOf(proxy), 1);
  return crashed;
}

/**
 * Starts a proxy in front of `upstream` ({ blue, green } ports). `service` adds keys to the one
 * service (timeouts, retry, ...), `server` fills the top-level server block. `fdLimit` runs it
 * under `ulimit -n`; `inspect` opens the V8 inspector on a free loopback port (forced GCs).
 */
export async function startProxy({ dir, name, upstream, service = {}, server = {}, fdLimit = 0, inspect = false }) {
  const configPath = join(dir, `${name}.yaml`);
  writeFileSync(configPath, renderConfig({ upstream, service, server, statePath: join(dir, `${name}-state.json`) }));
  // With workers, NODE_OPTIONS (which they inherit) gives each process an inspector of its own:
  // their heap and event-loop delay are read through it (the primary's /metrics has only its own).
  if (workers > 1) inspect = true;
  const nodeArgs = inspect && workers === 1 ? ['--inspect=127.0.0.1:0'] : [];
  const env = inspect && workers > 1 ? { ...process.env, NODE_OPTIONS: '--inspect=127.0.0.1:0' } : process.env;
  const nodeCommand = [...nodeArgs, BIN, 'run', '-c', configPath, ...(workers > 1 ? ['--workers', String(workers)] : [])];
  // Through sh only for the descriptor limit; `exec` keeps the PID the proxy's own.
  const [command, args] =
    fdLimit > 0
      ? pinned(PROXY_CPU, 'sh', ['-c', `ulimit -n ${fdLimit} && exec "$0" "$@"`, process.execPath, ...nodeCommand])
      : pinned(PROXY_CPU, process.execPath, nodeCommand);
  const child = spawnChild(command, args, { cwd: dir, env });
  const proxy = new ProxyProcess(child, join(dir, `${name}-proxy.log`), configPath);
  started.push(proxy);
  await proxy.ready;
  // Opened now, so that descriptor baselines taken later include the inspector sessions.
  if (workers > 1) await proxy.runtimeStats();
  return proxy;
}

export class ProxyProcess {
  constructor(child, logPath, configPath) {
    this.child = child;
    this.pid = child.pid;
    this.logPath = logPath;
    this.configPath = configPath;
    this.uncaught = 0;
    this.firstUncaught = null;
    this.stopRequested = false;
    this.recentLines = [];
    this.inspectorUrl = null;
    /** Every inspector of the proxy's processes (the primary's and each worker's). */
    this.inspectorUrls = [];
    this.workerPids = [];
    const log = createWriteStream(logPath);
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`proxy not listening after 15 s (log: ${logPath})`)), 15_000);
      child.exitInfo.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`proxy exited (code ${code}, signal ${signal}) before listening; log: ${logPath}`));
      });
      eachLine(child.stdout, (line) => {
        log.write(`${line}\n`);
        let entry;
        try {
          entry = JSON.parse(line);
        } catch {
          entry = { msg: line };
        }
        if (UNCAUGHT.test(entry.msg ?? '')) {
          this.uncaught += 1;
          this.firstUncaught ??= entry;
        }
        this.recentLines.push(entry);
        if (this.recentLines.length > 200) this.recentLines.shift();
        if (entry.msg === LISTENING) {
          clearTimeout(timer);
          const [host, port] = splitHostPort(entry.proxy[0]);
          this.host = host;
          this.port = port;
          this.url = `http://${entry.proxy[0]}`;
          this.adminUrl = `http://${entry.admin}`;
          this.workerPids = entry.workers ?? [];
          resolve();
        }
      });
      eachLine(child.stderr, (line) => {
        log.write(`[stderr] ${line}\n`);
        const inspector = /Debugger listening on (ws:\/\/\S+)/.exec(line);
        if (inspector) {
          this.inspectorUrl ??= inspector[1];
          this.inspectorUrls.push(inspector[1]);
        }
      });
    });
    // A rejection nobody awaits yet (the proxy died later) must not crash the harness.
    this.ready.catch(() => {});
    child.exitInfo.then(() => log.end());
  }

  alive() {
    return isAlive(this.child);
  }

  /** The primary and its workers (just the one process with workers: 1). */
  pids() {
    return [this.pid, ...this.workerPids];
  }

  /** Resident memory of every process of the proxy, added up. */
  rss() {
    return this.pids().reduce((sum, pid) => sum + rssBytes(pid), 0);
  }

  /** The largest process's RSS, and its parts: with workers, the one carrying a big transfer. */
  largestRss() {
    return this.largestRssParts().rss;
  }

  largestRssParts() {
    return rssPeak(this.pids().map((pid) => rssParts(pid)));
  }

  /** Open descriptors of every process of the proxy, added up. */
  fds() {
    return this.pids().reduce((sum, pid) => sum + openFds(pid), 0);
  }

  /** Live heap of every process after forced full GCs (needs `inspect`), added up. */
  async heapAfterGc() {
    let sum = 0;
    for (const url of this.inspectorUrls) sum += await heapUsedAfterGc(url);
    return sum;
  }

  /**
   * Heap used now (no GC) and event-loop delay p99 since the previous call, worst process first,
   * read through the inspectors (needs `inspect`): with workers, /metrics has only the primary's.
   */
  async runtimeStats() {
    this.statSessions ??= Promise.all(this.inspectorUrls.map((url) => openSession(url)));
    const sessions = await this.statSessions;
    // Every process at once, over kept sessions: each delay window ends at (nearly) the same moment.
    const all = await Promise.all(
      sessions.map((session) =>
        session.evaluate(
          `(() => {
          const h = (globalThis.__soakDelay ??= (() => { const d = process.getBuiltinModule('perf_hooks').monitorEventLoopDelay({ resolution: 10 }); d.enable(); return d; })());
          const out = { heap: process.memoryUsage().heapUsed, lagP99: h.count > 0 ? h.percentile(99) / 1e9 : 0 };
          h.reset();
          return out;
        })()`,
        ),
      ),
    );
    return { heap: all.reduce((sum, s) => sum + s.heap, 0), lagP99: Math.max(...all.map((s) => s.lagP99)) };
  }

  metrics() {
    return scrapeMetrics(`${this.adminUrl}/metrics`);
  }

  /**
   * Forces a full GC (needs `inspect`), so a memory baseline taken next holds no start-up
   * garbage: a proxy measured 0.3 s after start still carries ~17 MB that its first GC frees.
   */
  async settle() {
    await this.heapAfterGc();
  }

  /** Signals the proxy (SIGTERM: a planned stop with drain) and resolves with its exit. */
  stop(signal = 'SIGTERM', graceMs = 40_000) {
    void this.statSessions?.then((sessions) => sessions.forEach((s) => s.close()), () => undefined);
    // Stopping a proxy that is already gone does not make its exit a planned one.
    if (this.alive()) this.stopRequested = true;
    return stopChild(this.child, signal, graceMs);
  }
}

function splitHostPort(text) {
  const colon = text.lastIndexOf(':');
  return [text.slice(0, colon).replace(/^\[|\]$/g, ''), Number(text.slice(colon + 1))];
}

/** The config file: loopback listeners on free ports and one service whose slots are the upstream's two ports. */
function renderConfig({ upstream, service, server, statePath }) {
  const lines = [
    'listen: 127.0.0.1:0',
    'admin: { listen: 127.0.0.1:0 }',
    `state: { path: ${JSON.stringify(statePath)} }`,
  ];
  if (Object.keys(server).length > 0) lines.push(`server: ${flow(server)}`);
  lines.push(
    'services:',
    '  - name: soak',
    `    blue: { targets: [ { url: "http://127.0.0.1:${upstream.blue}" } ] }`,
    `    green: { targets: [ { url: "http://127.0.0.1:${upstream.green}" } ] }`,
  );
  for (const [key, value] of Object.entries(service)) lines.push(`    ${key}: ${typeof value === 'object' ? flow(value) : value}`);
  return `${lines.join('\n')}\n`;
}

function flow(object) {
  return `{ ${Object.entries(object)
    .map(([key, value]) => `${key}: ${value}`)
    .join(', ')} }`;
}

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { WORKER_SEMI_SPACE_MB } from '../../../src/cluster/worker-node-options.js';
import { startCli, writeTempConfig, type CliProcess } from '../../helpers/cli-process.js';
import { OneConnection } from '../../helpers/http-client.js';
import { listenOnLoopback } from '../../helpers/loopback-server.js';
import { socketOwner } from '../../helpers/socket-owner.js';
import { until } from '../reliability/support.js';
import { processExists } from '../../helpers/process-probe.js';

// `shiftproxy run --workers 2` as a real process tree: signals, reloads, and where work happens.

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

interface Backend {
  url: string;
  port: number;
  /** The health path answers this status. */
  health: number;
  /** Every request: its path and the PID of the process that sent it (among `pids`). */
  seen: { path: string; from: number | null | 'gone' }[];
  /** Processes to attribute requests to (the proxy's primary and workers). */
  pids: number[];
  /** While set, requests other than health checks wait for `release()`. */
  holding: boolean;
  release(): void;
}

async function backend(name: string): Promise<Backend> {
  const held: (() => void)[] = [];
  const state: Backend = {
    url: '',
    port: 0,
    health: 200,
    seen: [],
    pids: [],
    holding: false,
    release: () => {
      state.holding = false;
      for (const answer of held.splice(0)) answer();
    },
  };
  const server: Server = createServer((req: IncomingMessage, res) => {
    state.seen.push({ path: req.url ?? '', from: socketOwner(req.socket.remotePort as number, state.port, state.pids) });
    if (req.url === '/healthz') {
      res.statusCode = state.health;
      res.end();
      return;
    }
    if (state.holding) held.push(() => res.end(name));
    else res.end(name);
  });
  state.url = await listenOnLoopback(server, cleanup);
  state.port = (server.address() as AddressInfo).port;
  return state;
}

const STATE = join(mkdtempSync(join(tmpdir(), 'shiftproxy-workers-')), 'state.json');

function config(blue: string, green: string, extra = ''): string {
  return [
    'listen: 127.0.0.1:0',
    'admin: { listen: 127.0.0.1:0 }',
    `state: { path: ${JSON.stringify(STATE)} }`,
    'services:',
    '  - name: svc',
    `    blue: { targets: [ { url: "${blue}" } ] }`,
    `    green: { targets: [ { url: "${green}" } ] }`,
    extra,
    '',
  ].join('\n');
}

async function run(file: string): Promise<{ cli: CliProcess; proxy: string; admin: string; primary: number; workers: number[] }> {
  const cli = startCli(['run', '-c', file, '--workers', '2']);
  cleanup.push(async () => {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    await cli.exited;
  });
  const line = await cli.waitForLog((l) => l.msg === 'shiftproxy listening');
  return {
    cli,
    proxy: `http://${(line.proxy as string[])[0]}`,
    admin: `http://${line.admin as string}`,
    primary: cli.child.pid as number,
    workers: line.workers as number[],
  };
}

describe('run --workers 2', () => {
  it('SIGTERM drains every worker: the request in flight is answered with Connection: close, then no process is left', async () => {
    const blue = await backend('blue');
    blue.holding = true;
    cleanup.push(async () => blue.release());
    const p = await run(writeTempConfig(config(blue.url, 'http://127.0.0.1:9')));
    expect(p.workers).toHaveLength(2);
    // Each worker runs with its young generation capped (see worker-node-options.ts).
    for (const pid of p.workers) expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain(`--max-semi-space-size=${WORKER_SEMI_SPACE_MB}`);
    const inFlight = request(p.proxy);
    await until(() => blue.seen.length === 1, 'the request to reach the backend');
    p.cli.child.kill('SIGTERM');
    // The answer is held until both workers are draining: it must then carry Connection: close.
    await until(() => p.cli.logs.filter((l) => l.msg === 'worker draining').length === 2, 'both workers to begin draining');
    blue.release();
    const response = await inFlight;
    expect(response.statusCode).toBe(200);
    expect(response.headers.connection).toBe('close');
    expect(await response.body.text()).toBe('blue');
    expect(await p.cli.exited).toEqual({ code: 0, signal: null });
    expect(p.cli.logs.find((l) => l.msg === 'drained')).toMatchObject({ completed: true, cut: 0 });
    expect([p.primary, ...p.workers].filter(processExists)).toEqual([]);
  });

  it('SIGTERM with server.shutdownDelay: /healthz turns 503 while every worker still serves new connections, then the drain', async () => {
    const blue = await backend('blue');
    const p = await run(writeTempConfig(`${config(blue.url, 'http://127.0.0.1:9')}server: { shutdownDelay: 5s }\n`));
    blue.pids.push(...p.workers);
    p.cli.child.kill('SIGTERM');
    // A load balancer polling /healthz, a new connection each time: 200 until it turns 503, never a refused connection.
    let health = 200;
    while (health === 200) {
      const probe = new OneConnection(p.admin);
      health = (await probe.get('/healthz')).status;
      await probe.close();
    }
    expect(health).toBe(503);
    // After the 503, new connections are still accepted and answered, by each worker.
    const answeredBy = new Set<number | 'gone' | null>();
    for (let i = 0; i < 20 && answeredBy.size < 2; i += 1) {
      const client = new OneConnection(p.proxy);
      const answer = await client.get('/');
      await client.close();
      expect(answer.status).toBe(200);
      expect(answer.body).toBe('blue');
      answeredBy.add(blue.seen.at(-1)?.from ?? null);
    }
    expect([...answeredBy].sort()).toEqual([...p.workers].sort());
    expect(await p.cli.exited).toEqual({ code: 0, signal: null });
    const messages = p.cli.logs.map((l) => l.msg);
    expect(messages.indexOf('/healthz answers 503; still serving until the shutdown delay ends')).toBeLessThan(messages.indexOf('draining'));
    expect(p.cli.logs.find((l) => l.msg === 'drained')).toMatchObject({ completed: true, cut: 0 });
  });

  it('the primary killed outright takes its workers with it once they finish', async () => {
    const blue = await backend('blue');
    const p = await run(writeTempConfig(config(blue.url, 'http://127.0.0.1:9')));
    p.cli.child.kill('SIGKILL');
    await p.cli.exited;
    await until(() => p.workers.every((pid) => !processExists(pid)), 'the workers to exit');
  });

  it('SIGHUP reloads every worker from one snapshot, health flags included; health checks run once, in the primary', async () => {
    const [a, b, green] = [await backend('A'), await backend('B'), await backend('G')];
    // A probe timeout far away: only the 500 the test sets can fail a check (a probe cut short
    // on a busy machine would flip a target, and could not be told apart in /proc once closed).
    const checks = 'healthCheck: { path: /healthz, interval: 200ms, timeout: 30s, healthyThreshold: 1, unhealthyThreshold: 1 }';
    const file = writeTempConfig(config(a.url, green.url, `    ${checks}`));
    const p = await run(file);
    // Requests from now on are attributed to a process (those during the start were not).
    for (const backend of [a, b, green]) {
      backend.pids.push(p.primary, ...p.workers);
      backend.seen.length = 0;
    }
    // Four connections, two on each worker.
    const clients = Array.from({ length: 4 }, () => new OneConnection(p.proxy));
    cleanup.push(() => Promise.all(clients.map((c) => c.close())));
    for (const c of clients) expect((await c.get('/')).body).toBe('A');

    writeFileSync(file, config(b.url, green.url, `    ${checks}`));
    p.cli.child.kill('SIGHUP');
    await p.cli.waitForLog((l) => l.msg === 'config reloaded');
    // Logged once both workers applied it: no wait.
    for (const c of clients) expect((await c.get('/')).body).toBe('B');

    // B fails its check: the primary flags it, and both workers fail over to green.
    b.health = 500;
    await p.cli.waitForLog((l) => l.msg === 'target health changed' && l.target === b.url && l.to === 'unhealthy');
    for (const c of clients) await until(async () => (await c.get('/')).body === 'G', 'green to take over on this connection');

    // A probe to A in flight when the reload stopped checking A is abandoned by its client and
    // may reach A only after that: no process holds its end any more, so it names no sender.
    const probes = [...a.seen.filter((s) => s.from !== 'gone'), ...b.seen, ...green.seen].filter((s) => s.path === '/healthz');
    const traffic = [...a.seen, ...b.seen, ...green.seen].filter((s) => s.path !== '/healthz');
    expect(probes.length).toBeGreaterThan(0);
    expect(new Set(probes.map((s) => s.from))).toEqual(new Set([p.primary]));
    expect(new Set(traffic.map((s) => s.from))).toEqual(new Set(p.workers));
  });
});

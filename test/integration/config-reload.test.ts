import { renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { Pool, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { listenOnLoopback } from '../helpers/loopback-server.js';
import { listeningPorts, startCli, writeTempConfig, type CliProcess } from '../helpers/cli-process.js';
import { until as waitUntil } from '../helpers/wait-for.js';

/** A valid reload under load applies to new requests; an invalid file keeps the old config serving. */

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

interface NamedBackend {
  name: string;
  url: string;
  /** Open client connections (the proxy's pool and health probes). */
  sockets: Set<Socket>;
  slowInFlight: number;
  /** Answers the held `/slow` requests. */
  releaseSlow(): void;
}

/** Answers its own name; `/slow` is held until `releaseSlow()`. */
async function backend(name: string): Promise<NamedBackend> {
  const sockets = new Set<Socket>();
  const held: (() => void)[] = [];
  const state: NamedBackend = { name, url: '', sockets, slowInFlight: 0, releaseSlow: () => held.splice(0).forEach((answer) => answer()) };
  const server: Server = createServer((req, res) => {
    const answer = () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(name) });
      res.end(name);
    };
    if (req.url === '/slow') {
      state.slowInFlight += 1;
      held.push(() => {
        state.slowInFlight -= 1;
        answer();
      });
    } else {
      answer();
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  state.url = await listenOnLoopback(server, cleanup);
  return state;
}

interface Variant {
  blue: { url: string; weight: number }[];
  green: string;
  responseTimeout?: string;
  listen?: string;
  adminToken?: string;
  extra?: string;
}

function configText(v: Variant): string {
  return `
listen: ${v.listen ?? '127.0.0.1:0'}
admin: { listen: 127.0.0.1:0${v.adminToken ? `, token: ${v.adminToken}` : ''} }
services:
  - name: shop
    blue: { targets: [${v.blue.map((t) => `{ url: "${t.url}", weight: ${t.weight} }`).join(', ')}] }
    green: { targets: [{ url: "${v.green}" }] }
    timeouts: { response: ${v.responseTimeout ?? '5s'} }
    healthCheck: { path: /healthz, interval: 300ms, timeout: 5s }
${v.extra ?? ''}`;
}

async function startRun(v: Variant, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ cli: CliProcess; file: string; proxy: string; admin: string }> {
  const file = writeTempConfig(configText(v));
  const cli = startCli(['run', '-c', file, ...extraArgs], env);
  cleanup.push(async () => {
    if (cli.child.exitCode === null && cli.child.signalCode === null) {
      cli.child.kill('SIGKILL');
      await cli.exited;
    }
  });
  const ports = await listeningPorts(cli);
  return { cli, file, proxy: `http://127.0.0.1:${ports.proxy}`, admin: `http://127.0.0.1:${ports.admin}` };
}

const count = (cli: CliProcess, msg: string) => cli.logs.filter((l) => l.msg === msg).length;

function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  return waitUntil(check, what);
}

/** Sends SIGHUP and waits for the reloader's log line (one more `msg` than before). */
async function sighup(cli: CliProcess, msg: string): Promise<Record<string, unknown>> {
  const before = count(cli, msg);
  cli.child.kill('SIGHUP');
  await until(`log "${msg}" #${before + 1}`, () => count(cli, msg) > before);
  return cli.logs.filter((l) => l.msg === msg)[before] as Record<string, unknown>;
}

async function body(url: string): Promise<{ status: number; text: string }> {
  const res = await request(url);
  return { status: res.statusCode, text: await res.body.text() };
}

async function adminJson(url: string, method: 'GET' | 'POST' = 'GET', token?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(url, { method, ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

async function reloadGauge(admin: string): Promise<number> {
  const text = await (await request(`${admin}/metrics`)).body.text();
  const match = /^shiftproxy_config_last_reload_successful (\d+)/m.exec(text);
  if (!match) throw new Error('no shiftproxy_config_last_reload_successful in /metrics');
  return Number(match[1]);
}

describe('config reload (SIGHUP)', () => {
  it('tunes the alarms of a running rollout and rotates the admin token, without a restart', async () => {
    const [a, c] = await Promise.all([backend('A'), backend('C')]);
    const rollout = (max: number) => `    rollout:
      canary: { weight: 10, interval: 1h }
      analysis: { interval: 1h, alarms: [ { name: errors, metric: error_rate, max: ${max} } ] }
`;
    const run = await startRun({ blue: [{ url: a.url, weight: 1 }], green: c.url, adminToken: 'old-token', extra: rollout(0.05) });
    const start = await request(`${run.admin}/api/v1/services/shop/rollout`, { method: 'POST', headers: { authorization: 'Bearer old-token', 'content-type': 'application/json' }, body: '{}' });
    expect(start.statusCode).toBe(202);
    await start.body.dump();

    writeFileSync(run.file, configText({ blue: [{ url: a.url, weight: 1 }], green: c.url, adminToken: 'new-token', extra: rollout(0.01) }));
    const line = await sighup(run.cli, 'config reloaded');
    expect(line.changes).toEqual(['admin.token', 'services[0].rollout.analysis.alarms']);
    expect((await adminJson(`${run.admin}/api/v1/services/shop/rollout`, 'GET', 'old-token')).status).toBe(401);
    // The history entry is written (durably) right after the reload is logged.
    const rolloutView = () => adminJson(`${run.admin}/api/v1/services/shop/rollout`, 'GET', 'new-token');
    await until('the change in the rollout history', async () => ((await rolloutView()).json.history as { event: string }[]).some((h) => h.event === 'analysis-changed'));
    const view = await rolloutView();
    expect(view.json).toMatchObject({ state: 'progressing', canaryWeight: 10 });
    expect((view.json.history as { event: string }[]).at(-1)).toMatchObject({
      event: 'analysis-changed',
      detail: { changes: [{ field: 'alarms[errors].max', from: 0.05, to: 0.01 }] },
    });
  }, 20_000);

  it('applies 100 reloads under steady load with no errors; new requests follow each reload; a removed target finishes its requests, then closes', async () => {
    const [a, b, c] = await Promise.all([backend('A'), backend('B'), backend('C')]);
    const variant = (i: number): Variant => ({
      blue: [{ url: (i % 2 === 0 ? a : b).url, weight: 1 + (i % 3) }],
      green: c.url,
      responseTimeout: `${5000 + i * 100}ms`,
    });
    const run = await startRun(variant(0));
    expect((await body(run.proxy)).text).toBe('A');

    // Steady load: 5 requests every 10 ms (about 500 rps), none awaited by the timer.
    const pool = new Pool(run.proxy, { connections: 32 });
    cleanup.push(() => pool.close());
    const outcome = { sent: 0, ok: 0, non2xx: 0, errors: [] as string[] };
    const pending = new Set<Promise<void>>();
    const fire = () => {
      outcome.sent += 1;
      const p = pool
        .request({ path: '/', method: 'GET' })
        .then(async (res) => {
          await res.body.dump();
          if (res.statusCode === 200) outcome.ok += 1;
          else outcome.non2xx += 1;
        })
        .catch((err: Error) => void outcome.errors.push(err.message))
        .finally(() => pending.delete(p));
      pending.add(p);
    };
    const timer = setInterval(() => {
      for (let n = 0; n < 5; n++) fire();
    }, 10);
    cleanup.push(async () => clearInterval(timer));

    // A slow request is held on A when the first reload removes A.
    const slow = body(`${run.proxy}/slow`);
    await until('the slow request to reach A', () => a.slowInFlight === 1);

    const reloads = 100;
    for (let i = 1; i <= reloads; i++) {
      // Each reload lands in the middle of the load: at least 20 more requests went out since the last one.
      const sentBefore = outcome.sent;
      await until('the load to move on', () => outcome.sent >= sentBefore + 20);
      writeFileSync(run.file, configText(variant(i)));
      const line = await sighup(run.cli, 'config reloaded');
      expect(line.changes).toEqual(expect.arrayContaining(['services[0].blue.targets', 'services[0].timeouts']));
      const expected = i % 2 === 0 ? 'A' : 'B';
      for (let k = 0; k < 5; k++) expect((await body(run.proxy)).text).toBe(expected);
      if (i === 1) {
        // A is out of every slot; the request it holds still finishes there.
        a.releaseSlow();
        expect(await slow).toEqual({ status: 200, text: 'A' });
        // Its pool closes once idle and its health checks stop.
        await until('A to have no connections left', () => a.sockets.size === 0);
      }
    }
    clearInterval(timer);
    await Promise.all([...pending]);

    // Health checks follow the targets: blue is checked at its current target only.
    const shop = await adminJson(`${run.admin}/api/v1/services/shop`);
    const blueHealth = (shop.json.health as { blue: { targets: { url: string; weight: number; checks: number }[] } }).blue;
    expect(blueHealth.targets.map((t) => [t.url, t.weight])).toEqual([[a.url, 1 + (reloads % 3)]]);
    await until('a health check of the current blue target', async () => {
      const view = await adminJson(`${run.admin}/api/v1/services/shop`);
      return ((view.json.health as typeof shop.json.health & { blue: { targets: { checks: number }[] } }).blue.targets[0]?.checks ?? 0) > 0;
    });
    await until('B to have no connections left', () => b.sockets.size === 0);

    console.log(`config reload under load: ${reloads} reloads, ${outcome.sent} requests, ${outcome.ok} ok, ${outcome.non2xx} non-2xx, ${outcome.errors.length} errors`);
    expect(outcome.errors).toEqual([]);
    expect(outcome.non2xx).toBe(0);
    expect(outcome.ok).toBe(outcome.sent);
    expect(outcome.sent).toBeGreaterThan(2000);
    expect(count(run.cli, 'config reloaded')).toBe(reloads);
    expect(await reloadGauge(run.admin)).toBe(1);
  }, 90_000);

  it('keeps serving the old config through invalid files, reports each, and recovers with a valid one', async () => {
    const [a, b, c] = await Promise.all([backend('A'), backend('B'), backend('C')]);
    const run = await startRun({ blue: [{ url: a.url, weight: 1 }], green: c.url });
    const startedView = await adminJson(`${run.admin}/api/v1/config`);
    expect(startedView.json).toEqual({ file: run.file, loadedAt: expect.any(String), lastReload: null });

    const valid = configText({ blue: [{ url: b.url, weight: 1 }], green: c.url });
    const invalid: [string, string, RegExp][] = [
      ['YAML syntax error', `${valid}\n  - name: [unclosed\n`, /line \d+/],
      ['canary weight 150', `${valid}    rollout: { strategy: canary, canary: { weight: 150 } }\n`, /services\[0\]\.rollout\.canary\.weight/],
      ['bad URL', valid.replace(b.url, 'not a url'), /services\[0\]\.blue\.targets\[0\]\.url: not a URL/],
      ['unset variable', valid.replace(b.url, '${SHIFTPROXY_RELOAD_TEST_UNSET}'), /SHIFTPROXY_RELOAD_TEST_UNSET/],
      ['file truncated at a line end', valid.slice(0, valid.indexOf('    green:')), /services\[0\]\.green/],
      ['file truncated mid-line', valid.slice(0, valid.indexOf('green:') + 12), /line \d+/],
      ['empty file', '', /services/],
    ];
    for (const [what, text, problem] of invalid) {
      writeFileSync(run.file, text);
      const line = await sighup(run.cli, 'config reload failed: invalid config; still serving the previous one');
      expect(line.level, what).toBe('error');
      expect((line.problems as string[]).join('\n'), what).toMatch(problem);
      expect((await body(run.proxy)).text, what).toBe('A');
      expect(await reloadGauge(run.admin), what).toBe(0);
      const view = await adminJson(`${run.admin}/api/v1/config`);
      const last = view.json.lastReload as { ok: boolean; error: string; problems: string[] };
      expect(last.ok, what).toBe(false);
      expect(last.error, what).toMatch(problem);
    }
    // Every problem of one file, each with its path.
    writeFileSync(run.file, valid.replace(b.url, 'not a url').replace('5s', '-1s'));
    const both = await adminJson(`${run.admin}/api/v1/config/reload`, 'POST');
    expect(both.status).toBe(400);
    expect(both.json.problems).toEqual(
      expect.arrayContaining([expect.stringMatching(/^services\[0\]\.blue\.targets\[0\]\.url: /), expect.stringMatching(/^services\[0\]\.timeouts\.response: /)]),
    );

    writeFileSync(run.file, valid);
    const line = await sighup(run.cli, 'config reloaded');
    expect(line.changes).toEqual(['services[0].blue.targets']);
    expect((await body(run.proxy)).text).toBe('B');
    expect(await reloadGauge(run.admin)).toBe(1);
    const view = await adminJson(`${run.admin}/api/v1/config`);
    expect(view.json.lastReload).toEqual({ at: expect.any(String), ok: true, changes: ['services[0].blue.targets'] });
    expect(view.json.loadedAt).toBe((view.json.lastReload as { at: string }).at);
  }, 20_000);

  it('refuses a reload that changes listen (naming it), keeps the old config, and reloads through the admin API', async () => {
    const [a, b, c] = await Promise.all([backend('A'), backend('B'), backend('C')]);
    const token = 'reload-test-token';
    const run = await startRun({ blue: [{ url: a.url, weight: 1 }], green: c.url, adminToken: token });
    // The config endpoints are /api/ endpoints: the admin token guards them.
    expect((await adminJson(`${run.admin}/api/v1/config`)).status).toBe(401);
    expect((await adminJson(`${run.admin}/api/v1/config/reload`, 'POST')).status).toBe(401);
    expect((await adminJson(`${run.admin}/api/v1/config`, 'GET', token)).status).toBe(200);

    writeFileSync(run.file, configText({ blue: [{ url: b.url, weight: 1 }], green: c.url, listen: '127.0.0.1:1', adminToken: token }));
    const line = await sighup(run.cli, 'config reload refused: some changes need a restart; still serving the previous config');
    expect(line.problems).toEqual(['listen: changes need a restart']);
    expect((await body(run.proxy)).text).toBe('A');
    expect(await reloadGauge(run.admin)).toBe(0);

    const refused = await adminJson(`${run.admin}/api/v1/config/reload`, 'POST', token);
    expect(refused.status).toBe(409);
    expect(refused.json).toMatchObject({ ok: false, reason: 'restart', problems: ['listen: changes need a restart'] });
    expect(refused.json.error).toMatch(/listen/);

    writeFileSync(run.file, configText({ blue: [{ url: b.url, weight: 1 }], green: c.url, adminToken: token }));
    const applied = await adminJson(`${run.admin}/api/v1/config/reload`, 'POST', token);
    expect(applied.status).toBe(200);
    expect(applied.json).toMatchObject({ ok: true, changes: ['services[0].blue.targets'] });
    expect((await body(run.proxy)).text).toBe('B');
    expect(await reloadGauge(run.admin)).toBe(1);
  }, 20_000);

  it('run --watch: a file caught mid-write keeps the old config; the finished write, or one by rename, is applied; a touch is not a change', async () => {
    const [a, b, c] = await Promise.all([backend('A'), backend('B'), backend('C')]);
    // At debug level the watcher says when it looked at the file and found nothing new.
    const run = await startRun({ blue: [{ url: a.url, weight: 1 }], green: c.url }, ['--watch'], { SHIFTPROXY_LOG_LEVEL: 'debug' });
    const failed = 'config reload failed: invalid config; still serving the previous one';
    const waitFor = async (msg: string, before: number) => {
      await until(`log "${msg}" #${before + 1}`, () => count(run.cli, msg) > before);
      return run.cli.logs.filter((l) => l.msg === msg)[before] as Record<string, unknown>;
    };
    const toB = configText({ blue: [{ url: b.url, weight: 1 }], green: c.url });

    // The first half of a write: the reload fails and A keeps serving.
    writeFileSync(run.file, toB.slice(0, toB.indexOf('    green:')));
    expect(await waitFor(failed, 0)).toMatchObject({ trigger: 'file changed' });
    expect((await body(run.proxy)).text).toBe('A');

    // The rest of it arrives: applied.
    writeFileSync(run.file, toB);
    expect(await waitFor('config reloaded', 0)).toMatchObject({ trigger: 'file changed', changes: ['services[0].blue.targets'] });
    expect((await body(run.proxy)).text).toBe('B');

    // An editor's save: a temporary file renamed over the config.
    const temporary = join(dirname(run.file), '.config.yaml.swp');
    writeFileSync(temporary, configText({ blue: [{ url: a.url, weight: 1 }], green: c.url }));
    renameSync(temporary, run.file);
    await waitFor('config reloaded', 1);
    expect((await body(run.proxy)).text).toBe('A');

    // Same content rewritten, and another file in the folder: each is read and found unchanged, no reload.
    const unchanged = 'config file unchanged; not reloaded';
    const seen = count(run.cli, unchanged);
    writeFileSync(run.file, configText({ blue: [{ url: a.url, weight: 1 }], green: c.url }));
    await waitFor(unchanged, seen);
    writeFileSync(join(dirname(run.file), 'notes.txt'), 'unrelated');
    await waitFor(unchanged, seen + 1);
    expect(count(run.cli, 'config reloaded')).toBe(2);
    expect(count(run.cli, failed)).toBe(1);
  }, 20_000);
});

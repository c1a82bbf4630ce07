import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeBackend } from '../../../src/simulate/fake-backend.js';
import { until } from '../../helpers/wait-for.js';
import { listeningPorts, processState, startCli, startCliUnreaped, type CliProcess } from '../../helpers/cli-process.js';

const run = promisify(execFile);
const BIN = resolve(__dirname, '../../../bin/shiftproxy.js');
const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

async function backends() {
  const blue = new FakeBackend('blue');
  const green = new FakeBackend('green');
  await Promise.all([blue.start(), green.start()]);
  cleanup.push(() => blue.stop(), () => green.stop());
  return { blue, green };
}

function configFile(dir: string, body: string): string {
  const file = join(dir, 'shiftproxy.yaml');
  writeFileSync(file, body);
  return file;
}

function serviceYaml(blue: string, green: string, rollout: string, statePath: string, extra = ''): string {
  return `
listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0${extra} }
state: { path: ${statePath} }
services:
  - name: shop
    blue: { targets: [ { url: "${blue}" } ] }
    green: { targets: [ { url: "${green}" } ] }
    rollout: ${rollout}
`;
}

async function startProxyProcess(file: string, env: NodeJS.ProcessEnv = {}): Promise<{ cli: CliProcess; proxy: number; admin: number }> {
  const cli = startCli(['run', '-c', file], env);
  cleanup.push(async () => {
    if (cli.child.exitCode === null && cli.child.signalCode === null) {
      cli.child.kill('SIGKILL');
      await cli.exited;
    }
  });
  const ports = await listeningPorts(cli);
  return { cli, ...ports };
}

async function api(admin: number, method: 'GET' | 'POST', path: string, body?: unknown, token?: string) {
  const res = await request(`http://127.0.0.1:${admin}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A port nothing listens on right now (the kernel's pick), for a config that must name its admin port. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolveClose) => server.close(resolveClose));
  return port;
}

async function servedBy(proxy: number, n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const res = await request(`http://127.0.0.1:${proxy}/`);
    await res.body.dump();
    const slot = String(res.headers['x-served-by']);
    counts[slot] = (counts[slot] ?? 0) + 1;
  }
  return counts;
}

describe('rollouts in a running shiftproxy', () => {
  it('serves the admin API as docs/design.md says: 202, 409, 404, 400 and the rollout object', async () => {
    const { blue, green } = await backends();
    const dir = mkdtempSync(join(tmpdir(), 'sp-api-'));
    const { admin } = await startProxyProcess(configFile(dir, serviceYaml(blue.url, green.url, '{ strategy: canary, canary: { weight: 10, interval: 1h } }', join(dir, 'state.json'))));

    expect(await api(admin, 'GET', '/api/v1/services/shop/rollout')).toEqual({ status: 404, body: { error: 'shop has had no rollout yet' } });
    expect(await api(admin, 'POST', '/api/v1/services/nope/rollout', {})).toEqual({ status: 404, body: { error: 'unknown service "nope"' } });
    expect(await api(admin, 'POST', '/api/v1/services/shop/rollout', { step: 150, bogus: 1 })).toEqual({
      status: 400,
      body: { error: 'step: must be at most 100; bogus: unknown key' },
    });
    const started = await api(admin, 'POST', '/api/v1/services/shop/rollout', { step: 20, interval: '30m' });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ service: 'shop', from: 'blue', to: 'green', strategy: 'canary', state: 'progressing', canaryWeight: 20, step: 1, reason: null });
    expect(Object.keys(started.body)).toEqual(expect.arrayContaining(['id', 'service', 'from', 'to', 'strategy', 'state', 'canaryWeight', 'step', 'startedAt', 'updatedAt', 'reason', 'history']));
    expect((started.body.history as { event: string }[]).map((h) => h.event)).toEqual(['started', 'hook-passed', 'step']);
    expect((await api(admin, 'POST', '/api/v1/services/shop/rollout', {})).status).toBe(409);
    expect(await api(admin, 'POST', '/api/v1/services/shop/rollout/resume')).toEqual({ status: 409, body: { error: 'cannot resume a progressing rollout: it is not paused' } });
    expect((await api(admin, 'POST', '/api/v1/services/shop/rollout/pause')).body.state).toBe('paused');
    const services = await api(admin, 'GET', '/api/v1/services/shop');
    expect(services.body).toMatchObject({ name: 'shop', live: 'blue', weights: { blue: 80, green: 20 }, rollout: { state: 'paused' } });
    const metrics = await (await request(`http://127.0.0.1:${admin}/metrics`)).body.text();
    expect(metrics).toContain('shiftproxy_rollout_state{service="shop",state="paused"} 1');
    expect(metrics).toContain('shiftproxy_canary_weight{service="shop"} 20');
    expect((await api(admin, 'POST', '/api/v1/services/shop/rollout/abort')).body).toMatchObject({ state: 'rolled_back', canaryWeight: 0, reason: 'aborted by loopback' });
    const after = await (await request(`http://127.0.0.1:${admin}/metrics`)).body.text();
    expect(after).toContain('shiftproxy_rollbacks_total{service="shop",cause="aborted"} 1');
    expect(after).toContain('shiftproxy_rollout_state{service="shop",state="rolled_back"} 1');
  });

  it('promote goes to 100% and still bakes; a second promote (or full) ends the bake; a bad body is 400', async () => {
    const { blue, green } = await backends();
    const dir = mkdtempSync(join(tmpdir(), 'sp-promote-'));
    const { admin, proxy } = await startProxyProcess(
      configFile(dir, serviceYaml(blue.url, green.url, '{ strategy: linear, linear: { step: 10, interval: 1h }, bakeTime: 1h }', join(dir, 'state.json'))),
    );
    expect((await api(admin, 'POST', '/api/v1/services/shop/rollout', {})).body).toMatchObject({ state: 'progressing', canaryWeight: 10 });
    expect(await api(admin, 'POST', '/api/v1/services/shop/rollout/promote', { full: 'yes' })).toEqual({ status: 400, body: { error: 'full: expected a boolean, got "yes"' } });
    expect((await api(admin, 'POST', '/api/v1/services/shop/rollout/promote', {})).body).toMatchObject({ state: 'baking', canaryWeight: 100 });
    // Green takes everything while the bake watches; blue is still live, for a rollback.
    expect(await servedBy(proxy, 4)).toEqual({ green: 4 });
    expect((await api(admin, 'GET', '/api/v1/services/shop')).body).toMatchObject({ live: 'blue' });
    expect((await api(admin, 'POST', '/api/v1/services/shop/rollout/promote')).body).toMatchObject({ state: 'promoted', reason: 'promoted by loopback' });
    expect((await api(admin, 'GET', '/api/v1/services/shop')).body).toMatchObject({ live: 'green' });
  });

  it('finds the admin API from -c FILE alone, as the README walkthrough does', async () => {
    const { blue, green } = await backends();
    const dir = mkdtempSync(join(tmpdir(), 'sp-cfg-admin-'));
    const adminPort = await freePort();
    const file = configFile(dir, serviceYaml(blue.url, green.url, '{ strategy: canary }', join(dir, 'state.json')).replace('admin: { listen: 127.0.0.1:0 }', `admin: { listen: 127.0.0.1:${adminPort} }`));
    const { admin } = await startProxyProcess(file);
    expect(admin).toBe(adminPort);
    // $SHIFTPROXY_ADMIN points elsewhere: the config given wins.
    const start = await cli(['rollout', 'start', 'shop', '-c', file], { SHIFTPROXY_ADMIN: 'http://127.0.0.1:1' });
    expect([start.code, start.stdout.split('\n')[0]]).toEqual([0, expect.stringMatching(/^shop {2}shop-\S+ {2}PROGRESSING$/)]);
    const status = await cli(['rollout', 'status', 'shop'], { SHIFTPROXY_ADMIN: `http://127.0.0.1:${adminPort}` });
    expect(status.code).toBe(0);
  });

  it('needs the token on every /api/ call when one is set', async () => {
    const { blue, green } = await backends();
    const dir = mkdtempSync(join(tmpdir(), 'sp-token-'));
    const file = configFile(dir, serviceYaml(blue.url, green.url, '{ strategy: canary }', join(dir, 'state.json'), ', token: "${TOKEN}"'));
    const { admin } = await startProxyProcess(file, { TOKEN: 's3cret-token' });
    expect(await api(admin, 'POST', '/api/v1/services/shop/rollout', {})).toEqual({ status: 401, body: { error: 'missing bearer token (Authorization: Bearer <token>)' } });
    expect(await api(admin, 'POST', '/api/v1/services/shop/rollout', {}, 'wrong')).toEqual({ status: 401, body: { error: 'invalid token' } });
    expect((await api(admin, 'POST', '/api/v1/services/shop/rollout', {}, 's3cret-token')).status).toBe(202);
    // The CLI reads the admin address and the token from the same config file.
    const status = await cli(['rollout', 'status', 'shop', '-c', file, '--admin', `http://127.0.0.1:${admin}`], { TOKEN: 's3cret-token' });
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^shop {2}shop-\S+ {2}PROGRESSING\n/);
  });

  it('drives a rollout from the command line, with exit codes 0 and 1', async () => {
    const { blue, green } = await backends();
    const dir = mkdtempSync(join(tmpdir(), 'sp-cli-'));
    const { admin, proxy } = await startProxyProcess(
      configFile(dir, serviceYaml(blue.url, green.url, '{ strategy: steps, steps: [ { weight: 50, pause: manual }, { weight: 100 } ], bakeTime: 1h }', join(dir, 'state.json'))),
    );
    const adminUrl = `http://127.0.0.1:${admin}`;
    const start = await cli(['rollout', 'start', 'shop', '--admin', adminUrl]);
    expect(start.code).toBe(0);
    expect(start.stdout).toContain('PAUSED');
    expect(start.stdout).toContain('[###############...............] 50% to green');
    expect(start.stdout).toContain('reason: waiting at 50% for promote or resume');
    expect(await servedBy(proxy, 20)).toEqual({ blue: 10, green: 10 });

    const again = await cli(['rollout', 'start', 'shop', '--admin', adminUrl]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^shiftproxy: a rollout of shop is already paused/);

    const json = await cli(['rollout', 'status', 'shop', '--admin', adminUrl, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ state: 'paused', canaryWeight: 50, step: 1, steps: 2 });

    // --full: the hour of bake is skipped too.
    const promoted = await cli(['rollout', 'promote', 'shop', '--full', '--admin', adminUrl]);
    expect([promoted.code, promoted.stdout.split('\n')[0]]).toEqual([0, expect.stringMatching(/PROMOTED$/)]);
    expect(promoted.stdout).toContain('promoted by loopback: remaining steps and bake skipped');
    expect(await servedBy(proxy, 5)).toEqual({ green: 5 });

    const refused = await cli(['rollout', 'abort', 'shop', '--admin', adminUrl]);
    expect([refused.code, refused.stderr]).toEqual([1, 'shiftproxy: cannot abort a promoted rollout\n']);
    // Nothing listening there: the user's to fix (exit 1), with where the address came from and a hint.
    const unreachable = await cli(['rollout', 'status', 'shop', '--admin', 'http://127.0.0.1:1']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^shiftproxy: cannot reach the admin API at http:\/\/127\.0\.0\.1:1 \(from --admin\): .*ECONNREFUSED.*\nhint: is `shiftproxy run` running\? Point at its admin address with -c FILE \(its admin\.listen\), \$SHIFTPROXY_ADMIN or --admin URL\n$/);
  });

  it('keeps the past rollouts across a restart, newest first, naming who started each and who acted; rollout history prints them', async () => {
    const { blue, green } = await backends();
    const dir = mkdtempSync(join(tmpdir(), 'sp-history-'));
    const [ALICE, BOB] = ['alice-token-0123456789abcdef', 'bob-token-0123456789abcdef'];
    const tokens = `, tokens: [ { name: alice, token: ${ALICE}, role: operator }, { name: bob, token: ${BOB}, role: operator } ]`;
    const file = configFile(dir, serviceYaml(blue.url, green.url, '{ strategy: steps, steps: [ { weight: 50, pause: manual }, { weight: 100 } ], bakeTime: 1h }', join(dir, 'state.json'), tokens));
    const first = await startProxyProcess(file);
    const first1 = await api(first.admin, 'POST', '/api/v1/services/shop/rollout', {}, ALICE);
    await api(first.admin, 'POST', '/api/v1/services/shop/rollout/abort', {}, BOB);
    const second1 = await api(first.admin, 'POST', '/api/v1/services/shop/rollout', {}, BOB);
    await api(first.admin, 'POST', '/api/v1/services/shop/rollout/pause', {}, ALICE);
    await api(first.admin, 'POST', '/api/v1/services/shop/rollout/promote', { full: true }, ALICE);
    const third = await api(first.admin, 'POST', '/api/v1/services/shop/rollout', {}, ALICE);
    first.cli.child.kill('SIGTERM');
    await first.cli.exited;

    const second = await startProxyProcess(file);
    const history = await api(second.admin, 'GET', '/api/v1/services/shop/rollouts', undefined, BOB);
    expect(history.status).toBe(200);
    const list = history.body as unknown as Record<string, unknown>[];
    expect(list.map((r) => [r.id, r.state, r.outcome, r.from, r.to, r.startedBy, r.actors, r.reason])).toEqual([
      [third.body.id, 'paused', null, 'green', 'blue', 'alice', ['alice'], 'waiting at 50% for promote or resume'],
      [second1.body.id, 'promoted', 'promoted', 'blue', 'green', 'bob', ['bob', 'alice'], 'promoted by alice'],
      [first1.body.id, 'rolled_back', 'rolled_back', 'blue', 'green', 'alice', ['alice', 'bob'], 'aborted by bob'],
    ]);
    expect(list[2]).toMatchObject({ cause: 'aborted', strategy: 'steps', endedAt: expect.any(String) });
    expect(typeof list[2]?.durationMs).toBe('number');
    expect(list[0]?.endedAt).toBeNull();

    const printed = await cli(['rollout', 'history', 'shop', '--admin', `http://127.0.0.1:${second.admin}`, '--token', BOB]);
    expect(printed.code).toBe(0);
    const lines = printed.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^STARTED \(UTC\) +OUTCOME +SLOTS +STRATEGY +TOOK +STARTED BY +ALSO ACTED$/);
    // Table rows as cells (columns are two or more spaces apart), the start time and duration aside; reasons as printed.
    const rows = lines.slice(1).map((l) => (l.startsWith('  ') ? l : l.split(/ {2,}/).filter((_, i) => i !== 0 && i !== 4).join(' | ')));
    expect(rows).toEqual([
      'PAUSED | green -> blue | steps | alice | -',
      `  ${third.body.id}: waiting at 50% for promote or resume`,
      'PROMOTED | blue -> green | steps | bob | alice',
      `  ${second1.body.id}: promoted by alice`,
      'ROLLED BACK | blue -> green | steps | alice | bob',
      `  ${first1.body.id}: aborted by bob`,
    ]);
  });

  it('survives kill -9 mid-rollout: the restarted process serves the same split and continues the same rollout', async () => {
    const { blue, green } = await backends();
    const dir = mkdtempSync(join(tmpdir(), 'sp-kill-'));
    const file = configFile(dir, serviceYaml(blue.url, green.url, '{ strategy: linear, linear: { step: 25, interval: 1h } }', join(dir, 'state.json')));
    const first = await startProxyProcess(file);
    const started = await api(first.admin, 'POST', '/api/v1/services/shop/rollout', {});
    expect(await servedBy(first.proxy, 8)).toEqual({ blue: 6, green: 2 });
    first.cli.child.kill('SIGKILL');
    await first.cli.exited;

    const second = await startProxyProcess(file);
    const restored = await api(second.admin, 'GET', '/api/v1/services/shop/rollout');
    expect(restored.body).toMatchObject({ id: started.body.id, state: 'progressing', canaryWeight: 25, step: 1 });
    expect(await servedBy(second.proxy, 8)).toEqual({ blue: 6, green: 2 });
    expect(second.cli.logs.find((l) => l.msg === 'restored state')).toMatchObject({ service: 'shop', canaryWeight: 25, state: 'progressing' });
  });

  it('refuses to start on a corrupt state file, and --reset-state moves it aside', async () => {
    const { blue, green } = await backends();
    const dir = mkdtempSync(join(tmpdir(), 'sp-corrupt-'));
    const statePath = join(dir, 'state.json');
    writeFileSync(statePath, 'garbage');
    const file = configFile(dir, serviceYaml(blue.url, green.url, '{ strategy: canary }', statePath));
    const refused = await cli(['run', '-c', file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/the state file .*state\.json is corrupt: not valid JSON/);
    const reset = startCli(['run', '-c', file, '--reset-state']);
    cleanup.push(async () => {
      if (reset.child.exitCode === null) {
        reset.child.kill('SIGKILL');
        await reset.exited;
      }
    });
    const ports = await listeningPorts(reset);
    const warning = await reset.waitForLog((l) => typeof l.movedTo === 'string');
    expect(warning).toMatchObject({ level: 'warn', msg: 'state reset on request: every service starts on its configured live slot at 0%' });
    expect(readFileSync(warning.movedTo as string, 'utf8')).toBe('garbage');
    expect(await servedBy(ports.proxy, 3)).toEqual({ blue: 3 });
  });
});

describe('the state-file lock', () => {
  /** Waits until the process has died (a zombie, or gone): the kernel has closed its files by then. */
  async function dead(pid: number): Promise<string | null> {
    await until(() => [null, 'Z'].includes(processState(pid)), `process ${pid} to die`);
    return processState(pid);
  }

  it('kill -9 and restart at once, 20 times: the dead holder is a zombie nobody reaps, and every restart resumes at its weight', { timeout: 180_000 }, async () => {
    const { blue, green } = await backends();
    const dir = mkdtempSync(join(tmpdir(), 'sp-lock-'));
    // 21 manual steps: each round releases one, so every restart must restore a different weight.
    const steps = Array.from({ length: 21 }, (_, i) => `{ weight: ${4 * (i + 1)}, pause: manual }`).join(', ');
    const file = configFile(dir, serviceYaml(blue.url, green.url, `{ strategy: steps, steps: [ ${steps}, { weight: 100 } ] }`, join(dir, 'state.json')));
    let id: unknown;
    for (let round = 0; round <= 20; round++) {
      const { cli: parent, pid } = await startCliUnreaped(['run', '-c', file]);
      cleanup.push(async () => {
        parent.child.kill('SIGKILL');
        await parent.exited;
      });
      const { admin } = await listeningPorts(parent);
      if (round === 0) {
        const started = await api(admin, 'POST', '/api/v1/services/shop/rollout', {});
        expect(started.body).toMatchObject({ state: 'paused', canaryWeight: 4 });
        id = started.body.id;
      } else {
        expect((await api(admin, 'GET', '/api/v1/services/shop/rollout')).body).toMatchObject({ id, state: 'paused', canaryWeight: 4 * round, step: round });
        expect((await api(admin, 'GET', '/api/v1/services/shop')).body).toMatchObject({ live: 'blue', weights: { blue: 100 - 4 * round, green: 4 * round } });
        expect((await api(admin, 'POST', '/api/v1/services/shop/rollout/resume')).body).toMatchObject({ state: 'paused', canaryWeight: 4 * (round + 1) });
      }
      process.kill(pid, 'SIGKILL');
      // Its parent never reaps it: the pid stays taken, which a pid-based lock took for a live holder.
      expect(await dead(pid)).toBe('Z');
      expect(() => process.kill(pid, 0)).not.toThrow();
    }
  });

  it('refuses a second live instance on the same state file, naming the holder', async () => {
    const { blue, green } = await backends();
    const dir = mkdtempSync(join(tmpdir(), 'sp-lock2-'));
    const statePath = join(dir, 'state.json');
    const file = configFile(dir, serviceYaml(blue.url, green.url, '{ strategy: canary }', statePath));
    const first = await startProxyProcess(file);
    const second = await cli(['run', '-c', file]);
    expect(second.code).toBe(1);
    expect(second.stderr).toBe(`shiftproxy: another shiftproxy (pid ${first.cli.child.pid}) is using the state file ${statePath} (it holds the lock on ${statePath}.lock)\n`);
    // The first one is untouched.
    expect((await api(first.admin, 'POST', '/api/v1/services/shop/rollout', {})).status).toBe(202);
  });

  it('is not blocked by a stale lock file naming a pid that now belongs to another live process', async () => {
    const { blue, green } = await backends();
    const dir = mkdtempSync(join(tmpdir(), 'sp-lock3-'));
    const statePath = join(dir, 'state.json');
    // What a pid-based lock left behind: the pid is alive (it is this test runner), but it holds nothing.
    writeFileSync(`${statePath}.lock`, `${process.pid}\n`);
    const { admin } = await startProxyProcess(configFile(dir, serviceYaml(blue.url, green.url, '{ strategy: canary }', statePath)));
    expect((await api(admin, 'POST', '/api/v1/services/shop/rollout', {})).status).toBe(202);
  });
});

describe('a full disk while saving state', () => {
  const mountPoint = mkdtempSync(join(tmpdir(), 'sp-tmpfs-'));
  let mounted = false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mountPoint], { stdio: 'ignore' });
    mounted = true;
  } catch {
    mounted = false;
  }

  it.runIf(mounted)('neither applies nor loses anything, and carries on once space is back (real 64 KiB tmpfs)', async () => {
    cleanup.push(() => {
      execFileSync('umount', [mountPoint]);
      rmSync(mountPoint, { recursive: true, force: true });
    });
    const { blue, green } = await backends();
    const dir = mkdtempSync(join(tmpdir(), 'sp-full-'));
    mkdirSync(join(mountPoint, 'state'));
    const statePath = join(mountPoint, 'state', 'state.json');
    const { admin, proxy } = await startProxyProcess(
      configFile(dir, serviceYaml(blue.url, green.url, '{ strategy: linear, linear: { step: 50, interval: 1h } }', statePath)),
    );
    expect((await api(admin, 'POST', '/api/v1/services/shop/rollout', {})).status).toBe(202);
    // Fill what is left of the disk.
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${join(mountPoint, 'filler')}`, 'bs=1k', 'count=64'], { stdio: 'ignore' });
    } catch {
      // dd stops at ENOSPC, which is the point.
    }
    const refused = await api(admin, 'POST', '/api/v1/services/shop/rollout/promote');
    expect(refused.status).toBe(503);
    expect(String(refused.body.error)).toMatch(/could not be saved, so nothing was changed: .*ENOSPC/);
    expect(await servedBy(proxy, 4)).toEqual({ blue: 2, green: 2 });
    const view = await api(admin, 'GET', '/api/v1/services/shop/rollout');
    expect(view.body).toMatchObject({ state: 'progressing', canaryWeight: 50 });
    expect(String(view.body.notDurable)).toMatch(/ENOSPC/);
    rmSync(join(mountPoint, 'filler'));
    expect((await api(admin, 'POST', '/api/v1/services/shop/rollout/promote')).body).toMatchObject({ state: 'promoted' });
    expect(await servedBy(proxy, 3)).toEqual({ green: 3 });
  });
});

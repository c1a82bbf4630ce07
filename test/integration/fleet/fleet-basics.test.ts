import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, request } from 'undici';
import { FakeBackend } from '../../../src/simulate/fake-backend.js';
import { listeningPorts, runCli, startCli } from '../../helpers/cli-process.js';
import { afterEach, describe, expect, it } from 'vitest';
import { agreedLeader, api, fleetStarters, fleetView, rolloutOf, weightsOf, type FleetInstance, type RolloutBody } from '../../helpers/fleet-harness.js';
import { etcdMissing } from '../../helpers/real-etcd.js';
import { until } from '../../helpers/wait-for.js';

const missing = etcdMissing();
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

const { etcd, fleet } = fleetStarters(cleanup);

/** Sends requests through `server` only until the rollout is rolled back, then returns the record as `judge` has it. */
async function servedUntilRolledBack(server: FleetInstance, judge: FleetInstance, what: string): Promise<RolloutBody & { reason: string }> {
  await until(async () => {
    for (let n = 0; n < 10; n++) await request(`http://127.0.0.1:${server.proxy}/`).then((r) => r.body.dump());
    return (await rolloutOf(server))?.state === 'rolled_back';
  }, what);
  return (await rolloutOf(judge)) as RolloutBody & { reason: string };
}

describe.skipIf(missing)('a fleet on etcd', () => {
  it('elects one leader, relays a follower\'s command, and every instance routes the leader\'s weights', async () => {
    const cluster = await etcd();
    const f = await fleet({ etcd: cluster, names: ['a', 'b', 'c'], rollout: '{ strategy: steps, steps: [ { weight: 20, pause: manual }, { weight: 100 } ] }' });
    const leader = await agreedLeader(f.instances);
    const follower = f.instances.find((i) => i !== leader);
    if (!follower) throw new Error('no follower');

    const started = await api(follower.admin, 'POST', '/api/v1/services/shop/rollout', {});
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ state: 'paused', canaryWeight: 20 });
    for (const i of f.instances) {
      await until(async () => (await weightsOf(i)).weights.green === 20, `${i.name} routing 20% to green`);
    }
    const view = await fleetView(follower);
    expect(view.leader).toBe(leader.name);
    expect(view.degraded).toBe(false);
    expect(view.instances.map((i) => i.name)).toEqual(['a', 'b', 'c']);
    expect(new Set(view.instances.map((i) => i.configHash)).size).toBe(1);

    const promoted = await api(follower.admin, 'POST', '/api/v1/services/shop/rollout/promote', { full: true });
    expect(promoted.status).toBe(200);
    expect(promoted.body).toMatchObject({ state: 'promoted' });
    for (const i of f.instances) {
      await until(async () => (await rolloutOf(i))?.state === 'promoted', `${i.name} seeing the promotion`);
      expect(await weightsOf(i)).toMatchObject({ live: 'green', weights: { blue: 0, green: 100 } });
    }
  });

  it('judges the fleet\'s combined traffic: a bad canary seen only in a follower\'s traffic rolls back by its alarm', async () => {
    const cluster = await etcd();
    const f = await fleet({
      etcd: cluster,
      names: ['a', 'b', 'c'],
      rollout:
        '{ strategy: canary, canary: { weight: 50, interval: 1h }, analysis: { interval: 1s, failureLimit: 2, inconclusiveLimit: 100, ' +
        'alarms: [ { name: canary-errors, metric: error_rate, role: canary, window: 5s, max: 0.1, minRequests: 5 } ] } }',
    });
    const leader = await agreedLeader(f.instances);
    const follower = f.instances.find((i) => i !== leader);
    if (!follower) throw new Error('no follower');
    f.green.faults.errorRate = 1;
    expect((await api(follower.admin, 'POST', '/api/v1/services/shop/rollout', {})).status).toBe(202);

    // Only the follower serves: the leader, which judges, sees none of this traffic itself.
    const record = await servedUntilRolledBack(follower, leader, 'the rollout rolled back');
    expect(record.state).toBe('rolled_back');
    expect(record.reason).toMatch(/^alarm canary-errors/);
    const metrics = await request(`http://127.0.0.1:${leader.admin}/metrics`).then((r) => r.body.text());
    expect(metrics).not.toMatch(/^shiftproxy_requests_total\{service="shop"/m);
    const checks = record.history.filter((h) => h.event === 'analysis');
    expect(checks.length).toBeGreaterThanOrEqual(2);
  });

  it('judges the fleet\'s mirrored copies: a dark launch whose copies differ only in a follower\'s traffic rolls back by its mirror alarm', async () => {
    const cluster = await etcd();
    const f = await fleet({
      etcd: cluster,
      names: ['a', 'b'],
      rollout:
        '{ strategy: steps, steps: [ { weight: 0, mirror: 100, pause: 1h }, { weight: 100 } ], analysis: { interval: 1s, failureLimit: 2, inconclusiveLimit: 100, ' +
        'alarms: [ { name: same-answers, metric: mirror_mismatch_rate, window: 5s, max: 0.1, minRequests: 5 } ] } }',
      serviceExtra: () => '    mirror: { compare: { status: true, body: true } }',
    });
    const leader = await agreedLeader(f.instances);
    const follower = f.instances.find((i) => i !== leader);
    if (!follower) throw new Error('no follower');
    f.green.faults.mismatchRate = 1;
    expect((await api(follower.admin, 'POST', '/api/v1/services/shop/rollout', {})).status).toBe(202);

    // Only the follower serves and copies: the leader, which judges, compares nothing itself.
    const record = await servedUntilRolledBack(follower, leader, 'the dark launch rolled back');
    expect(record.reason).toMatch(/^alarm same-answers: mirror_mismatch_rate = 1 .*body \$\.answer/);
    expect(f.green.requests).toBe(0);
    expect(f.green.mirrored).toBeGreaterThan(0);
  });

  it('state migrate moves a rollout in progress from the state file to etcd, where a fleet carries it on', async () => {
    const cluster = await etcd();
    const blue = new FakeBackend('blue');
    const green = new FakeBackend('green');
    await Promise.all([blue.start(), green.start()]);
    const dir = mkdtempSync(join(tmpdir(), 'shiftproxy-migrate-'));
    cleanup.push(async () => {
      await Promise.all([blue.stop(), green.stop()]);
      rmSync(dir, { recursive: true, force: true });
    });
    const text = (store: string, name: string) => `
instance: { name: ${name} }
listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
state:
  store: ${store}
  path: ${join(dir, 'state.json')}
  etcd: { endpoints: [ "${cluster.endpoints[0]}" ], prefix: /migrate-test/, leaseTtl: 2s }
services:
  - name: shop
    blue: { targets: [ { url: "${blue.url}" } ] }
    green: { targets: [ { url: "${green.url}" } ] }
    rollout: { strategy: steps, steps: [ { weight: 30, pause: manual }, { weight: 100 } ] }
`;
    const single = join(dir, 'single.yaml');
    writeFileSync(single, text('file', 'single'));
    const cli = startCli(['run', '-c', single]);
    cleanup.push(async () => {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
      await cli.exited;
    });
    const { admin } = await listeningPorts(cli);
    const started = await api(admin, 'POST', '/api/v1/services/shop/rollout', {});
    expect(started.body).toMatchObject({ state: 'paused', canaryWeight: 30 });

    // While that proxy runs, it holds the state file: nothing is moved under it.
    const busy = await runCli(['state', 'migrate', '--from', 'file', '--to', 'etcd', '-c', single]);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain(`another shiftproxy (pid ${cli.child.pid}) is using the state file`);

    cli.child.kill('SIGTERM');
    expect((await cli.exited).code).toBe(0);
    const moved = await runCli(['state', 'migrate', '--from', 'file', '--to', 'etcd', '-c', single]);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stdout).toMatch(new RegExp(`^moved the rollout state of shop \\(blue live, rollout ${(started.body as unknown as RolloutBody).id} paused at 30%\\) from .*state\\.json to etcd at ${cluster.endpoints[0]} \\(prefix /migrate-test/\\) \\(revision \\d+\\)\n`));
    const again = await runCli(['state', 'migrate', '--from', 'file', '--to', 'etcd', '-c', single]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already holds rollout state (shop); pass --force to replace it');

    const instances = ['x', 'y'].map((name) => {
      const file = join(dir, `${name}.yaml`);
      writeFileSync(file, text('etcd', name));
      const proc = startCli(['run', '-c', file]);
      cleanup.push(async () => {
        if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
        await proc.exited;
      });
      return proc;
    });
    const ports = await Promise.all(instances.map((i) => listeningPorts(i)));
    for (const { admin: port, proxy } of ports) {
      const carried = await api(port, 'GET', '/api/v1/services/shop/rollout');
      expect(carried.body).toMatchObject({ id: (started.body as unknown as RolloutBody).id, state: 'paused', canaryWeight: 30 });
      expect((carried.body as unknown as RolloutBody).history).toEqual((started.body as unknown as RolloutBody).history);
      // One connection: it stays on one process (with workers too), whose split is exact.
      const client = new Client(`http://127.0.0.1:${proxy}`);
      const before = green.requests;
      for (let n = 0; n < 10; n++) await client.request({ method: 'GET', path: '/' }).then((r) => r.body.dump());
      await client.close();
      expect(green.requests - before).toBe(3);
    }
    const resumed = await api((ports[1] as { admin: number }).admin, 'POST', '/api/v1/services/shop/rollout/resume');
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ state: 'promoted' });
  });

  it('a leader stopped with SIGTERM resigns: another instance leads without waiting out the lease', async () => {
    const cluster = await etcd();
    // A lease far longer than any wait of the test: only a resignation can hand leadership over in time.
    const f = await fleet({ etcd: cluster, names: ['a', 'b'], leaseTtl: '120s', rollout: '{ strategy: canary }' });
    const leader = await agreedLeader(f.instances);
    const other = f.instances.find((i) => i !== leader);
    if (!other) throw new Error('no follower');
    const stoppedAt = performance.now();
    leader.cli.child.kill('SIGTERM');
    expect((await leader.cli.exited).code).toBe(0);
    await agreedLeader([other]);
    console.info(`fleet handover on SIGTERM: ${Math.round(performance.now() - stoppedAt)} ms (leaseTtl 120 s)`);
  });
});

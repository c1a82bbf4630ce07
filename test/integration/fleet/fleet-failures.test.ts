import { readFileSync, writeFileSync } from 'node:fs';
import { Client, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { agreedLeader, api, fleetStarters, fleetView, rolloutOf, weightsOf, type Fleet, type FleetInstance, type RolloutBody } from '../../helpers/fleet-harness.js';
import { etcdMissing } from '../../helpers/real-etcd.js';
import { allThreadsStopped } from '../../helpers/real-prometheus.js';
import { until, WAIT_MS } from '../../helpers/wait-for.js';

const missing = etcdMissing();
const LEASE_TTL_MS = 2000;
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

const { etcd, fleet } = fleetStarters(cleanup);

function followerOf(f: Fleet, leader: FleetInstance): FleetInstance {
  const follower = f.instances.find((i) => i !== leader && i.alive());
  if (!follower) throw new Error('no follower');
  return follower;
}

/** The canary weights of the history's `step` entries, in order. */
function stepWeights(record: RolloutBody): number[] {
  return record.history.filter((h) => h.event === 'step').map((h) => h.canaryWeight);
}

async function metric(i: FleetInstance, name: string): Promise<number> {
  const text = await request(`http://127.0.0.1:${i.admin}/metrics`).then((r) => r.body.text());
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return Number(match?.[1]);
}

/** `count` requests through one instance's proxy; how many each backend answered. */
async function traffic(i: FleetInstance, f: Fleet, count: number): Promise<{ blue: number; green: number }> {
  // One connection: it stays on one process (with workers too), whose split is exact.
  const client = new Client(`http://127.0.0.1:${i.proxy}`);
  const before = { blue: f.blue.requests, green: f.green.requests };
  try {
    for (let n = 0; n < count; n++) {
      const res = await client.request({ method: 'GET', path: '/' });
      await res.body.dump();
      expect(res.statusCode).toBe(200);
    }
  } finally {
    await client.close();
  }
  return { blue: f.blue.requests - before.blue, green: f.green.requests - before.green };
}

describe.skipIf(missing)('a fleet on etcd, when things fail (real etcd, real processes)', () => {
  it('a leader killed mid-rollout: another leads once the lease lapses and the rollout goes on, every step once and in order (the failover time is printed)', async () => {
    const cluster = await etcd();
    const f = await fleet({ etcd: cluster, names: ['a', 'b', 'c'], rollout: '{ strategy: linear, linear: { step: 25, interval: 2s } }' });
    const leader = await agreedLeader(f.instances);
    const follower = followerOf(f, leader);
    expect((await api(follower.admin, 'POST', '/api/v1/services/shop/rollout', {})).status).toBe(202);
    await until(async () => (await rolloutOf(follower))?.canaryWeight === 50, 'the second step applied');

    const killedAt = performance.now();
    await leader.kill();
    const survivors = f.instances.filter((i) => i !== leader);
    const next = await agreedLeader(survivors);
    const failoverMs = performance.now() - killedAt;
    console.info(`fleet failover: a new leader acted ${Math.round(failoverMs)} ms after the leader was killed (leaseTtl ${LEASE_TTL_MS} ms)`);
    expect(next).not.toBe(leader);

    await until(async () => (await rolloutOf(next))?.state === 'promoted', 'the rollout promoted by the new leader', WAIT_MS * 2);
    for (const i of survivors) {
      await until(async () => (await rolloutOf(i))?.state === 'promoted', `${i.name} seeing the promotion`);
      const record = (await rolloutOf(i)) as RolloutBody;
      expect(stepWeights(record)).toEqual([25, 50, 75, 100]);
      expect(record.history.filter((h) => h.event === 'promoted')).toHaveLength(1);
      expect(await weightsOf(i)).toMatchObject({ live: 'green', weights: { blue: 0, green: 100 } });
    }
  });

  it('a deposed leader wakes up (SIGSTOP past its lease, then SIGCONT): it follows, and the new leader\'s steps stand', async () => {
    const cluster = await etcd();
    const f = await fleet({ etcd: cluster, names: ['a', 'b', 'c'], rollout: '{ strategy: steps, steps: [ { weight: 20, pause: manual }, { weight: 50, pause: manual }, { weight: 100 } ] }' });
    const leader = await agreedLeader(f.instances);
    expect((await api(leader.admin, 'POST', '/api/v1/services/shop/rollout', {})).status).toBe(202);

    process.kill(leader.cli.child.pid as number, 'SIGSTOP');
    await allThreadsStopped(leader.cli.child.pid as number);
    cleanup.push(async () => {
      if (leader.alive()) process.kill(leader.cli.child.pid as number, 'SIGCONT');
    });
    const others = f.instances.filter((i) => i !== leader);
    const next = await agreedLeader(others);
    const resumed = await api(next.admin, 'POST', '/api/v1/services/shop/rollout/resume');
    expect(resumed.status, JSON.stringify(resumed.body)).toBe(200);
    expect(resumed.body).toMatchObject({ canaryWeight: 50 });

    process.kill(leader.cli.child.pid as number, 'SIGCONT');
    // Awake, it knows from the monotonic clock that its lease may be gone, and stands down before any write.
    await leader.cli.waitForLog((l) => l.msg === 'not leading the fleet any more; following');
    // It follows: it names the new leader, leads nothing, and routes the new leader's weight.
    await until(async () => (await fleetView(leader)).leader === next.name, 'the woken instance naming the new leader');
    expect(await metric(leader, 'shiftproxy_fleet_leader')).toBe(0);
    expect(leader.cli.logs.filter((l) => l.msg === 'rollout transition' && l.from !== 'leader')).toEqual([
      expect.objectContaining({ state: 'paused', canaryWeight: 20 }),
    ]);
    await until(async () => (await weightsOf(leader)).weights.green === 50, 'the woken instance routing the new leader\'s 50%');
    // A command given to it now reaches the new leader.
    const promoted = await api(leader.admin, 'POST', '/api/v1/services/shop/rollout/promote', { full: true });
    expect(promoted.status, JSON.stringify(promoted.body)).toBe(200);
    expect(promoted.body).toMatchObject({ state: 'promoted' });
    for (const i of f.instances) {
      await until(async () => (await rolloutOf(i))?.state === 'promoted', `${i.name} seeing the promotion`);
      expect(stepWeights((await rolloutOf(i)) as RolloutBody)).toEqual([20, 50]);
    }
    // It never wrote after it woke: the rollout's history holds only what the leaders decided, once each.
    const record = (await rolloutOf(next)) as RolloutBody;
    expect(record.history.map((h) => h.event)).toEqual(['started', 'hook-passed', 'step', 'paused', 'resumed', 'step', 'paused', 'promote', 'promoted']);
  });

  it('etcd stopped, then started again on the same data dir: traffic keeps the last weight, commands get 503, no step advances, and it recovers without a restart', async () => {
    const cluster = await etcd();
    const f = await fleet({ etcd: cluster, names: ['a', 'b'], rollout: '{ strategy: steps, steps: [ { weight: 20, pause: 3s }, { weight: 60, pause: manual }, { weight: 100 } ] }' });
    const leader = await agreedLeader(f.instances);
    const follower = followerOf(f, leader);
    const started = await api(follower.admin, 'POST', '/api/v1/services/shop/rollout', {});
    expect(started.status).toBe(202);
    const dueAt = Date.parse((started.body as unknown as RolloutBody).history.at(-1)?.at ?? '') + 3000;

    const member = cluster.members[0];
    if (!member) throw new Error('no etcd member');
    const killedAt = performance.now();
    await member.kill();
    for (const i of f.instances) {
      await until(async () => (await fleetView(i)).degraded, `${i.name} saying it is degraded`);
      expect(await metric(i, 'shiftproxy_fleet_degraded')).toBe(1);
    }
    const degradedMs = performance.now() - killedAt;
    for (const i of f.instances) await i.cli.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('fleet degraded'));
    for (const i of f.instances) {
      expect(await traffic(i, f, 100)).toEqual({ blue: 80, green: 20 });
      const refused = await api(i.admin, 'POST', '/api/v1/services/shop/rollout/pause');
      expect(refused.status).toBe(503);
    }
    // Past the moment the 20% step was due to end: nobody advanced it.
    await until(() => Date.now() > dueAt + 1000, 'the step being overdue');
    for (const i of f.instances) {
      expect(await weightsOf(i)).toMatchObject({ weights: { blue: 80, green: 20 } });
      expect(await traffic(i, f, 100)).toEqual({ blue: 80, green: 20 });
    }

    const restartedAt = Date.now();
    const restarted = performance.now();
    await member.start();
    for (const i of f.instances) await until(async () => !(await fleetView(i)).degraded, `${i.name} recovered`, WAIT_MS * 2);
    const recoveredMs = performance.now() - restarted;
    for (const i of f.instances) await i.cli.waitForLog((l) => l.msg === 'fleet no longer degraded: etcd answers again');
    // The overdue step advances once a leader acts again, after etcd came back, and everyone follows.
    for (const i of f.instances) await until(async () => (await weightsOf(i)).weights.green === 60, `${i.name} routing 60%`, WAIT_MS * 2);
    const advancedMs = performance.now() - restarted;
    console.info(
      `fleet without etcd: every instance degraded ${Math.round(degradedMs)} ms after etcd was killed; after its restart (answering) every instance recovered in ${Math.round(recoveredMs)} ms and the overdue step was applied everywhere in ${Math.round(advancedMs)} ms`,
    );
    const record = (await rolloutOf(f.instances[0] as FleetInstance)) as RolloutBody;
    const second = record.history.filter((h) => h.event === 'step')[1];
    expect(Date.parse(second?.at ?? '')).toBeGreaterThanOrEqual(restartedAt);
    expect(stepWeights(record)).toEqual([20, 60]);
    const promoted = await api(follower.admin, 'POST', '/api/v1/services/shop/rollout/promote', { full: true });
    expect(promoted.status).toBe(200);
    for (const i of f.instances) expect(i.alive()).toBe(true);
  });

  it('a three-member etcd losing one member: nothing visible happens', async () => {
    const cluster = await etcd(3);
    // A lease comfortably longer than an etcd leader election (the raft leader is the member lost):
    // with 2 s, the 0.5 s margin a leader keeps is about what an election takes here, and the
    // other members answer nothing until the election ends. 10 s is the default.
    const f = await fleet({ etcd: cluster, names: ['a', 'b', 'c'], leaseTtl: '10s', rollout: '{ strategy: steps, steps: [ { weight: 20, pause: manual }, { weight: 50, pause: manual }, { weight: 100 } ], bakeTime: 1h }' });
    const leader = await agreedLeader(f.instances);
    expect((await api(followerOf(f, leader).admin, 'POST', '/api/v1/services/shop/rollout', {})).status).toBe(202);

    // The raft leader: its loss costs the cluster an election, the hardest case of the three.
    await (await cluster.raftLeader()).kill();
    const [a, b, c] = f.instances as [FleetInstance, FleetInstance, FleetInstance];
    expect((await api(a.admin, 'POST', '/api/v1/services/shop/rollout/resume')).status).toBe(200);
    expect((await api(b.admin, 'POST', '/api/v1/services/shop/rollout/resume')).body).toMatchObject({ state: 'baking', canaryWeight: 100 });
    for (const i of f.instances) {
      await until(async () => (await weightsOf(i)).weights.green === 100, `${i.name} at 100%`);
      expect(await traffic(i, f, 20)).toEqual({ blue: 0, green: 20 });
    }
    expect((await api(c.admin, 'POST', '/api/v1/services/shop/rollout/promote', { full: true })).status).toBe(200);
    for (const i of f.instances) {
      const view = await fleetView(i);
      expect(view.degraded, `${i.name}: ${JSON.stringify(view)}`).toBe(false);
      expect(view.instances.map((x) => x.name)).toEqual(['a', 'b', 'c']);
      // Never degraded at any moment: no instance logged losing etcd.
      expect(i.cli.logs.filter((l) => l.msg === 'etcd unreachable; routing stays on the last applied state')).toEqual([]);
      expect(i.cli.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('fleet degraded'))).toEqual([]);
      expect(i.cli.logs.filter((l) => l.msg === 'not leading the fleet any more; following')).toEqual([]);
    }
  });

  it('instances with different alarm configs: a start is refused with 409 naming them', async () => {
    const cluster = await etcd();
    const f = await fleet({
      etcd: cluster,
      names: ['a', 'b'],
      rollout: '{ strategy: canary, canary: { weight: 10, interval: 1m }, analysis: { interval: 10s, alarms: [ { name: errors, metric: error_rate, max: ALARM_MAX } ] } }',
      transform: (name, text) => text.replace('ALARM_MAX', name === 'a' ? '0.05' : '0.5'),
    });
    await agreedLeader(f.instances);
    const views = await Promise.all(f.instances.map((i) => fleetView(i)));
    const hashes = Object.fromEntries((views[0]?.instances ?? []).map((i) => [i.name, i.configHash]));
    expect(hashes.a).not.toBe(hashes.b);
    for (const i of f.instances) {
      const refused = await api(i.admin, 'POST', '/api/v1/services/shop/rollout', {});
      expect(refused.status).toBe(409);
      expect(refused.body.error).toMatch(/^cannot start: the instances run different configs for shop \((a|b) has [0-9a-f]{12}, (a|b) has [0-9a-f]{12}\); load the same config everywhere first$/);
      expect(refused.body.error).toContain('a has');
      expect(refused.body.error).toContain('b has');
      expect(await rolloutOf(i)).toBeNull();
    }
    // b reloads the config a runs (SIGHUP): the hashes agree, and the start goes through.
    const b = f.byName('b');
    writeFileSync(b.file, readFileSync(f.byName('a').file, 'utf8').replace('instance: { name: a }', 'instance: { name: b }'));
    b.cli.child.kill('SIGHUP');
    await b.cli.waitForLog((l) => l.msg === 'config reloaded');
    await until(async () => {
      const hashes = new Set((await fleetView(f.byName('a'))).instances.map((i) => i.configHash));
      return hashes.size === 1;
    }, 'every instance reporting the same config hash');
    expect((await api(b.admin, 'POST', '/api/v1/services/shop/rollout', {})).status).toBe(202);
  });
});

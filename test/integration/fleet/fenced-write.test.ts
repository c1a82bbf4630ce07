import type { Etcd3 } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';
import { NotLeaderError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { connectEtcd } from '../../../src/state/etcd-client.js';
import { EtcdKeys } from '../../../src/state/etcd-keys.js';
import { EtcdSession } from '../../../src/state/etcd-session.js';
import { EtcdStateStore, FencedWriteError, type Fence } from '../../../src/state/etcd-state-store.js';
import { LeaderElection } from '../../../src/state/leader-election.js';
import type { PersistedState } from '../../../src/state/state-store.js';
import { etcdMissing, startEtcd, type EtcdCluster } from '../../helpers/real-etcd.js';
import { until } from '../../helpers/wait-for.js';

const missing = etcdMissing();
const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

const keys = new EtcdKeys('/fence-test/');

function state(canaryWeight: number): PersistedState {
  return { version: 1, services: { shop: { live: 'blue', canaryWeight, rollout: null } } };
}

function member(cluster: EtcdCluster, name: string) {
  const client: Etcd3 = connectEtcd({ endpoints: cluster.endpoints, prefix: keys.prefix, leaseTtlMs: 2000 });
  const session = new EtcdSession({ client, ttlMs: 2000, logger: silentLogger() });
  const election = new LeaderElection({ client, keys, session, name, logger: silentLogger() });
  const store = new EtcdStateStore({ client, keys, instance: name, where: 'test etcd' });
  store.setFence(() => election.fence());
  const watcher = client.watch().key(keys.leader).create();
  void watcher.then((w) => {
    w.on('put', (kv) => election.observe(kv, Number(kv.mod_revision)));
    w.on('delete', (kv) => election.observe(null, Number(kv.mod_revision)));
  });
  cleanup.push(async () => {
    election.stop();
    await (await watcher).cancel();
    await session.stop();
    client.close();
  });
  return { client, session, election, store };
}

/** Grants the member's lease and campaigns until it leads. */
async function lead(m: ReturnType<typeof member>, name: string): Promise<void> {
  await m.session.start();
  m.election.start();
  await until(() => m.election.isLeader(), `${name} elected`);
}

describe.skipIf(missing)('fenced writes (real etcd)', () => {
  it('a leader whose lease is gone cannot write, even holding on to its old fence; the new leader can', async () => {
    const cluster = await startEtcd();
    cleanup.push(() => cluster.stop());
    const a = member(cluster, 'a');
    await lead(a, 'a');
    await a.store.load();
    await a.store.save(state(10), { service: 'shop' });
    const stale = a.election.fence() as Fence;

    const b = member(cluster, 'b');
    await b.session.start();
    b.election.start();
    // a's lease ends (as if it had stopped renewing): its election key goes with it, and b is elected.
    await a.client.leaseClient.leaseRevoke({ ID: a.session.leaseId as string });
    await until(() => b.election.isLeader(), 'b elected');
    await b.store.load();
    await b.store.save(state(20), { service: 'shop' });

    // Through its election, a knows it no longer leads and does not even try...
    await until(() => !a.election.isLeader(), 'a knowing it lost');
    await expect(a.store.save(state(99), { service: 'shop' })).rejects.toBeInstanceOf(NotLeaderError);
    // ...and were it to write with the fence it had, etcd refuses it.
    a.store.setFence(() => stale);
    await a.store.load();
    const refused = a.store.save(state(99), { service: 'shop' });
    await expect(refused).rejects.toBeInstanceOf(FencedWriteError);
    await expect(refused).rejects.toThrow(/^etcd refused the write: this instance no longer holds the leadership it compared on \(election key revision \d+\)$/);
    expect(a.store.fencedWrites).toBe(1);
    const stored = await b.client.get(b.store.serviceKey('shop')).string();
    expect(JSON.parse(stored as string)).toMatchObject({ state: { canaryWeight: 20 }, writtenBy: 'b' });
  });

  it('a read older than the leader\'s own key (a resync racing its campaign) does not depose it; a newer deletion does', async () => {
    const cluster = await startEtcd();
    cleanup.push(() => cluster.stop());
    const a = member(cluster, 'a');
    // What a resync sent before the campaign's write would read: no election key, at an older revision.
    const before = await a.client.getAll().prefix(keys.prefix).exec();
    expect(before.kvs).toEqual([]);
    await lead(a, 'a');
    const fence = a.election.fence() as Fence;
    expect(Number(before.header.revision)).toBeLessThan(fence.createRevision);

    a.election.observe(null, Number(before.header.revision));
    expect(a.election.isLeader()).toBe(true);
    expect(a.election.fence()).toEqual(fence);
    await a.store.load();
    await a.store.save(state(10), { service: 'shop' });

    // A deletion etcd made after the key was created is news: a stops leading at once.
    const deleted = await a.client.delete().key(keys.leader).exec();
    a.election.observe(null, Number(deleted.header.revision));
    expect(a.election.isLeader()).toBe(false);
  });

  it('refuses a write over a change it has not applied, and keeps one per service', async () => {
    const cluster = await startEtcd();
    cleanup.push(() => cluster.stop());
    const a = member(cluster, 'a');
    await lead(a, 'a');
    await a.store.load();
    await a.store.save({ version: 1, services: { shop: { live: 'blue', canaryWeight: 10, rollout: null }, cart: { live: 'green', canaryWeight: 0, rollout: null } } });
    // Someone else changes shop behind a's back (an operator with etcdctl, say).
    await a.client.put(a.store.serviceKey('shop')).value(JSON.stringify({ state: { live: 'blue', canaryWeight: 30, rollout: null }, writtenBy: 'x', writeId: 'x' }));
    await expect(a.store.save(state(50), { service: 'shop' })).rejects.toThrow(/changed since this instance last read it/);
    // cart is untouched by that and can still be written.
    await a.store.save({ version: 1, services: { cart: { live: 'green', canaryWeight: 5, rollout: null } } }, { service: 'cart' });
    const loaded = await a.store.load();
    expect(loaded?.services.shop?.canaryWeight).toBe(30);
    expect(loaded?.services.cart?.canaryWeight).toBe(5);
  });
});

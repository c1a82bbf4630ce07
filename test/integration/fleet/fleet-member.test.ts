import { TrafficCounters } from '../../../src/core/traffic-counters.js';
import { silentLogger } from '../../../src/core/logger.js';
import { EtcdFleet } from '../../../src/fleet/etcd-fleet.js';
import { FleetCounters, publishCounts } from '../../../src/fleet/fleet-counters.js';
import { connectEtcd } from '../../../src/state/etcd-client.js';
import { EtcdKeys } from '../../../src/state/etcd-keys.js';
import { EtcdSession } from '../../../src/state/etcd-session.js';
import { EtcdStateStore } from '../../../src/state/etcd-state-store.js';
import { LeaderElection } from '../../../src/state/leader-election.js';
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../../helpers/proxy-harness.js';
import { startController } from '../../helpers/rollout-harness.js';
import { etcdMissing, startEtcd } from '../../helpers/real-etcd.js';
import { until } from '../../helpers/wait-for.js';

const missing = etcdMissing();
const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

describe.skipIf(missing)('one fleet member in-process (real etcd, the real controller)', () => {
  it('the leader compacts etcd\'s history to what it had applied a compaction period ago, and keeps working', async () => {
    const cluster = await startEtcd();
    cleanup.push(() => cluster.stop());
    const etcd = { endpoints: cluster.endpoints, prefix: '/member-test/', leaseTtlMs: 2000 };
    const client = connectEtcd(etcd);
    const keys = new EtcdKeys(etcd.prefix);
    const store = new EtcdStateStore({ client, keys, instance: 'a', where: 'test etcd' });
    let member: EtcdFleet | null = null;
    const config = buildConfig({ services: [{ name: 'shop', blue: ['http://127.0.0.1:9001'], green: ['http://127.0.0.1:9002'], rollout: { strategy: 'steps', steps: [{ weight: 10, pause: 'manual' }, { weight: 100 }] } }] });
    const t = await startController(config, { store, leadership: { isLeader: () => member?.isLeader() ?? false } });
    const session = new EtcdSession({ client, ttlMs: 2000, logger: silentLogger() });
    const election = new LeaderElection({ client, keys, session, name: 'a', logger: silentLogger() });
    member = new EtcdFleet({
      client,
      keys,
      session,
      election,
      store,
      controller: t.controller,
      counters: new FleetCounters({ self: 'a', startedAt: Date.now() }),
      name: 'a',
      adminUrl: () => 'http://127.0.0.1:1',
      serviceHashes: { shop: 'x' },
      configHash: 'x',
      readCounters: () => Promise.resolve({ incarnation: 'a1', startedAt: Date.now(), counts: publishCounts(['shop'], () => new TrafficCounters()) }),
      publishIntervalMs: 50,
      commandTimeoutMs: 5000,
      compactEveryMs: 300,
      logger: silentLogger(),
    });
    const joined = member;
    cleanup.push(async () => {
      await joined.leave();
      await t.close();
      client.close();
    });
    await joined.join();
    await until(() => joined.isLeader(), 'elected');
    await joined.start('shop', {});
    const firstRevision = store.appliedRevision;
    // History older than the compaction period is gone: reading at the first revision is refused.
    await until(async () => {
      try {
        await client.get(keys.instance('a')).revision(String(firstRevision)).exec();
        return false;
      } catch (err) {
        return /compacted/.test(String(err));
      }
    }, 'the first revision compacted');
    // Still leading and writing after it.
    const promoted = await joined.command('shop', 'promote', { full: true });
    expect(promoted.state).toBe('promoted');
    expect(joined.view()).toMatchObject({ leader: 'a', degraded: false });
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { connectEtcd } from '../../../src/state/etcd-client.js';
import { EtcdSession } from '../../../src/state/etcd-session.js';
import { etcdMissing, startEtcd } from '../../helpers/real-etcd.js';

const missing = etcdMissing();
const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

describe.skipIf(missing)('the fleet lease on a three-member etcd', () => {
  it('renews on another member once one is lost, and stays there: one failed attempt in 20 renewals, not one in three', async () => {
    const cluster = await startEtcd({ size: 3 });
    cleanup.push(() => cluster.stop());
    await cluster.ready();
    // A member that is not raft's leader: its loss costs no election, so only the session's choice of member matters.
    const raftLeader = await cluster.raftLeader();
    const lost = cluster.members.find((m) => m !== raftLeader);
    if (!lost) throw new Error('no follower member');
    const order = [lost, ...cluster.members.filter((m) => m !== lost)];
    const etcd = { endpoints: cluster.endpoints, prefix: '/session-test/', leaseTtlMs: 3000 };
    const client = connectEtcd(etcd);
    const members = order.map((m) => connectEtcd({ ...etcd, endpoints: [m.clientUrl] }));
    const session = new EtcdSession({ client, ttlMs: etcd.leaseTtlMs, members, logger: silentLogger() });
    cleanup.push(async () => {
      await session.stop();
      client.close();
    });
    await session.start();
    await session.renewNow();
    expect(session.failedAttempts).toBe(0);

    await lost.kill();
    for (let i = 0; i < 20; i++) {
      await session.renewNow();
      expect(session.reachable).toBe(true);
      expect(session.remainingMs()).toBeGreaterThan(0);
    }
    // The first renewal after the loss tried the lost member, then moved on for good. Renewing
    // through etcd3's own keepalive, which opens each stream on a member of its choosing, failed
    // 11 attempts in the same 20 renewals.
    expect(session.failedAttempts).toBe(1);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../../src/core/seeded-random.js';
import { agreedLeader, api, rolloutOf, startFleet, type Fleet, type FleetInstance, type RolloutBody } from '../../helpers/fleet-harness.js';
import { etcdMissing, startEtcd, type EtcdCluster } from '../../helpers/real-etcd.js';
import { until } from '../../helpers/wait-for.js';

const missing = etcdMissing();
const RUNS = 20;
const SEED = 20_261_203;
let cluster: EtcdCluster;
let fleet: Fleet;

beforeAll(async () => {
  if (missing) return;
  cluster = await startEtcd();
  fleet = await startFleet({ etcd: cluster, names: ['a', 'b', 'c'], rollout: '{ strategy: linear, linear: { step: 25, interval: 500ms } }' });
}, 60_000);

afterAll(async () => {
  await fleet?.stop();
  await cluster?.stop();
});

/** The rollout as the live instances report it, once they all agree it ended. */
async function ended(instances: readonly FleetInstance[], id: string): Promise<RolloutBody> {
  let last: RolloutBody | null = null;
  await until(
    async () => {
      const records = await Promise.all(instances.map((i) => rolloutOf(i).catch(() => null)));
      const done = records.every((r) => r?.id === id && (r.state === 'promoted' || r.state === 'rolled_back'));
      last = records[0] ?? null;
      return done;
    },
    `rollout ${id} ended on every instance`,
    60_000,
  );
  return last as unknown as RolloutBody;
}

describe.skipIf(missing)('a fleet under random kill -9 (real etcd, three real instances)', () => {
  it(`ends every rollout promoted or rolled back, never stuck, with no weight twice in its history (seed ${SEED}, ${RUNS} runs)`, async () => {
    const random = seededRandom(SEED);
    const outcomes: string[] = [];
    for (let run = 0; run < RUNS; run++) {
      const leader = await agreedLeader(fleet.instances, 30_000);
      const via = fleet.instances[Math.floor(random() * 3)] as FleetInstance;
      // Half the kills hit the leader (the failover), the rest any instance.
      const victim = random() < 0.5 ? leader : (fleet.instances[Math.floor(random() * 3)] as FleetInstance);
      // Where in the ~2 s schedule the kill lands: before the first step, between steps, around the promotion.
      const killAfterMs = Math.floor(random() * 2500);
      const started = await api(via.admin, 'POST', '/api/v1/services/shop/rollout', {});
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      const id = (started.body as unknown as RolloutBody).id;
      await new Promise((resolve) => setTimeout(resolve, killAfterMs));
      await victim.kill();
      await victim.restart();
      const record = await ended(fleet.instances, id);
      const weights = record.history.filter((h) => h.event === 'step').map((h) => h.canaryWeight);
      expect(new Set(weights).size, `run ${run}: ${weights.join(', ')}`).toBe(weights.length);
      expect(weights, `run ${run}`).toEqual([...weights].sort((x, y) => x - y));
      expect(record.history.filter((h) => h.event === 'promoted' || h.event === 'rolled_back'), `run ${run}`).toHaveLength(1);
      outcomes.push(`${run}:${victim === leader ? 'leader ' : ''}${victim.name}@${killAfterMs}ms:${record.state}:${weights.join('/')}`);
    }
    console.info(`fleet chaos outcomes: ${outcomes.join(' ')}`);
  }, 20 * 60_000);
});

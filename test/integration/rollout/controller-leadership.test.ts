import { afterEach, describe, expect, it } from 'vitest';
import { NotLeaderError } from '../../../src/core/errors.js';
import type { RolloutRecord } from '../../../src/rollout/rollout-record.js';
import { buildConfig } from '../../helpers/proxy-harness.js';
import { startController, type ControllerUnderTest } from '../../helpers/rollout-harness.js';

const S = 1000;
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

function config() {
  return buildConfig({
    services: [{ name: 'shop', blue: ['http://127.0.0.1:9001'], green: ['http://127.0.0.1:9002'], rollout: { strategy: 'linear', linear: { step: 50, interval: '10s' } } }],
  });
}

async function controller(leading: { value: boolean }): Promise<ControllerUnderTest> {
  const t = await startController(config(), { leadership: { isLeader: () => leading.value } });
  cleanup.push(() => t.close());
  return t;
}

describe('the controller in a fleet (a leadership port)', () => {
  it('a follower changes nothing itself, applies what the leader wrote as is, and runs no timers', async () => {
    const leader = await controller({ value: true });
    const follower = await controller({ value: false });
    await expect(follower.controller.startRollout('shop')).rejects.toBeInstanceOf(NotLeaderError);
    const started = await leader.controller.startRollout('shop');
    const seen: RolloutRecord[] = [];
    follower.controller.onTransition((_service, _previous, current) => seen.push(current));
    await follower.controller.adopt('shop', { live: 'blue', canaryWeight: 50, rollout: started });
    expect(follower.dataPlane.routing('shop')).toEqual({ live: 'blue', canaryWeight: 50 });
    expect(follower.controller.get('shop')).toEqual(started);
    expect(seen).toEqual([started]);
    // Its step's hold ends, but only the leader advances it.
    await follower.advance(30 * S);
    expect(follower.controller.get('shop')?.canaryWeight).toBe(50);
    await leader.advance(10 * S);
    expect(leader.controller.get('shop')?.canaryWeight).toBe(100);
  });

  it('takes over on gaining leadership, from the persisted timestamps, and stands down on losing it', async () => {
    const leading = { value: true };
    const t = await controller(leading);
    await t.controller.startRollout('shop');
    leading.value = false;
    t.controller.leadershipChanged(false);
    await t.advance(25 * S);
    expect(t.controller.get('shop')?.canaryWeight).toBe(50);
    leading.value = true;
    t.controller.leadershipChanged(true);
    // Overdue by 15 s: one step at once, not two.
    await t.advance(0);
    expect(t.controller.get('shop')).toMatchObject({ canaryWeight: 100 });
    expect(t.controller.get('shop')?.history.filter((h) => h.event === 'step').map((h) => h.canaryWeight)).toEqual([50, 100]);
  });

  it('adopting no state puts the service back on its configured live slot at 0%', async () => {
    const t = await controller({ value: false });
    await t.controller.adopt('shop', { live: 'green', canaryWeight: 0, rollout: null });
    expect(t.dataPlane.routing('shop')).toEqual({ live: 'green', canaryWeight: 0 });
    await t.controller.adopt('shop', null);
    expect(t.dataPlane.routing('shop')).toEqual({ live: 'blue', canaryWeight: 0 });
  });
});

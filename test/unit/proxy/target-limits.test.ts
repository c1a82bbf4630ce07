import { afterEach, describe, expect, it } from 'vitest';
import type { BalancePolicy } from '../../../src/core/config-types.js';
import { SlotPool } from '../../../src/proxy/slot-pool.js';
import { Target } from '../../../src/proxy/target.js';

const created: Target[] = [];
afterEach(async () => {
  await Promise.all(created.splice(0).map((t) => t.destroy()));
});

/** Targets a, b with one connection and one queued request each (their pools never connect here). */
function limitedPair(): [Target, Target] {
  const make = (port: number) =>
    new Target('shop', 'blue', `http://127.0.0.1:${port}`, 1, { connectTimeoutMs: 1000, responseTimeoutMs: 1000, idleTimeoutMs: 1000, maxConnections: 1, maxPending: 1 });
  const pair: [Target, Target] = [make(9101), make(9102)];
  created.push(...pair);
  return pair;
}

const name = (t: Target | null) => (t === null ? '-' : t.url.endsWith('9101') ? 'a' : 'b');

describe.each<BalancePolicy>(['round-robin', 'least-request', 'random'])('%s with per-target limits', (balance) => {
  it('passes a target at maxConnections + maxPending in flight, and returns null when all are full', () => {
    const [a, b] = limitedPair();
    const pool = new SlotPool('blue', [a, b], balance, () => 0.25);
    expect(a.maxActive).toBe(2);
    a.counters.active = 2;
    for (let i = 0; i < 5; i++) expect(name(pool.pick())).toBe('b');
    b.counters.active = 2;
    expect(pool.pick()).toBeNull();
    // Full is not unhealthy: the slot still counts both as available.
    expect(pool.availableCount()).toBe(2);
    a.counters.active = 1;
    expect(name(pool.pick())).toBe('a');
  });
});

describe('targets without limits', () => {
  it('have no ceiling on requests in flight', () => {
    const target = new Target('shop', 'blue', 'http://127.0.0.1:9103', 1, { connectTimeoutMs: 1000, responseTimeoutMs: 1000, idleTimeoutMs: 1000 });
    created.push(target);
    target.counters.active = 1_000_000;
    expect(target.maxActive).toBe(Infinity);
    expect(target.pickable).toBe(true);
  });
});

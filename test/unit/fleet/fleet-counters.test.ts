import { describe, expect, it } from 'vitest';
import { FleetCounters, publishCounts, publishMirrorCounts, type PublishedCounters } from '../../../src/fleet/fleet-counters.js';
import { MirrorCounters } from '../../../src/core/mirror-counters.js';
import { latencyBucketIndex } from '../../../src/core/latency-histogram.js';
import { TrafficCounters } from '../../../src/core/traffic-counters.js';

function counters(responses: number, failures: number, latencies: number[] = []): TrafficCounters {
  const c = new TrafficCounters();
  c.responses = responses;
  c.failures = failures;
  for (const seconds of latencies) c.latency.observe(seconds);
  return c;
}

function published(incarnation: string, startedAt: number, canary: TrafficCounters): PublishedCounters {
  return { incarnation, startedAt, counts: publishCounts(['shop'], (_s, slot, role) => (slot === 'green' && role === 'canary' ? canary : new TrafficCounters())) };
}

describe('FleetCounters', () => {
  it('adds what other instances counted to this one\'s counters, as deltas, bucket by bucket', () => {
    const fleet = new FleetCounters({ self: 'a', startedAt: 1000 });
    const local = counters(10, 1, [0.01]);
    fleet.observe('b', published('b1', 2000, counters(5, 2, [0.2, 0.2])));
    fleet.observe('c', published('c1', 2000, counters(3, 0, [0.01])));
    const total = fleet.combined('shop', 'green', 'canary', local);
    expect([total.responses, total.failures]).toEqual([18, 3]);
    expect(total.latency.counts[latencyBucketIndex(0.2)]).toBe(2);
    expect(total.latency.counts[latencyBucketIndex(0.01)]).toBe(2);
    fleet.observe('b', published('b1', 2000, counters(9, 2, [0.2, 0.2, 0.2])));
    expect(fleet.combined('shop', 'green', 'canary', local).responses).toBe(22);
  });

  it('ignores its own record, and a slot nobody else counted is this instance\'s own counters', () => {
    const fleet = new FleetCounters({ self: 'a', startedAt: 1000 });
    fleet.observe('a', published('a1', 1000, counters(100, 100)));
    const local = counters(4, 0);
    expect(fleet.combined('shop', 'green', 'canary', local)).toBe(local);
    expect(fleet.combined('shop', 'blue', 'stable', local)).toBe(local);
  });

  it('never goes back: a dead instance keeps what it contributed, a restarted one starts a new series', () => {
    const fleet = new FleetCounters({ self: 'a', startedAt: 1000 });
    const local = counters(0, 0);
    fleet.observe('b', published('b1', 2000, counters(50, 5)));
    fleet.forget('b');
    expect(fleet.combined('shop', 'green', 'canary', local).responses).toBe(50);
    fleet.observe('b', published('b2', 3000, counters(7, 1)));
    expect([fleet.combined('shop', 'green', 'canary', local).responses, fleet.combined('shop', 'green', 'canary', local).failures]).toEqual([57, 6]);
  });

  it('counts an instance that was already serving before this one started from the moment it is first seen', () => {
    const fleet = new FleetCounters({ self: 'a', startedAt: 5000 });
    const local = counters(0, 0);
    fleet.observe('b', published('b1', 1000, counters(1_000_000, 10)));
    expect(fleet.combined('shop', 'green', 'canary', local).responses).toBe(0);
    fleet.observe('b', published('b1', 1000, counters(1_000_040, 12)));
    const total = fleet.combined('shop', 'green', 'canary', local);
    expect([total.responses, total.failures]).toEqual([40, 2]);
  });

  it('publishes sparse latency buckets', () => {
    const c = counters(2, 0, [0.01, 0.3]);
    const [entry] = publishCounts(['shop'], () => c);
    expect(entry?.latency).toEqual([latencyBucketIndex(0.01), 1, latencyBucketIndex(0.3), 1]);
  });

  it('adds up the mirror results of every instance, mismatch kinds included, so a dark launch is judged on all its copies', () => {
    const mirror = (match: number, mismatch: number, kinds: [string, number][] = []) => {
      const c = new MirrorCounters();
      c.count('match', match);
      c.count('mismatch', mismatch);
      for (const [kind, n] of kinds) c.countKind(kind, n);
      return c;
    };
    const withMirror = (incarnation: string, m: MirrorCounters): PublishedCounters => ({ ...published(incarnation, 2000, new TrafficCounters()), mirror: publishMirrorCounts(['shop'], () => m) });
    const fleet = new FleetCounters({ self: 'a', startedAt: 1000 });
    const local = mirror(10, 1, [['body $.total', 1]]);
    expect(fleet.combinedMirror('shop', local)).toBe(local);
    fleet.observe('b', withMirror('b1', mirror(5, 2, [['body $.total', 2]])));
    fleet.observe('b', withMirror('b1', mirror(8, 3, [['body $.total', 2], ['status: live 200, copy 500', 1]])));
    const total = fleet.combinedMirror('shop', local);
    expect([total.match, total.mismatch]).toEqual([18, 4]);
    expect([...total.kinds]).toEqual([['body $.total', 3], ['status: live 200, copy 500', 1]]);
    // A restart under a new incarnation starts from zero again and never takes anything back.
    fleet.observe('b', withMirror('b2', mirror(1, 0)));
    expect(fleet.combinedMirror('shop', local).match).toBe(19);
  });
});

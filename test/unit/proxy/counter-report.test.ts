import { afterEach, describe, expect, it } from 'vitest';
import { latencyBucketIndex } from '../../../src/core/latency-histogram.js';
import type { TrafficCounters } from '../../../src/core/traffic-counters.js';
import { addCounterReport, CounterReader } from '../../../src/proxy/counter-report.js';
import { DataPlane } from '../../../src/proxy/data-plane.js';
import { buildConfig } from '../../helpers/proxy-harness.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

const B1 = 'http://127.0.0.1:9101';

function plane(): DataPlane {
  const dataPlane = new DataPlane(buildConfig({ services: [{ name: 'shop', blue: [B1], green: ['http://127.0.0.1:9201'] }] }));
  cleanup.push(() => dataPlane.close());
  return dataPlane;
}

/** What the hot path does for one answered request. */
function answer(counters: TrafficCounters, status: number, seconds: number): void {
  counters.byStatus[status]! += 1;
  counters.responses += 1;
  if (status >= 500) counters.failures += 1;
  counters.latency.observe(seconds);
}

function snapshotOf(counters: TrafficCounters) {
  return {
    byStatus: Array.from(counters.byStatus),
    latency: Array.from(counters.latency.counts),
    sum: counters.latency.sum,
    count: counters.latency.count,
    scalars: [counters.upstreamFailures, counters.unavailable, counters.clientAborts, counters.responses, counters.failures],
  };
}

describe('CounterReader / addCounterReport', () => {
  it('deltas from two processes add up to exactly what one process would have counted', () => {
    const [a, b, one, sum] = [plane(), plane(), plane(), plane()];
    const readers = [new CounterReader(a), new CounterReader(b)];
    const traffic: [number, number, number][] = [
      [0, 200, 0.004],
      [1, 503, 0.2],
      [0, 200, 0.0009],
      [1, 200, 1.5],
      [0, 404, 0.03],
    ];
    for (let round = 0; round < 3; round++) {
      for (const [which, status, seconds] of traffic) {
        answer([a, b][which]!.runtime('shop').counters.blue.stable, status, seconds * (round + 1));
        answer(one.runtime('shop').counters.blue.stable, status, seconds * (round + 1));
      }
      const targetA = a.runtime('shop').slot('blue').targets[0]!;
      targetA.counters.requests += 2;
      targetA.counters.refused += 1;
      one.runtime('shop').slot('blue').targets[0]!.counters.requests += 2;
      one.runtime('shop').slot('blue').targets[0]!.counters.refused += 1;
      for (const reader of readers) addCounterReport(sum, reader.read());
    }
    const got = sum.runtime('shop').counters.blue.stable;
    const want = one.runtime('shop').counters.blue.stable;
    expect({ ...snapshotOf(got), sum: Number(got.latency.sum.toFixed(9)) }).toEqual({ ...snapshotOf(want), sum: Number(want.latency.sum.toFixed(9)) });
    expect(sum.runtime('shop').slot('blue').targets[0]!.counters).toMatchObject({ requests: 6, refused: 3 });
  });

  it('is sparse: nothing new, nothing reported; a delta lists only the status codes and buckets that moved', () => {
    const a = plane();
    const reader = new CounterReader(a);
    expect(reader.read()).toEqual({ roles: [], targets: [] });
    answer(a.runtime('shop').counters.green.canary, 502, 0.05);
    const report = reader.read();
    expect(report.roles).toEqual([
      {
        service: 'shop',
        slot: 'green',
        role: 'canary',
        byStatus: [502, 1],
        upstreamFailures: 0,
        unavailable: 0,
        clientAborts: 0,
        responses: 1,
        failures: 1,
        latency: [latencyBucketIndex(0.05), 1],
        latencySum: 0.05,
        latencyCount: 1,
      },
    ]);
    expect(reader.read()).toEqual({ roles: [], targets: [] });
  });

  it('reports gauges (in flight, the pool) when they move, not deltas', () => {
    const a = plane();
    const reader = new CounterReader(a);
    const target = a.runtime('shop').slot('blue').targets[0]!;
    target.counters.active = 3;
    expect(reader.read().targets).toEqual([{ service: 'shop', slot: 'blue', url: B1, requests: 0, errors: 0, connect: 0, timeout: 0, reset: 0, refused: 0, protocol: 0, active: 3, connected: 0, running: 0, pending: 0 }]);
    expect(reader.read().targets).toEqual([]);
    target.counters.active = 0;
    expect(reader.read().targets[0]?.active).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { TrafficSampler } from '../../../src/control/dashboard/traffic-sampler.js';
import { LatencyHistogram, quantileFromCounts } from '../../../src/core/latency-histogram.js';
import { TrafficCounters } from '../../../src/core/traffic-counters.js';

/** The p99 in ms the histogram itself gives for `count` observations of `seconds`. */
function p99Of(count: number, seconds: number): number {
  const h = new LatencyHistogram();
  for (let i = 0; i < count; i++) h.observe(seconds);
  return quantileFromCounts(h.counts, 0.99) * 1000;
}

function serve(counters: TrafficCounters, count: number, seconds: number, failures = 0): void {
  for (let i = 0; i < count; i++) {
    counters.responses += 1;
    if (i < failures) counters.failures += 1;
    counters.latency.observe(seconds);
  }
}

describe('TrafficSampler', () => {
  const blueStable = new TrafficCounters();
  const blueCanary = new TrafficCounters();
  const greenStable = new TrafficCounters();
  const greenCanary = new TrafficCounters();
  let now = 0;
  const sampler = new TrafficSampler(() => ({ blue: [blueStable, blueCanary], green: [greenStable, greenCanary] }), { windowMs: 3000, now: () => now });

  it('has nothing to say before two samples', () => {
    expect(sampler.traffic('web')).toEqual({ blue: { rps: null, errorRate: null, p99Ms: null }, green: { rps: null, errorRate: null, p99Ms: null } });
    sampler.sample(['web']);
    expect(sampler.traffic('web').blue).toEqual({ rps: null, errorRate: null, p99Ms: null });
  });

  it('diffs the cumulative counters of both roles of a slot over the time between samples', () => {
    serve(blueStable, 90, 0.002);
    serve(blueCanary, 10, 0.002, 5);
    serve(greenCanary, 20, 0.2, 1);
    now = 1000;
    sampler.sample(['web']);
    const traffic = sampler.traffic('web');
    expect(traffic.blue.rps).toBe(100);
    expect(traffic.blue.errorRate).toBe(0.05);
    expect(traffic.blue.p99Ms).toBeCloseTo(p99Of(100, 0.002), 9);
    // Buckets are about 12% wide: the reading stays within one bucket of the truth.
    expect(Math.abs((traffic.blue.p99Ms as number) - 2) / 2).toBeLessThan(0.13);
    expect(traffic.green.rps).toBe(20);
    expect(traffic.green.errorRate).toBe(0.05);
    expect(traffic.green.p99Ms).toBeCloseTo(p99Of(20, 0.2), 9);
  });

  it('measures over the window, forgetting what happened before it', () => {
    for (let t = 2000; t <= 5000; t += 1000) {
      serve(blueStable, 10, 0.002);
      now = t;
      sampler.sample(['web']);
    }
    // The burst at t=0..1000 fell out of the 3 s window: 10 responses per second since.
    expect(sampler.traffic('web').blue).toMatchObject({ rps: 10, errorRate: 0 });
    expect(sampler.traffic('web').green).toEqual({ rps: 0, errorRate: null, p99Ms: null });
  });

  it('forgets everything on reset and drops services that went away', () => {
    sampler.reset();
    expect(sampler.traffic('web').blue.rps).toBeNull();
    sampler.sample(['web']);
    now += 1000;
    sampler.sample(['other']);
    expect(sampler.traffic('web').blue.rps).toBeNull();
  });
});

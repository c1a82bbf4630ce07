import { describe, expect, it } from 'vitest';
import { BuiltinWindows } from '../../../src/analysis/builtin-windows.js';
import { quantileOf } from '../../../src/analysis/latency-quantile.js';
import { VirtualClock } from '../../../src/core/clock.js';
import { TrafficCounters } from '../../../src/core/traffic-counters.js';
import type { Role, SlotName } from '../../../src/core/types.js';

function setup(sampleIntervalMs = 1000, retentionMs = 60_000) {
  const clock = new VirtualClock();
  const counters = new Map<string, TrafficCounters>();
  const lookup = (service: string, slot: SlotName, role: Role) => {
    const k = `${service}/${slot}/${role}`;
    if (!counters.has(k)) counters.set(k, new TrafficCounters());
    return counters.get(k) as TrafficCounters;
  };
  const windows = new BuiltinWindows({ services: ['shop'], lookup, clock, sampleIntervalMs, retentionMs });
  windows.start();
  /** `n` requests on green/canary in the next `ms`, `failed` of them failing, each taking `seconds`. */
  const traffic = (ms: number, n: number, failed = 0, seconds = 0.01) => {
    const c = lookup('shop', 'green', 'canary');
    for (let i = 0; i < n; i++) {
      // The request completes, then time moves on: it is inside every sample taken after it.
      c.responses += 1;
      if (failed > 0 && i % Math.round(n / failed) === 0) c.failures += 1;
      c.latency.observe(seconds);
      clock.advance(ms / n);
    }
  };
  return { clock, windows, traffic, lookup };
}

describe('builtin window statistics', () => {
  it('resized by a reload to a longer window, keeps what it sampled and then holds the whole window', async () => {
    const { windows, traffic } = setup(1000, 60_000);
    traffic(120_000, 1200);
    // Only a minute (and a little) was kept.
    expect((await windows.windowStats('shop', 'green', 'canary', 300_000)).windowMs).toBe(61_000);
    windows.resize({ sampleIntervalMs: 1000, retentionMs: 300_000 });
    expect((await windows.windowStats('shop', 'green', 'canary', 60_000)).requests).toBe(600);
    traffic(300_000, 3000);
    const fiveMinutes = await windows.windowStats('shop', 'green', 'canary', 300_000);
    expect([fiveMinutes.requests, fiveMinutes.windowMs]).toEqual([3000, 300_000]);
    // Shrunk again: the newest samples stay.
    windows.resize({ sampleIntervalMs: 1000, retentionMs: 30_000 });
    expect((await windows.windowStats('shop', 'green', 'canary', 30_000)).requests).toBe(300);
  });

  it('counts exactly the requests of the last window', async () => {
    const { windows, traffic } = setup();
    traffic(60_000, 600, 60);
    traffic(30_000, 300, 0);
    const last30s = await windows.windowStats('shop', 'green', 'canary', 30_000);
    expect([last30s.requests, last30s.failures, last30s.windowMs]).toEqual([300, 0, 30_000]);
    const lastMinute = await windows.windowStats('shop', 'green', 'canary', 60_000);
    expect([lastMinute.requests, lastMinute.failures, lastMinute.windowMs]).toEqual([600, 30, 60_000]);
  });

  it('reports a shorter window while history is still short, and stays bounded after', async () => {
    const { windows, traffic } = setup(1000, 10_000);
    traffic(4000, 40);
    expect(await windows.windowStats('shop', 'green', 'canary', 60_000)).toMatchObject({ requests: 40, windowMs: 4000 });
    traffic(100_000, 1000);
    // Retention is 10 s: the ring holds 12 samples one second apart, so a 60 s question gets the 11 s it still has.
    const stats = await windows.windowStats('shop', 'green', 'canary', 60_000);
    expect(stats.windowMs).toBe(11_000);
    expect(stats.requests).toBe(110);
  });

  it('keeps latency per window: quantiles from the difference of bucket counts', async () => {
    const { windows, traffic } = setup();
    traffic(30_000, 300, 0, 0.5);
    traffic(30_000, 300, 0, 0.01);
    const recent = await windows.windowStats('shop', 'green', 'canary', 30_000);
    expect(quantileOf(recent.latency, 0.99)).toBeGreaterThan(0.009);
    expect(quantileOf(recent.latency, 0.99)).toBeLessThanOrEqual(0.0113);
    const both = await windows.windowStats('shop', 'green', 'canary', 60_000);
    expect(quantileOf(both.latency, 0.99)).toBeGreaterThan(0.44);
  });

  it('sizes sampling to the alarms: ~30 samples across the smallest window', () => {
    expect(BuiltinWindows.sizing([60_000, 300_000])).toEqual({ sampleIntervalMs: 2000, retentionMs: 304_000 });
    // At least the dashboard's five minutes are kept, up to 600 samples (a minute at 100 ms).
    expect(BuiltinWindows.sizing([1000])).toEqual({ sampleIntervalMs: 100, retentionMs: 60_000 });
    expect(BuiltinWindows.sizing([])).toEqual({ sampleIntervalMs: 2000, retentionMs: 300_000 });
  });

  it('gives the recent per-slot rates over the history it keeps, each point over a full window, for the dashboard', () => {
    const { windows, traffic } = setup(1000, 60_000);
    // 10 s at 10 req/s with 1 failure in 10, then 10 s at 20 req/s without failures.
    traffic(10_000, 100, 10, 0.02);
    traffic(10_000, 200, 0, 0.02);
    const recent = windows.recentTraffic('shop', 5000);
    // Samples every second from 0 to 20 s; a point needs 5 s behind it, so 5 s to 20 s.
    expect(recent.at).toEqual(Array.from({ length: 16 }, (_, i) => 5000 + i * 1000));
    expect(recent.slots.green.rps[0]).toBeCloseTo(10, 5);
    expect(recent.slots.green.errorRate[0]).toBeCloseTo(0.1, 5);
    expect(recent.slots.green.rps.at(-1)).toBeCloseTo(20, 5);
    expect(recent.slots.green.errorRate.at(-1)).toBe(0);
    expect(recent.slots.green.p99Ms.at(-1)).toBeGreaterThan(15);
    expect(recent.slots.green.p99Ms.at(-1)).toBeLessThanOrEqual(25);
    // Nothing went to blue: no rate to speak of, no error share, no p99.
    expect(recent.slots.blue.rps.at(-1)).toBe(0);
    expect(recent.slots.blue.errorRate.at(-1)).toBeNull();
    expect(recent.slots.blue.p99Ms.at(-1)).toBeNull();
  });

  it('sizes the history a few analysis intervals past the largest window, so the next check still finds the window a weight change closed', () => {
    expect(BuiltinWindows.sizing([60_000, 300_000], [10_000, 30_000])).toEqual({ sampleIntervalMs: 2000, retentionMs: 394_000 });
  });

  it('measures a window that ended in the past, up to the first sample at or after its end', async () => {
    const { clock, windows, traffic } = setup(1000, 120_000);
    traffic(60_000, 600, 60);
    traffic(30_000, 300, 0);
    // Nothing more arrives (the role's weight reached 0), and 25 s pass.
    clock.advance(25_000);
    const closed = await windows.windowStats('shop', 'green', 'canary', 60_000, 25_000);
    expect([closed.requests, closed.failures, closed.windowMs]).toEqual([600, 30, 60_000]);
    const earlier = await windows.windowStats('shop', 'green', 'canary', 30_000, 55_000);
    expect([earlier.requests, earlier.failures, earlier.windowMs]).toEqual([300, 30, 30_000]);
  });

  it('reports a past window short when the ring no longer reaches back to its start', async () => {
    const { clock, windows, traffic } = setup(1000, 10_000);
    traffic(30_000, 300);
    clock.advance(5000);
    // Retention 10 s: 12 samples, the oldest 11 s ago; the window that ended 5 s ago starts 65 s ago.
    const stats = await windows.windowStats('shop', 'green', 'canary', 60_000, 5000);
    expect(stats.windowMs).toBe(6000);
    expect(stats.windowMs).toBeLessThan(60_000);
  });

  it('says so when the service is unknown', async () => {
    const { windows } = setup();
    await expect(windows.windowStats('nope', 'green', 'canary', 1000)).rejects.toThrow('no such service "nope"');
  });
});

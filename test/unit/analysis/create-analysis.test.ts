import { afterEach, describe, expect, it } from 'vitest';
import { createAnalysis } from '../../../src/analysis/create-analysis.js';
import { VirtualClock } from '../../../src/core/clock.js';
import { TrafficCounters } from '../../../src/core/traffic-counters.js';
import type { RolloutRecord } from '../../../src/rollout/rollout-record.js';
import { FakePrometheus, sendJson, vectorOf } from '../../helpers/fake-prometheus.js';
import { buildConfig } from '../../helpers/proxy-harness.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

const rollout = { id: 'r1', from: 'blue', to: 'green' } as RolloutRecord;

async function prometheus(value: string): Promise<FakePrometheus> {
  const server = new FakePrometheus();
  server.handler = (_req, res) => sendJson(res, 200, vectorOf([{ metric: {}, value }]));
  await server.start();
  cleanup.push(() => server.stop());
  return server;
}

const config = (metrics: Record<string, unknown>, alarms: Record<string, unknown>[]) =>
  buildConfig({ metrics, services: [{ name: 'shop', blue: ['http://127.0.0.1:7001'], green: ['http://127.0.0.1:7002'], rollout: { analysis: { alarms } } }] });

describe('alarm evaluation across reloads', () => {
  it('moves to a new Prometheus address, and from builtin metrics to Prometheus and back, from the next check', async () => {
    const [first, second] = await Promise.all([prometheus('0.5'), prometheus('0.01')]);
    const promql = { name: 'prom', promql: 'vector(1)', max: 0.1 };
    const builtin = { name: 'rate', metric: 'request_rate', window: '10s', max: 100 };
    const counters = new TrafficCounters();
    const clock = new VirtualClock();
    const analysis = createAnalysis(config({ provider: 'builtin', prometheus: { url: first.url } }, [promql, builtin]), { lookup: () => counters, clock });
    analysis.start();
    clock.advance(10_000);
    cleanup.push(() => analysis.stop());
    const verdicts = async () => ((await analysis.evaluator.evaluate('shop', rollout)).detail as { alarms: { alarm: string; verdict: string }[] }).alarms.map((a) => `${a.alarm}:${a.verdict}`);

    expect(await verdicts()).toEqual(['prom:breach', 'rate:pass']);
    expect([first.requests.length, second.requests.length]).toEqual([1, 0]);

    // The second server answers the promql alarm, and the builtin alarm's window queries too.
    analysis.reconfigure(config({ provider: 'prometheus', prometheus: { url: second.url } }, [promql, builtin]));
    expect((await verdicts())[0]).toBe('prom:pass');
    expect(first.requests.length).toBe(1);
    const queries = second.requests.map((u) => u.searchParams.get('query') ?? '');
    expect(queries).toContain('vector(1)');
    expect(queries.some((q) => q.includes('shiftproxy_requests_total{service="shop",slot="green",role="canary"'))).toBe(true);

    // Back to builtin, with a tighter alarm: the windows kept sampling meanwhile.
    analysis.reconfigure(config({ provider: 'builtin', prometheus: { url: second.url } }, [{ ...builtin, min: 1 }]));
    expect(await verdicts()).toEqual(['rate:breach']);
    expect(second.requests.length).toBe(queries.length);
  });
});

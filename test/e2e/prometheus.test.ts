import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlarmEvaluator, type JudgePort } from '../../src/analysis/alarm-evaluator.js';
import { PrometheusClient } from '../../src/analysis/prometheus-client.js';
import { PrometheusMetricsSource } from '../../src/analysis/prometheus-metrics-source.js';
import { promString } from '../../src/analysis/promql.js';
import { MeasurementError } from '../../src/analysis/window-stats.js';
import { PROMETHEUS_BOUNDS_S } from '../../src/core/latency-histogram.js';
import { silentLogger } from '../../src/core/logger.js';
import { startShiftproxy, type RunningShiftproxy } from '../../src/main.js';
import type { RolloutRecord } from '../../src/rollout/rollout-record.js';
import { FakeBackend } from '../../src/simulate/fake-backend.js';
import { get } from '../helpers/http-client.js';
import { buildConfig, testWorkerOptions } from '../helpers/proxy-harness.js';
import { freeLoopbackPort, prometheusMissing, startPrometheus, type RealPrometheus } from '../helpers/real-prometheus.js';
import { eventually as eventuallyWithin } from '../helpers/wait-for.js';

/**
 * The Prometheus provider against a real Prometheus (Debian package `prometheus`) scraping a
 * real shiftproxy every second, then rollouts judged through it. Service `shop` serves the
 * provider checks: its canary backend fails exactly one request in four, in a fixed order, so
 * every count below is known in advance. `bad`, `good` and `blind` are rolled out with a
 * PromQL alarm evaluated by the AlarmEvaluator every second.
 */

const missing = prometheusMissing();
if (missing) console.warn(`test/e2e/prometheus.test.ts skipped: ${missing}`);

const CANARY = { 'x-canary': 'always' };
const ALARM_QUERY =
  'sum(rate(shiftproxy_requests_total{service="shop",role="canary",code=~"5.."}[1m])) / sum(rate(shiftproxy_requests_total{service="shop",role="canary"}[1m]))';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// Waits on scrapes: several in a row, from a Prometheus that a busy machine may slow down.
const eventually = <T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> => eventuallyWithin(what, attempt, timeoutMs);

/**
 * A canary's share of 5xx and upstream failures over 5 s. `or vector(0)` matters: shiftproxy
 * exports a status code's series only once it is seen, so without it a canary with no failure
 * at all has no numerator series and the alarm would be no-data (inconclusive) forever.
 */
const errorRateAlarm = (service: string) =>
  `(sum(rate(shiftproxy_requests_total{service="${service}",role="canary",code=~"5..|none"}[5s])) or vector(0)) / sum(rate(shiftproxy_requests_total{service="${service}",role="canary"}[5s]))`;

/**
 * Where a decision is expected, `inconclusiveLimit` is generous: a machine too busy to scrape
 * every second leaves some checks without data, which must delay the decision, not make it.
 */
function canaryRollout(service: string, options: { interval: string; bakeTime?: string; inconclusiveLimit: number }): Record<string, unknown> {
  return {
    strategy: 'canary',
    canary: { weight: 50, interval: options.interval },
    bakeTime: options.bakeTime ?? '0s',
    analysis: {
      interval: '1s',
      failureLimit: 2,
      inconclusiveLimit: options.inconclusiveLimit,
      alarms: [{ name: `${service}-5xx`, promql: errorRateAlarm(service), max: 0.05 }],
    },
  };
}

/** Only PromQL alarms here: a comparison with stable reaching the judge is a test bug. */
const PROMQL_ONLY: JudgePort = {
  errorRate: () => {
    throw new Error('no relativeTo alarm is configured in this test');
  },
  latency: () => {
    throw new Error('no relativeTo alarm is configured in this test');
  },
};

interface AlarmCheckView {
  alarm: string;
  verdict: string;
  value: number | null;
  reason: string;
}

/** The alarm checks the controller recorded in the rollout's history. */
function checksOf(record: RolloutRecord): AlarmCheckView[] {
  return record.history.filter((h) => h.event === 'analysis').flatMap((h) => (h.detail as { alarms: AlarmCheckView[] }).alarms);
}

/** Requests to the given paths, back to back, until stopped. */
function backgroundTraffic(baseUrl: string, paths: string[]): { stop(): Promise<void> } {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await Promise.all(paths.map((path) => get(`${baseUrl}${path}`).catch(() => undefined)));
      await sleep(15);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/** The MeasurementError a call failed with; fails the test if it succeeded or failed otherwise. */
async function failure(run: Promise<unknown>): Promise<MeasurementError> {
  const err = await run.then(
    (value) => new Error(`expected a MeasurementError, got ${JSON.stringify(value)}`),
    (e: unknown) => e,
  );
  if (!(err instanceof MeasurementError)) throw err;
  return err;
}

/** Polls `attempt` until it gives a value; `timeoutMs` only fails a wait that would never end. */
/** The canary's request count: one series whatever the status codes. */
const CANARY_COUNT = 'shiftproxy_request_duration_seconds_count{service="shop",slot="green",role="canary"}';

/** Every raw sample Prometheus holds for one series over `range` (`[seconds, value]`, oldest first). */
async function rawSamples(prometheusUrl: string, selector: string, range = '2m'): Promise<[number, number][]> {
  const res = await get(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(`${selector}[${range}]`)}`);
  const body = JSON.parse(res.body) as { data: { result: { values: [number, string][] }[] } };
  return (body.data.result[0]?.values ?? []).map(([t, v]) => [t, Number(v)]);
}

/** Seconds from one raw sample to another. */
function secondsBetween(from: [number, number] | undefined, to: [number, number] | undefined): number {
  if (!from || !to) throw new Error('too few samples');
  return to[0] - from[0];
}

/** The longest time between two consecutive samples, in milliseconds. */
function longestGapMs(samples: [number, number][]): number {
  let longest = 0;
  for (let i = 1; i < samples.length; i++) longest = Math.max(longest, secondsBetween(samples[i - 1], samples[i]) * 1000);
  return longest;
}

/** The canary's latency histogram exactly as the proxy exports it, per bucket (non-cumulative). */
async function exportedCanaryBuckets(adminUrl: string): Promise<number[]> {
  const text = (await get(`${adminUrl}/metrics`)).body;
  const cumulative = new Map<string, number>();
  for (const m of text.matchAll(/^shiftproxy_request_duration_seconds_bucket\{([^}]*)\} (\S+)$/gm)) {
    const labels = m[1] as string;
    if (!labels.includes('service="shop"') || !labels.includes('slot="green"') || !labels.includes('role="canary"')) continue;
    cumulative.set(/(?:^|,)le="([^"]+)"/.exec(labels)?.[1] as string, Number(m[2]));
  }
  const les = [...PROMETHEUS_BOUNDS_S.map(String), '+Inf'];
  return les.map((le, i) => (cumulative.get(le) as number) - (i === 0 ? 0 : (cumulative.get(les[i - 1] as string) as number)));
}

describe.skipIf(missing !== undefined)('Prometheus provider against a real Prometheus', () => {
  const blue = new FakeBackend('blue');
  let pattern = 0;
  // One failure in four, always in the same place: random() < 0.25 on every fourth call.
  const green = new FakeBackend('green', () => [0.9, 0.6, 0.1, 0.4][pattern++ % 4] as number);
  const failingGreen = new FakeBackend('failing-green');
  const healthyGreen = new FakeBackend('healthy-green');
  let running: RunningShiftproxy;
  let proxyUrl = '';
  let adminUrl = '';
  let prometheus: RealPrometheus;
  let client: PrometheusClient;
  let analysisClient: PrometheusClient;
  let source: PrometheusMetricsSource;
  const sent = { stable: 0, canary: 0, canaryFailed: 0 };

  async function send(canary: boolean): Promise<void> {
    const res = await get(`${proxyUrl}/shop/work`, canary ? CANARY : {});
    if (canary) {
      sent.canary += 1;
      if (res.status >= 500) sent.canaryFailed += 1;
    } else {
      sent.stable += 1;
      expect(res.status).toBe(200);
    }
  }

  async function ingested(role: 'canary' | 'stable', total: number): Promise<void> {
    await eventually(`Prometheus to hold ${total} ${role} requests`, async () => {
      const value = await client.scalar(`sum(shiftproxy_requests_total{service="shop",role="${role}"})`);
      return value === total ? true : undefined;
    });
  }

  /**
   * Waits until the newest `scrapes` samples of the canary count all show `total` (it stays
   * there while the test sends nothing), and returns the samples. Scrapes are the events here,
   * rather than seconds of waiting that a busy Prometheus may not fill.
   */
  async function flat(total: number, scrapes: number): Promise<[number, number][]> {
    return eventually(`${scrapes} scrapes in a row showing ${total} canary requests`, async () => {
      const samples = await rawSamples(prometheus.url, CANARY_COUNT);
      return samples.length >= scrapes && samples.slice(-scrapes).every(([, v]) => v === total) ? samples : undefined;
    });
  }

  beforeAll(async () => {
    green.faults.errorRate = 0.25;
    failingGreen.faults.errorRate = 1;
    const [blueUrl, greenUrl, failingUrl, healthyUrl] = await Promise.all([blue.start(), green.start(), failingGreen.start(), healthyGreen.start()]);

    // The config names Prometheus's URL, and Prometheus's config names the proxy's admin port:
    // pick Prometheus's port first, start the proxy, then Prometheus on that port.
    const prometheusPort = await freeLoopbackPort();
    const config = buildConfig({
      metrics: { provider: 'prometheus', prometheus: { url: `http://127.0.0.1:${prometheusPort}`, timeout: '800ms' } },
      services: [
        { name: 'shop', match: { pathPrefix: '/shop' }, blue: [blueUrl], green: [greenUrl], canaryHeader: { name: 'x-canary', value: 'always' } },
        { name: 'bad', match: { pathPrefix: '/bad' }, blue: [blueUrl], green: [failingUrl], rollout: canaryRollout('bad', { interval: '30s', inconclusiveLimit: 30 }) },
        { name: 'good', match: { pathPrefix: '/good' }, blue: [blueUrl], green: [healthyUrl], rollout: canaryRollout('good', { interval: '4s', bakeTime: '2s', inconclusiveLimit: 30 }) },
        { name: 'blind', match: { pathPrefix: '/blind' }, blue: [blueUrl], green: [healthyUrl], rollout: canaryRollout('blind', { interval: '1500ms', inconclusiveLimit: 3 }) },
      ],
    });
    analysisClient = new PrometheusClient(config.metrics.prometheus as { url: string; timeoutMs: number });
    const analysis = new AlarmEvaluator({ config, source: new PrometheusMetricsSource(analysisClient), promql: analysisClient, judge: PROMQL_ONLY });
    running = await startShiftproxy(config, { logger: silentLogger(), processMetrics: false, analysis, ...testWorkerOptions() });
    proxyUrl = `http://127.0.0.1:${running.proxyAddresses[0]?.port}`;
    adminUrl = `http://127.0.0.1:${running.adminAddress.port}`;
    prometheus = await startPrometheus({ targets: [`127.0.0.1:${running.adminAddress.port}`], port: prometheusPort });
    client = new PrometheusClient({ url: prometheus.url, timeoutMs: 2000 });
    source = new PrometheusMetricsSource(client);

    // Prometheus applies a new target list after a few seconds; traffic starts once it scrapes,
    // so the canary's histogram begins at zero inside every window used below.
    await eventually('the first scrape of shiftproxy', async () => ((await client.scalar('up{job="shiftproxy"}')) === 1 ? true : undefined), 15_000);

    // Phase A: steady traffic over several scrapes, so rate() has a slope to measure.
    for (let i = 0; i < 80; i++) {
      await Promise.all([send(false), send(true)]);
      await sleep(40);
    }
    await ingested('canary', 80);
    await ingested('stable', 80);
    // A scrape after the one that first held all 80, so every window ending now has phase A's end in it.
    await flat(80, 2);
  }, 60_000);

  afterAll(async () => {
    await running?.stop(0);
    await client?.close();
    await analysisClient?.close();
    await prometheus?.stop();
    await Promise.all([blue.stop(), green.stop(), failingGreen.stop(), healthyGreen.stop()]);
  });

  it('sent what the test expects: 80 canary requests, exactly 20 of them answered 500', () => {
    expect(sent).toEqual({ stable: 80, canary: 80, canaryFailed: 20 });
  });

  it('PrometheusClient.scalar on a real PromQL alarm query returns the canary error rate', async () => {
    const value = await client.scalar(ALARM_QUERY);
    expect(value).toBeGreaterThan(0.2);
    expect(value).toBeLessThan(0.3);
  });

  it('windowStats matches what the proxy counted: canary requests and failures exactly, latency in proportion', async () => {
    const asked = 120_000;
    // The samples so far, before the query: the query's own time is later than all of them.
    const samples = await rawSamples(prometheus.url, CANARY_COUNT, '10m');
    const stats = await source.windowStats('shop', 'green', 'canary', asked);
    const answeredAt = performance.now();
    expect(stats.requests).toBe(80);
    expect(stats.failures).toBe(20);
    expect(stats.latency.bounds).toEqual(PROMETHEUS_BOUNDS_S);

    const exact = await exportedCanaryBuckets(adminUrl);
    expect(exact.reduce((a, b) => a + b, 0)).toBe(80);
    const total = stats.latency.counts.reduce((a, b) => a + b, 0);
    // increase() extrapolates toward the window's edges, by at most 1.1 scrape intervals each;
    // every bucket shares the same samples' times, so the shape is exact.
    const spanMs = secondsBetween(samples[0], samples.at(-1)) * 1000;
    expect(total).toBeGreaterThanOrEqual(80);
    expect(total).toBeLessThanOrEqual(80 * ((spanMs + 2 * 1.1 * longestGapMs(samples)) / spanMs));
    stats.latency.counts.forEach((count, i) => expect(count / total).toBeCloseTo((exact[i] as number) / 80, 9));

    // Prometheus has scraped for only a few seconds: the window it really covers is what its
    // samples span (seen at a 1 s resolution, so from the first or the second sample on), never
    // longer than Prometheus has lived.
    expect(stats.windowMs).toBeLessThan(asked);
    expect(stats.windowMs).toBeGreaterThanOrEqual(secondsBetween(samples[1], samples.at(-1)) * 1000);
    expect(stats.windowMs).toBeLessThanOrEqual(answeredAt - prometheus.startedAt + 50);
  });

  it('windowStats for stable: every request, no failure (an empty failures vector is zero)', async () => {
    const stats = await source.windowStats('shop', 'blue', 'stable', 120_000);
    expect([stats.requests, stats.failures]).toEqual([80, 0]);
  });

  it('a later burst is counted through increase() on series that already existed', async () => {
    // Phase A ended long enough ago: six scrapes in a row hold its 80 (five seconds or more).
    const before = await flat(80, 6);
    const flatFrom = (before.at(-6) as [number, number])[0];
    const failedBefore = sent.canaryFailed;
    for (let i = 0; i < 20; i++) await send(true);
    const burstFailures = sent.canaryFailed - failedBefore;
    await ingested('canary', 100);
    // Two scrapes after the burst, so the window's end is past it.
    const after = await flat(100, 2);
    // The window starts a second or two into the flat stretch before the burst: after phase A's
    // last change, before the burst's first request even if Prometheus answers a few seconds late.
    const windowMs = (Math.floor(Date.now() / 1000 - flatFrom) - 1) * 1000;
    const stats = await source.windowStats('shop', 'green', 'canary', windowMs);
    expect(stats.windowMs).toBe(windowMs);
    // 20 more requests between a sample before the burst and one after it, extrapolated toward
    // the window's edges by at most 1.1 scrape intervals each.
    expect(stats.requests).toBeGreaterThanOrEqual(20);
    expect(stats.requests).toBeLessThanOrEqual((20 * windowMs) / (windowMs - 2 * 1.1 * longestGapMs(after)));
    // increase() extrapolates each status series on its own (toward the window's edges, or to
    // where that counter would reach zero), so the ratio holds to that precision, not to the bit.
    expect(stats.failures / stats.requests).toBeCloseTo(burstFailures / 20, 3);

    // A window that ended before the burst (a frozen baseline's) is the same queries evaluated
    // then, at the last scrape that still held phase A's 80: phase A alone.
    const lastBeforeBurst = (before.at(-1) as [number, number])[0];
    const earlier = await source.windowStats('shop', 'green', 'canary', 120_000, Date.now() - lastBeforeBurst * 1000);
    expect([earlier.requests, earlier.failures]).toEqual([80, 20]);
  });

  it('label values are escaped into valid PromQL that selects the very value', async () => {
    const weird = 'we"ird\\svc\nline';
    const [sample] = await client.vector(`label_replace(vector(1), "x", ${promString(weird)}, "", "")`);
    expect(sample?.labels.x).toBe(weird);
    const err = await failure(source.windowStats(weird, 'green', 'canary', 60_000));
    expect(err.kind).toBe('no-data');
  });

  it('the real server\'s odd answers map as documented', async () => {
    const bad = await failure(client.scalar('sum(shiftproxy_requests_total'));
    expect(bad.kind).toBe('bad-query');
    expect(bad.message).toMatch(/^bad PromQL, rejected by Prometheus \(bad_data\): .*parse error/);

    const matrix = await failure(client.scalar('shiftproxy_requests_total{service="shop"}[1m]'));
    expect(matrix.kind).toBe('bad-query');
    expect(matrix.message).toMatch(/range vector \(matrix\)/);

    const several = await failure(client.scalar('shiftproxy_requests_total{service="shop"}'));
    expect(several.kind).toBe('bad-query');
    expect(several.message).toMatch(/^the query returned 3 series \(shiftproxy_requests_total\{/);

    const empty = await failure(client.scalar('shiftproxy_requests_total{service="nope"}'));
    expect([empty.kind, empty.message, empty.emptyAnswer]).toEqual([
      'no-data',
      'the query returned no series (empty vector); if no series means 0 here, add "or vector(0)" to the part that may have none, or set onEmpty: zero',
      true,
    ]);

    // Zero traffic for blue as a canary: 0/0.
    const idle = 'shiftproxy_request_duration_seconds_count{service="shop",slot="blue",role="canary"}';
    const nan = await failure(client.scalar(`sum(increase(${idle}[1m])) / sum(increase(${idle}[1m]))`));
    expect(nan.kind).toBe('no-data');
    expect(nan.message).toMatch(/NaN/);

    const inf = await failure(client.scalar('sum(shiftproxy_requests_total{service="shop"}) / 0'));
    expect(inf.kind).toBe('no-data');
    expect(inf.message).toMatch(/\+Inf/);

    expect(await client.scalar('scalar(vector(6)) * 7')).toBe(42);
  });

  describe('rollouts judged by a PromQL alarm through the real Prometheus', () => {
    let traffic: { stop(): Promise<void> };

    beforeAll(async () => {
      traffic = backgroundTraffic(proxyUrl, ['/bad/x', '/good/x']);
      await Promise.all([running.controller.startRollout('bad'), running.controller.startRollout('good')]);
    });
    afterAll(async () => {
      await traffic?.stop();
    });

    it('a canary answering 500s is rolled back by the alarm, with the alarm and its value in the reason and history', async () => {
      const record = await eventually('the bad rollout to end', async () => {
        const r = running.controller.get('bad');
        return r && (r.state === 'rolled_back' || r.state === 'promoted') ? r : undefined;
      }, 45_000);
      expect([record.state, record.rollbackCause]).toEqual(['rolled_back', 'alarm']);
      expect(record.reason).toMatch(/bad-5xx: promql = 1 > max 0\.05/);
      expect(running.dataPlane.routing('bad')).toEqual({ live: 'blue', canaryWeight: 0 });
      const breaches = checksOf(record).filter((c) => c.verdict === 'breach');
      expect(breaches.length).toBeGreaterThanOrEqual(2);
      expect(breaches.every((c) => c.value === 1)).toBe(true);
      expect(record.history.every((h) => h.canaryWeight <= 50)).toBe(true);
      // Decided by the alarm within the 30 s step: the weight never reached 100.
      expect(record.history.some((h) => h.event === 'baking' || h.event === 'promoted')).toBe(false);
    }, 60_000);

    it('a healthy canary passes its checks and is promoted', async () => {
      const record = await eventually('the good rollout to end', async () => {
        const r = running.controller.get('good');
        return r && (r.state === 'rolled_back' || r.state === 'promoted') ? r : undefined;
      }, 45_000);
      expect(record.state, `ended because: ${record.reason ?? ''}`).toBe('promoted');
      expect(running.dataPlane.routing('good')).toEqual({ live: 'green', canaryWeight: 0 });
      const checks = checksOf(record);
      expect(checks.some((c) => c.verdict === 'pass' && c.value === 0)).toBe(true);
      expect(checks.some((c) => c.verdict === 'breach')).toBe(false);
    }, 60_000);
  });

  it('Prometheus hung (SIGSTOP): queries are cut at the timeout; after SIGCONT they answer again', async () => {
    const impatient = new PrometheusClient({ url: prometheus.url, timeoutMs: 800 });
    try {
      await prometheus.pause();
      const started = performance.now();
      const err = await failure(impatient.scalar(ALARM_QUERY));
      const elapsed = performance.now() - started;
      expect([err.kind, err.message]).toEqual(['provider-error', `Prometheus at ${prometheus.url} did not answer within 800 ms`]);
      // Not before the deadline. Timers count from the event loop's cached time, which may lag
      // performance.now() by the current tick's length on a loaded machine: allow that much earlier.
      expect(elapsed).toBeGreaterThanOrEqual(700);

      // Its four queries cut at the same deadline: the message names it.
      const windowErr = await failure(new PrometheusMetricsSource(impatient).windowStats('shop', 'green', 'canary', 60_000));
      expect([windowErr.kind, windowErr.message]).toEqual(['provider-error', `Prometheus at ${prometheus.url} did not answer within 800 ms`]);
    } finally {
      prometheus.resume();
    }
    const value = await eventually('Prometheus to answer after SIGCONT', () => impatient.scalar(ALARM_QUERY));
    expect(value).toBeGreaterThan(0.2);
    expect((await new PrometheusMetricsSource(impatient).windowStats('shop', 'green', 'canary', 120_000)).failures).toBe(25);
    await impatient.close();
  });

  it('Prometheus down (killed): connection refused, as provider-error', async () => {
    await prometheus.kill();
    const err = await failure(client.scalar(ALARM_QUERY));
    expect([err.kind, err.message]).toEqual(['provider-error', `Prometheus at ${prometheus.url} unreachable: connection refused`]);
    const windowErr = await failure(source.windowStats('shop', 'green', 'canary', 60_000));
    expect([windowErr.kind, windowErr.message]).toEqual(['provider-error', `Prometheus at ${prometheus.url} unreachable: connection refused`]);
  });

  it('Prometheus down: every check is inconclusive, the step never advances, and the rollout rolls back at inconclusiveLimit', async () => {
    // Runs after the kill above: the alarm's Prometheus refuses connections.
    await running.controller.startRollout('blind');
    const record = await eventually('the blind rollout to end', async () => {
      const r = running.controller.get('blind');
      return r && (r.state === 'rolled_back' || r.state === 'promoted') ? r : undefined;
    }, 45_000);
    expect([record.state, record.rollbackCause]).toEqual(['rolled_back', 'inconclusive']);
    expect(record.reason).toContain(`analysis inconclusive 3 times in a row: blind-5xx: Prometheus at ${prometheus.url} unreachable: connection refused`);
    expect(running.dataPlane.routing('blind')).toEqual({ live: 'blue', canaryWeight: 0 });
    const checks = checksOf(record);
    expect(checks.map((c) => c.verdict)).toEqual(['inconclusive', 'inconclusive', 'inconclusive']);
    // The 1.5 s step elapsed before the limit was reached, yet the weight never left 50.
    expect(record.history.every((h) => h.canaryWeight <= 50)).toBe(true);
    expect(record.history.some((h) => h.event === 'baking' || h.event === 'promoted')).toBe(false);
  }, 60_000);
});

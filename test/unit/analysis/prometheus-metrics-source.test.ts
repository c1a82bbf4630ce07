import { describe, expect, it } from 'vitest';
import type { PromSample } from '../../../src/analysis/prometheus-answer.js';
import { PrometheusMetricsSource, windowQueries, type PromqlVectorSource } from '../../../src/analysis/prometheus-metrics-source.js';
import { MeasurementError } from '../../../src/analysis/window-stats.js';
import { PROMETHEUS_BOUNDS_S } from '../../../src/core/latency-histogram.js';

/** Answers each of the four window queries from a table keyed by which query it is. */
function stubSource(answers: Partial<Record<keyof ReturnType<typeof windowQueries>, readonly PromSample[] | Error>>, asked: string[] = []): PromqlVectorSource {
  return {
    async vector(query: string) {
      asked.push(query);
      const which = query.startsWith('sum by (le)') ? 'latency' : query.startsWith('time()') ? 'coverage' : query.includes('code=~') ? 'failures' : 'requests';
      const answer = answers[which] ?? [];
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
}

/** Cumulative le buckets as Prometheus returns them for `sum by (le)`, from per-bucket counts. */
function cumulativeBuckets(perBucket: readonly number[]): PromSample[] {
  let running = 0;
  const samples = PROMETHEUS_BOUNDS_S.map((bound, i) => {
    running += perBucket[i] ?? 0;
    return { labels: { le: String(bound) }, value: running };
  });
  running += perBucket[PROMETHEUS_BOUNDS_S.length] ?? 0;
  // Prometheus does not promise an order; the source must sort by le itself.
  return [{ labels: { le: '+Inf' }, value: running }, ...samples.reverse()];
}

describe('windowQueries', () => {
  it('selects service, slot and role, excludes client aborts from requests and counts 5xx plus upstream failures', () => {
    const q = windowQueries('shop', 'green', 'canary', 60_000);
    const requests = 'shiftproxy_requests_total{service="shop",slot="green",role="canary",code!="499"}';
    const failures = 'shiftproxy_requests_total{service="shop",slot="green",role="canary",code=~"5..|none"}';
    expect(q.requests).toBe(`sum((increase(${requests}[60s]) and ${requests} offset 60s) or (${requests} unless ${requests} offset 60s))`);
    expect(q.failures).toBe(`sum((increase(${failures}[60s]) and ${failures} offset 60s) or (${failures} unless ${failures} offset 60s))`);
    expect(q.latency).toBe('sum by (le) (increase(shiftproxy_request_duration_seconds_bucket{service="shop",slot="green",role="canary"}[60s]))');
    expect(q.coverage).toBe('time() - min(min_over_time(timestamp(shiftproxy_request_duration_seconds_count{service="shop",slot="green",role="canary"})[61s:1s]))');
  });

  it('escapes the service name and writes sub-second windows in ms; the coverage resolution grows with long windows', () => {
    const q = windowQueries('a"b\\c', 'blue', 'stable', 1500);
    expect(q.latency).toBe('sum by (le) (increase(shiftproxy_request_duration_seconds_bucket{service="a\\"b\\\\c",slot="blue",role="stable"}[1500ms]))');
    expect(windowQueries('s', 'blue', 'stable', 3_600_000).coverage).toMatch(/\[3618s:18s\]\)\)$/);
  });
});

describe('PrometheusMetricsSource.windowStats', () => {
  it('turns the answers into WindowStats with per-bucket (non-cumulative) latency counts', async () => {
    const perBucket = [0, 0, 4, 10, 3, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2];
    const source = new PrometheusMetricsSource(
      stubSource({
        requests: [{ labels: {}, value: 20 }],
        failures: [{ labels: {}, value: 3 }],
        latency: cumulativeBuckets(perBucket),
        coverage: [{ labels: {}, value: 61.2 }],
      }),
    );
    const stats = await source.windowStats('shop', 'green', 'canary', 60_000);
    expect(stats).toEqual({ requests: 20, failures: 3, latency: { bounds: [...PROMETHEUS_BOUNDS_S], counts: perBucket }, windowMs: 60_000 });
  });

  it('reports the shorter window actually covered while history is short', async () => {
    const source = new PrometheusMetricsSource(stubSource({ latency: cumulativeBuckets([]), coverage: [{ labels: {}, value: 12.5 }] }));
    const stats = await source.windowStats('shop', 'green', 'canary', 60_000);
    expect(stats.windowMs).toBe(12_500);
  });

  it('no requests series at all (nothing counted yet) is zero requests, not an error, while the histogram is there', async () => {
    const source = new PrometheusMetricsSource(stubSource({ latency: cumulativeBuckets([]), coverage: [{ labels: {}, value: 60 }] }));
    const stats = await source.windowStats('shop', 'green', 'canary', 60_000);
    expect([stats.requests, stats.failures, stats.latency.counts.reduce((a, b) => a + b, 0)]).toEqual([0, 0, 0]);
  });

  it('no histogram series means Prometheus lacks shiftproxy\'s metrics: no-data, never zero traffic', async () => {
    const source = new PrometheusMetricsSource(stubSource({ requests: [{ labels: {}, value: 5 }] }));
    const err = await source.windowStats('shop', 'green', 'canary', 30_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeasurementError);
    expect((err as MeasurementError).kind).toBe('no-data');
    expect((err as MeasurementError).message).toBe(
      'no data for shiftproxy_request_duration_seconds_bucket{service="shop",slot="green",role="canary"} over 30s (is Prometheus scraping shiftproxy\'s /metrics? the window must span two scrapes or more)',
    );
  });

  it('extrapolation noise never makes a bucket negative', async () => {
    const latency = cumulativeBuckets([1, 2, 3]);
    const skewed = latency.map((s) => (s.labels.le === '0.0025' ? { ...s, value: s.value + 4 } : s));
    const source = new PrometheusMetricsSource(stubSource({ latency: skewed, coverage: [{ labels: {}, value: 60 }] }));
    const { counts } = (await source.windowStats('s', 'blue', 'stable', 60_000)).latency;
    expect(counts.every((c) => c >= 0)).toBe(true);
    expect(counts.slice(0, 4)).toEqual([1, 6, 0, 0]);
  });

  it('passes a provider error on, the same one whichever query failed first', async () => {
    const down = new MeasurementError('provider-error', 'Prometheus at http://x unreachable: connection refused');
    const source = new PrometheusMetricsSource(stubSource({ latency: down, coverage: down, requests: new MeasurementError('provider-error', 'other'), failures: down }));
    await expect(source.windowStats('s', 'blue', 'stable', 60_000)).rejects.toBe(down);
  });

  it('asks the four queries concurrently', async () => {
    let inFlight = 0;
    let peak = 0;
    const source = new PrometheusMetricsSource({
      async vector(query) {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 10));
        inFlight -= 1;
        if (query.startsWith('sum by (le)')) return cumulativeBuckets([]);
        return [{ labels: {}, value: 1 }];
      },
    });
    await source.windowStats('s', 'blue', 'stable', 60_000);
    expect(peak).toBe(4);
  });
});

import type { Role, SlotName } from '../core/types.js';
import type { CountedSide, CountsMark, Increments, MetricsSource } from './metrics-source.js';
import type { PromSample } from './prometheus-answer.js';
import { promDuration, selector, type LabelMatcher } from './promql.js';
import { MeasurementError, type LatencySample, type WindowStats } from './window-stats.js';

/** The part of PrometheusClient this source needs: every series of an instant query. */
export interface PromqlVectorSource {
  /** `atSeconds`: evaluate at that Unix time instead of now. */
  vector(query: string, atSeconds?: number): Promise<readonly PromSample[]>;
}

const REQUESTS = 'shiftproxy_requests_total';
/** Prometheus keeps its own time, the same for every process that asks, so one name serves every mark. */
const PROMETHEUS_MARK = 'prometheus';
const DURATION_BUCKET = 'shiftproxy_request_duration_seconds_bucket';
const DURATION_COUNT = 'shiftproxy_request_duration_seconds_count';

/** The four instant queries behind one window; exported so their text can be read and tested. */
export interface WindowQueries {
  requests: string;
  failures: string;
  latency: string;
  coverage: string;
}

/**
 * PromQL over shiftproxy's own exported metrics for one service, slot and role.
 *
 * Counts use `increase()` for series that already existed when the window opened, and the
 * current value for series born inside it. shiftproxy exports a status code's series only once
 * it is non-zero, so a canary's first 500s arrive as a new series whose first sample already
 * holds them; `increase()` alone starts from that sample and would miss them (all of them,
 * when the series has a single sample yet).
 *
 * The latency histogram's series exist from the start (zeros included), so `increase()` is
 * exact up to Prometheus's extrapolation to the window's edges, which scales every bucket alike.
 *
 * `coverage` is how far back the samples go, so a window longer than the history is reported
 * as the shorter window it really is (resolution: 1/200 of the window, at least 1 s).
 */
export function windowQueries(service: string, slot: SlotName, role: Role, windowMs: number): WindowQueries {
  const range = promDuration(windowMs);
  const step = Math.max(1000, Math.ceil(windowMs / 200));
  // One step more than the window, so a sample at or just before the window's start is seen
  // (a subquery's first step falls after the start, and looks back only from there).
  const lookBack = `${promDuration(windowMs + step)}:${promDuration(step)}`;
  const base: LabelMatcher[] = [
    ['service', '=', service],
    ['slot', '=', slot],
    ['role', '=', role],
  ];
  const counted = (series: string) => `sum((increase(${series}[${range}]) and ${series} offset ${range}) or (${series} unless ${series} offset ${range}))`;
  return {
    requests: counted(selector(REQUESTS, [...base, ['code', '!=', '499']])),
    failures: counted(selector(REQUESTS, [...base, ['code', '=~', '5..|none']])),
    latency: `sum by (le) (increase(${selector(DURATION_BUCKET, base)}[${range}]))`,
    coverage: `time() - min(min_over_time(timestamp(${selector(DURATION_COUNT, base)})[${lookBack}]))`,
  };
}

/**
 * Builtin alarm metrics read from Prometheus. The window must span at least two scrapes of
 * shiftproxy's /metrics (better four, so one missed scrape does not empty it): `increase()`
 * needs two samples, and with fewer the window answers no-data.
 */
export class PrometheusMetricsSource implements MetricsSource {
  private readonly prometheus: PromqlVectorSource;

  constructor(prometheus: PromqlVectorSource) {
    this.prometheus = prometheus;
  }

  /** A past window (`endedAgoMs`) is the same queries evaluated at its end, which Prometheus keeps far longer than any window. */
  async windowStats(service: string, slot: SlotName, role: Role, windowMs: number, endedAgoMs = 0): Promise<WindowStats> {
    return this.measure(service, slot, role, windowMs, endedAgoMs > 0 ? (Date.now() - endedAgoMs) / 1000 : undefined);
  }

  /**
   * Increments are the same queries over the range from the last mark, all evaluated at one
   * instant, so consecutive ranges meet exactly (each `increase()` extrapolates to its own
   * edges, so their sum is as exact as one longer window would be). A range under a second
   * waits for the next check.
   */
  async increments(service: string, sides: readonly CountedSide[], since: CountsMark | null, firstWindowMs: number): Promise<Increments> {
    const to = Date.now();
    const from = since !== null && since.source === PROMETHEUS_MARK ? since.at : to - firstWindowMs;
    if (to - from < 1000) {
      const empty: WindowStats = { requests: 0, failures: 0, latency: { bounds: [1], counts: [0, 0] }, windowMs: 0 };
      return { stats: sides.map(() => empty), mark: since ?? { source: PROMETHEUS_MARK, at: from } };
    }
    const stats = await Promise.all(sides.map(({ slot, role }) => this.measure(service, slot, role, to - from, to / 1000)));
    return { stats, mark: { source: PROMETHEUS_MARK, at: to } };
  }

  private async measure(service: string, slot: SlotName, role: Role, windowMs: number, at: number | undefined): Promise<WindowStats> {
    const queries = windowQueries(service, slot, role, windowMs);
    const answers = await Promise.allSettled([
      this.prometheus.vector(queries.latency, at),
      this.prometheus.vector(queries.coverage, at),
      this.prometheus.vector(queries.requests, at),
      this.prometheus.vector(queries.failures, at),
    ]);
    // The same order every time, so one outage yields one message, not whichever query lost the race.
    const failed = answers.find((a): a is PromiseRejectedResult => a.status === 'rejected');
    if (failed) throw failed.reason;
    const [latencySeries, coverageSeries, requestSeries, failureSeries] = answers.map((a) => (a as PromiseFulfilledResult<readonly PromSample[]>).value) as [
      readonly PromSample[],
      readonly PromSample[],
      readonly PromSample[],
      readonly PromSample[],
    ];

    // The histogram is exported for every service, slot and role even at zero traffic: its
    // absence means Prometheus does not have shiftproxy's metrics, not that traffic was zero.
    const covered = coverageSeries[0]?.value;
    if (latencySeries.length === 0 || covered === undefined || !Number.isFinite(covered)) {
      throw new MeasurementError(
        'no-data',
        `no data for ${selector(DURATION_BUCKET, [['service', '=', service], ['slot', '=', slot], ['role', '=', role]])} over ${promDuration(windowMs)} (is Prometheus scraping shiftproxy's /metrics? the window must span two scrapes or more)`,
      );
    }
    return {
      requests: countOf(requestSeries),
      failures: countOf(failureSeries),
      latency: bucketsOf(latencySeries),
      windowMs: Math.min(windowMs, Math.max(0, Math.round(covered * 1000))),
    };
  }
}

/** `sum()` of nothing is an empty vector: no series means nothing was counted. */
function countOf(series: readonly PromSample[]): number {
  const value = series[0]?.value ?? 0;
  if (!Number.isFinite(value)) throw new MeasurementError('no-data', `Prometheus computed a count of ${value}`);
  return Math.max(0, value);
}

/** Cumulative `le` buckets to per-bucket counts: `counts[i]` in (bounds[i-1], bounds[i]], the last above every bound. */
function bucketsOf(series: readonly PromSample[]): LatencySample {
  const byBound = new Map<number, number>();
  for (const sample of series) {
    const le = sample.labels.le;
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    if (le === undefined || Number.isNaN(bound)) throw new MeasurementError('provider-error', `Prometheus returned a latency bucket without a usable le label (${String(le)})`);
    if (!Number.isFinite(sample.value)) throw new MeasurementError('no-data', `Prometheus computed a latency bucket of ${sample.value}`);
    byBound.set(bound, sample.value);
  }
  const total = byBound.get(Number.POSITIVE_INFINITY);
  if (total === undefined) throw new MeasurementError('provider-error', 'Prometheus returned latency buckets without le="+Inf"');
  const bounds = [...byBound.keys()].filter((b) => Number.isFinite(b)).sort((a, b) => a - b);
  const counts: number[] = [];
  let below = 0;
  for (const bound of bounds) {
    const cumulative = byBound.get(bound) as number;
    // Extrapolation is per series; a bucket must never come out negative.
    counts.push(Math.max(0, cumulative - below));
    below = Math.max(below, cumulative);
  }
  counts.push(Math.max(0, total - below));
  return { bounds, counts };
}

/**
 * A latency distribution as bucket counts: `counts[i]` observations fell at or below
 * `bounds[i]` (and above `bounds[i-1]`), `counts[bounds.length]` above the last bound. The
 * builtin provider uses the data plane's fine log buckets; the Prometheus provider the
 * exported histogram's `le` buckets.
 */
export interface LatencySample {
  readonly bounds: readonly number[];
  readonly counts: readonly number[];
}

/** One role's traffic over a window, as the alarms and the judge read it. */
export interface WindowStats {
  /** Requests with an outcome (client aborts excluded). */
  requests: number;
  /** 5xx answers, upstream failures and 503s for no available target. */
  failures: number;
  latency: LatencySample;
  /** The window actually covered (shorter than asked while history is still short). */
  windowMs: number;
}

/** The reason a metric could not be measured: it makes a check inconclusive, never a pass. */
export class MeasurementError extends Error {
  readonly kind: 'no-data' | 'provider-error' | 'bad-query';
  /** A PromQL answer with no series at all, which an alarm with `onEmpty: zero` reads as 0. */
  readonly emptyAnswer: boolean;
  constructor(kind: 'no-data' | 'provider-error' | 'bad-query', message: string, options: { emptyAnswer?: boolean } = {}) {
    super(message);
    this.name = 'MeasurementError';
    this.kind = kind;
    this.emptyAnswer = options.emptyAnswer === true;
  }
}

import { LatencyHistogram } from './latency-histogram.js';

/**
 * What the data plane counts for one service, slot and role: plain numbers bumped on the hot
 * path, read by /metrics at scrape time and sampled by the builtin analysis provider. All
 * values are cumulative since the process started.
 */
export class TrafficCounters {
  /** Responses by upstream status code (index = status). */
  readonly byStatus = new Float64Array(600);
  /** Requests that got no upstream answer (connect failure, timeout, reset): code="none". */
  upstreamFailures = 0;
  /** Requests the proxy answered 503 itself because no target was available. */
  unavailable = 0;
  /** Clients that went away before their response began: code="499". */
  clientAborts = 0;
  /** Requests with an outcome other than a client abort. */
  responses = 0;
  /** Responses that count against error_rate: 5xx, upstream failures and 503 for no target. */
  failures = 0;
  readonly latency = new LatencyHistogram();
}

/** Counters of one upstream target; the failure kinds are the `kind` label of upstream errors. */
export class TargetCounters {
  requests = 0;
  /** Answers with a 5xx status from this target (failures without an answer are the kinds below). */
  errors = 0;
  active = 0;
  connect = 0;
  timeout = 0;
  reset = 0;
  refused = 0;
  protocol = 0;
}

export type UpstreamFailureKind = 'connect' | 'timeout' | 'reset' | 'refused' | 'protocol';
export const UPSTREAM_FAILURE_KINDS: readonly UpstreamFailureKind[] = ['connect', 'timeout', 'reset', 'refused', 'protocol'];

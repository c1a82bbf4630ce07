import type { Registry } from 'prom-client';
import { PROMETHEUS_BOUND_INDEX, PROMETHEUS_BOUNDS_S, type LatencyHistogram } from '../core/latency-histogram.js';
import { MIRROR_RESULTS } from '../core/mirror-counters.js';
import { UPSTREAM_FAILURE_KINDS, type TrafficCounters } from '../core/traffic-counters.js';
import { SLOT_NAMES, type Role } from '../core/types.js';
import type { DataPlane } from '../proxy/data-plane.js';
import type { Target } from '../proxy/target.js';
import { ScrapeMetric, type Sample } from './scrape-metric.js';

const ROLES: readonly Role[] = ['stable', 'canary'];

/** Registers the data plane's metrics (requests, durations, upstream errors, weights, target health). */
export function registerDataPlaneMetrics(registry: Registry, dataPlane: DataPlane): void {
  new ScrapeMetric('shiftproxy_requests_total', 'Requests by service, slot, role and code: the upstream\'s HTTP status, the proxy\'s own when it answered (503: no available target; 499: the client left first), or "none" when no upstream answered (the client got 502 or 504; shiftproxy_upstream_errors_total has the kind).', 'counter', () =>
    eachCounters(dataPlane, (labels, counters) => requestSamples(labels, counters)),
  ).registerIn(registry);

  new ScrapeMetric('shiftproxy_request_duration_seconds', 'Time from request arrival to the end of the upstream response.', 'histogram', () =>
    eachCounters(dataPlane, (labels, counters) => histogramSamples('shiftproxy_request_duration_seconds', labels, counters.latency)),
  ).registerIn(registry);

  new ScrapeMetric('shiftproxy_upstream_errors_total', 'Upstream failures by target and kind (connect, timeout, reset, refused, protocol).', 'counter', () =>
    eachTarget(dataPlane, (labels, target) => UPSTREAM_FAILURE_KINDS.map((kind) => ({ labels: { ...labels, kind }, value: target.counters[kind] }))),
  ).registerIn(registry);

  // Per target, so that one target answering 5xx among healthy ones shows: the slot's rates average it away.
  new ScrapeMetric('shiftproxy_target_requests_total', 'Requests sent to each target, one per attempt (a retry counts again on the target it went to).', 'counter', () =>
    eachTarget(dataPlane, (labels, target) => [{ labels, value: target.counters.requests }]),
  ).registerIn(registry);

  new ScrapeMetric('shiftproxy_target_server_errors_total', 'Answers with a 5xx status from each target (failures with no answer are in shiftproxy_upstream_errors_total).', 'counter', () =>
    eachTarget(dataPlane, (labels, target) => [{ labels, value: target.counters.errors }]),
  ).registerIn(registry);

  new ScrapeMetric('shiftproxy_route_rule_requests_total', 'Requests a routing rule decided, by service and rule (its name, or its index in routes).', 'counter', () =>
    dataPlane.runtimesList().flatMap((runtime) => runtime.rules.rules.map((rule) => ({ labels: { service: runtime.name, rule: rule.name }, value: runtime.ruleHits[rule.index] as number }))),
  ).registerIn(registry);

  new ScrapeMetric(
    'shiftproxy_mirror_requests_total',
    "Mirrored copies by service and result: match, mismatch (status, a compared header or the body differed), error (the copy got no answer, or a 5xx where the live answer was not), dropped (not sent: the copies in flight were at their bound).",
    'counter',
    () =>
      dataPlane
        .runtimesList()
        .filter((runtime) => runtime.mirror !== null)
        .flatMap((runtime) => MIRROR_RESULTS.map((result) => ({ labels: { service: runtime.name, result }, value: runtime.mirrorCounters[result] }))),
  ).registerIn(registry);

  new ScrapeMetric('shiftproxy_canary_weight', 'Percent (0 to 100, not a 0-1 ratio) of the service traffic sent to the non-live slot.', 'gauge', () =>
    dataPlane.snapshot.routes.map((route) => ({ labels: { service: route.name }, value: route.canaryWeight })),
  ).registerIn(registry);

  new ScrapeMetric('shiftproxy_target_healthy', '1 when the target takes traffic, 0 when a health check or outlier detection took it out.', 'gauge', () =>
    eachTarget(dataPlane, (labels, target) => [{ labels, value: target.flags === 0 ? 1 : 0 }]),
  ).registerIn(registry);

  new ScrapeMetric('shiftproxy_listener_errors_total', 'Errors a proxy listener reported while accepting (descriptors exhausted, say); it keeps accepting.', 'counter', () => [
    { labels: {}, value: dataPlane.server.listenerErrors },
  ]).registerIn(registry);

  new ScrapeMetric('shiftproxy_target_active_requests', 'Requests in flight to each target.', 'gauge', () =>
    eachTarget(dataPlane, (labels, target) => [{ labels, value: target.counters.active }]),
  ).registerIn(registry);
}

/** Samples for every target of every service, each labelled with its service, slot and URL. */
function eachTarget(dataPlane: DataPlane, sample: (labels: Record<string, string>, target: Target) => Sample[]): Sample[] {
  const out: Sample[] = [];
  for (const runtime of dataPlane.runtimesList()) {
    for (const target of runtime.allTargets()) out.push(...sample({ service: runtime.name, slot: target.slot, target: target.url }, target));
  }
  return out;
}

function eachCounters(dataPlane: DataPlane, sample: (labels: Record<string, string>, counters: TrafficCounters) => Sample[]): Sample[] {
  const out: Sample[] = [];
  for (const runtime of dataPlane.runtimesList()) {
    for (const slot of SLOT_NAMES) {
      for (const role of ROLES) {
        out.push(...sample({ service: runtime.name, slot, role }, runtime.counters[slot][role]));
      }
    }
  }
  return out;
}

function requestSamples(labels: Record<string, string>, counters: TrafficCounters): Sample[] {
  const samples: Sample[] = [];
  const byStatus = counters.byStatus;
  for (let status = 100; status < byStatus.length; status++) {
    let value = byStatus[status] as number;
    // The proxy's own 503 (no available target) and client aborts share the code label with upstream answers.
    if (status === 503) value += counters.unavailable;
    if (status === 499) value += counters.clientAborts;
    if (value > 0) samples.push({ labels: { ...labels, code: String(status) }, value });
  }
  if (counters.upstreamFailures > 0) samples.push({ labels: { ...labels, code: 'none' }, value: counters.upstreamFailures });
  return samples;
}

function histogramSamples(name: string, labels: Record<string, string>, histogram: LatencyHistogram): Sample[] {
  const samples: Sample[] = [];
  const counts = histogram.counts;
  let cumulative = 0;
  let fineIndex = 0;
  PROMETHEUS_BOUNDS_S.forEach((bound, i) => {
    const upTo = PROMETHEUS_BOUND_INDEX[i] as number;
    for (; fineIndex <= upTo; fineIndex++) cumulative += counts[fineIndex] as number;
    samples.push({ metricName: `${name}_bucket`, labels: { ...labels, le: bound }, value: cumulative });
  });
  samples.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: histogram.count });
  samples.push({ metricName: `${name}_sum`, labels, value: histogram.sum });
  samples.push({ metricName: `${name}_count`, labels, value: histogram.count });
  return samples;
}

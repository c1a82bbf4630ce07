import type { Registry } from 'prom-client';
import type { EtcdFleet } from '../fleet/etcd-fleet.js';
import { ScrapeMetric } from './scrape-metric.js';

/** The fleet's gauges: leadership, degradation, applied revision, live instances, fenced writes. */
export function registerFleetMetrics(registry: Registry, fleet: EtcdFleet): void {
  new ScrapeMetric('shiftproxy_fleet_leader', '1 while this instance leads the fleet (runs rollouts and analysis), else 0.', 'gauge', () => [
    { labels: {}, value: fleet.isLeader() ? 1 : 0 },
  ]).registerIn(registry);
  new ScrapeMetric('shiftproxy_fleet_degraded', '1 while this instance cannot reach etcd: it routes on the last state it applied and refuses commands.', 'gauge', () => [
    { labels: {}, value: fleet.degraded ? 1 : 0 },
  ]).registerIn(registry);
  new ScrapeMetric('shiftproxy_fleet_applied_revision', 'The newest etcd revision whose rollout state this instance has applied.', 'gauge', () => [
    { labels: {}, value: fleet.view().etcd.appliedRevision },
  ]).registerIn(registry);
  new ScrapeMetric('shiftproxy_fleet_instances', 'Instances of the fleet with a live record in etcd, this one included.', 'gauge', () => [
    { labels: {}, value: fleet.liveInstances() },
  ]).registerIn(registry);
  new ScrapeMetric('shiftproxy_fleet_fenced_writes_total', 'State writes etcd refused because this instance no longer held the leadership they compared on.', 'counter', () => [
    { labels: {}, value: fleet.fencedWrites },
  ]).registerIn(registry);
}

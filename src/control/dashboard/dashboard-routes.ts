import type { RecentTraffic } from '../../analysis/builtin-windows.js';
import type { AlarmConfig } from '../../core/config-types.js';
import type { Logger } from '../../core/logger.js';
import type { DataPlane } from '../../proxy/data-plane.js';
import type { RolloutController } from '../../rollout/rollout-controller.js';
import { viewRollout } from '../../rollout/rollout-view.js';
import { NotFoundError } from '../../core/errors.js';
import type { AdminRouter } from '../admin-router.js';
import { describeService } from '../service-view.js';
import { readDashboardAsset, type DashboardAsset } from './dashboard-asset.js';
import { buildDashboardPage, type DashboardPage } from './dashboard-page.js';
import { DashboardFeed, type DashboardFeedOptions } from './dashboard-feed.js';
import type { DashboardSources } from './dashboard-snapshot.js';
import type { FleetView } from '../../fleet/etcd-fleet.js';

export interface DashboardDeps {
  dataPlane: DataPlane;
  controller: RolloutController;
  /** Per-service health detail (the health registry's view); the data plane's flags otherwise. */
  health?: (service: string) => unknown;
  logger: Logger;
  feed?: Omit<DashboardFeedOptions, 'logger'>;
  /** The fleet this instance belongs to (`state.store: etcd`), shown above the services. */
  fleet?: () => FleetView;
  /** The service's alarms as configured now (bounds drawn on the charts). */
  alarms?: (service: string) => readonly AlarmConfig[];
  /** Recent per-slot rates from the builtin rings (times on the controller's monotonic clock). */
  recentTraffic?: (service: string, windowMs: number) => RecentTraffic;
}

/**
 * `GET /` (the page, open: it holds no data) and `GET /api/v1/events` (the live feed, behind
 * the admin token like the rest of /api/). Returns the feed so shutdown can end its streams.
 */
export function registerDashboardRoutes(router: AdminRouter, deps: DashboardDeps): DashboardFeed {
  const { dataPlane, controller } = deps;
  const sources: DashboardSources = {
    serviceNames: () => dataPlane.serviceNames(),
    describe: (service) => describeService(dataPlane, service, deps.health ? { health: deps.health } : {}),
    rollout: (service) => {
      const record = controller.get(service);
      return record ? viewRollout(record, controller.nextStepAt(service), controller.notDurableReason(service)) : null;
    },
    ...(deps.alarms ? { alarms: deps.alarms } : {}),
    ...(deps.recentTraffic
      ? {
          recentTraffic: (service: string, windowMs: number) => {
            const recent = (deps.recentTraffic as NonNullable<DashboardDeps['recentTraffic']>)(service, windowMs);
            // Monotonic sample times to wall-clock ms, through the controller's clock.
            const wallNow = controller.now();
            const monoNow = controller.monotonicNow();
            return { at: recent.at.map((t) => wallNow - (monoNow - t)), slots: recent.slots };
          },
        }
      : {}),
    nextStepInMs: (service) => {
      const at = controller.nextStepAt(service);
      return at === null ? null : Math.max(0, at - controller.now());
    },
    ...(deps.fleet ? { fleet: deps.fleet } : {}),
  };
  const feed = new DashboardFeed(
    sources,
    (service) => {
      const counters = dataPlane.runtime(service).counters;
      return { blue: [counters.blue.stable, counters.blue.canary], green: [counters.green.stable, counters.green.canary] };
    },
    {
      logger: deps.logger,
      targets: (service) =>
        dataPlane.runtime(service).allTargets().map((t) => {
          const c = t.counters;
          return { url: t.url, requests: c.requests, failures: c.errors + c.connect + c.timeout + c.reset + c.refused + c.protocol };
        }),
      ...deps.feed,
    },
  );
  controller.onTransition((service) => feed.rolloutChanged(service));

  // Read and built on first request and kept: the same bytes for every visitor.
  let asset: DashboardAsset | null = null;
  let page: DashboardPage | null = null;
  router.add('GET', '/', () => {
    asset ??= readDashboardAsset();
    page ??= buildDashboardPage(asset);
    return { status: 200, text: page.html, contentType: 'text/html; charset=utf-8', headers: page.headers };
  });
  // The script under its content hash: a new build is a new URL, so browsers may keep this one for good.
  router.add('GET', '/assets/:file', ({ params }) => {
    asset ??= readDashboardAsset();
    if (`/assets/${params.file}` !== asset.path) throw new NotFoundError(`no such asset: ${params.file}`);
    return {
      status: 200,
      text: asset.body,
      contentType: 'text/javascript; charset=utf-8',
      headers: { 'cache-control': 'public, max-age=31536000, immutable', 'x-content-type-options': 'nosniff', 'cross-origin-resource-policy': 'same-origin' },
    };
  });
  router.add('GET', '/api/v1/events', () => ({ stream: (res) => feed.attach(res) }));
  return feed;
}

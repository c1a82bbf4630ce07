import type { Registry } from 'prom-client';
import { NotFoundError } from '../core/errors.js';
import type { DataPlane } from '../proxy/data-plane.js';
import type { AdminRouter } from './admin-router.js';
import { describeService, type ServiceViewContributors } from './service-view.js';

export interface CoreRouteDeps {
  dataPlane: DataPlane;
  registry: Registry;
  isDraining: () => boolean;
  contributors?: ServiceViewContributors;
  /** Brings the counters up to date first (workers report theirs on request). */
  beforeScrape?: () => Promise<void>;
}

/** /healthz, /metrics and the read-only service endpoints. */
export function registerCoreRoutes(router: AdminRouter, deps: CoreRouteDeps): void {
  router.add('GET', '/healthz', () =>
    deps.isDraining() ? { status: 503, text: 'draining\n' } : { status: 200, text: 'ok\n' },
  );
  router.add('GET', '/metrics', async () => {
    await deps.beforeScrape?.();
    return { status: 200, text: await deps.registry.metrics(), contentType: deps.registry.contentType };
  });
  // Who the caller's token names, so the dashboard can say who is signed in and offer only what the role allows.
  router.add('GET', '/api/v1/whoami', ({ principal }) => ({ status: 200, json: { name: principal.name, role: principal.role } }));
  router.add('GET', '/api/v1/services', () => ({
    status: 200,
    json: deps.dataPlane.serviceNames().map((name) => describeService(deps.dataPlane, name, deps.contributors)),
  }));
  router.add('GET', '/api/v1/services/:name', ({ params }) => {
    const name = params.name as string;
    if (!deps.dataPlane.serviceNames().includes(name)) throw new NotFoundError(`unknown service "${name}"`);
    return { status: 200, json: describeService(deps.dataPlane, name, deps.contributors) };
  });
}

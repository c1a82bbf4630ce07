import type { FleetView } from '../fleet/etcd-fleet.js';
import type { AdminRouter } from './admin-router.js';

/** GET /api/v1/fleet: the instances sharing this rollout state, and this one's standing (404 without a fleet). */
export function registerFleetRoutes(router: AdminRouter, view: () => FleetView): void {
  router.add('GET', '/api/v1/fleet', () => ({ status: 200, json: view() }));
}

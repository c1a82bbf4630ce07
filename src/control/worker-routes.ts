import type { Fleet } from '../cluster/fleet.js';
import type { AdminRouter } from './admin-router.js';

/** GET /api/v1/workers: each data-plane process, with its counts brought up to date first. */
export function registerWorkerRoutes(router: AdminRouter, fleet: Fleet): void {
  router.add('GET', '/api/v1/workers', async () => {
    await fleet.sync();
    return { status: 200, json: fleet.list() };
  });
}

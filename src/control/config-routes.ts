import type { ConfigView, ReloadResult } from '../reload/config-reloader.js';
import type { AdminRouter } from './admin-router.js';

export interface ConfigRouteDeps {
  /** The reloader's view, and the certificates each TLS listener serves (`tls`). */
  view(): Partial<ConfigView> & { tls?: unknown };
  /** Settles once the processes that serve have the result; absent when the proxy was started without a file. */
  reload?: (trigger: string) => Promise<ReloadResult>;
}

/**
 * GET /api/v1/config (which file, when it was loaded, how the last reload went) and
 * POST /api/v1/config/reload (the same reload as SIGHUP: 200 applied, 400 invalid file,
 * 409 needs a restart; the running config is kept unless it is 200).
 */
export function registerConfigRoutes(router: AdminRouter, deps: ConfigRouteDeps): void {
  router.add('GET', '/api/v1/config', () => ({ status: 200, json: deps.view() }));
  const reload = deps.reload;
  if (!reload) return;
  router.add('POST', '/api/v1/config/reload', async () => {
    const result = await reload('api');
    return { status: result.ok ? 200 : result.reason === 'restart' ? 409 : 400, json: result };
  });
}

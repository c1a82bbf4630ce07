import { hostPortIndex } from './host-matcher.js';
import type { ServiceRoute } from './service-route.js';

/**
 * The whole routing table at one instant. The data plane reads the current snapshot once per
 * request; the control plane replaces it with one assignment, so a request never sees half an
 * update and in-flight requests finish on the snapshot they started with.
 */
export class RoutingSnapshot {
  readonly routes: readonly ServiceRoute[];
  private readonly byName: ReadonlyMap<string, ServiceRoute>;
  private readonly anyHostRules: boolean;

  constructor(routes: readonly ServiceRoute[]) {
    this.routes = routes;
    this.byName = new Map(routes.map((route) => [route.name, route]));
    this.anyHostRules = routes.some((route) => route.host !== null);
  }

  /** First service whose host and path prefix match, in config order. */
  match(host: string, url: string): ServiceRoute | null {
    const routes = this.routes;
    const portStart = this.anyHostRules ? hostPortIndex(host) : -1;
    for (let i = 0; i < routes.length; i++) {
      const route = routes[i] as ServiceRoute;
      if (route.host !== null && !route.host.matchesAt(host, portStart)) continue;
      if (!route.matchesPath(url)) continue;
      return route;
    }
    return null;
  }

  get(name: string): ServiceRoute | undefined {
    return this.byName.get(name);
  }

  replace(route: ServiceRoute): RoutingSnapshot {
    return new RoutingSnapshot(this.routes.map((existing) => (existing.name === route.name ? route : existing)));
  }
}

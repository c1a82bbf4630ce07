import type { DataPlane } from '../proxy/data-plane.js';
import type { RoutingPort } from '../rollout/ports.js';
import type { Fleet } from './fleet.js';

/**
 * The controller's routing port: a change is made on the primary's data plane, then published,
 * and the promise settles once every process that routes applied it.
 */
export function fleetRouting(dataPlane: DataPlane, fleet: Fleet): RoutingPort {
  return {
    routing: (service) => dataPlane.routing(service),
    setRouting: (service, state) => {
      dataPlane.setRouting(service, state);
      return fleet.publish();
    },
    replaceTargets: (service, slot, targets) => {
      dataPlane.replaceTargets(service, slot, targets);
      return fleet.publish();
    },
  };
}

import type { SlotName } from './types.js';

/**
 * Everything about routing that changes while the proxy runs, as plain data: what one process
 * (the one running health checks and rollouts) sends to the others so that they route exactly
 * as it decided. Config-derived parts (matchers, pickers, pools) are rebuilt from the config on
 * the receiving side; only the decisions travel.
 */
export interface DataPlaneState {
  services: ServiceRoutingState[];
}

export interface ServiceRoutingState {
  name: string;
  live: SlotName;
  canaryWeight: number;
  /** A rollout step's mirror percent; absent: the service's own. */
  mirrorPercent?: number;
  /** The slot's targets in order: the configured ones, or a rollout's. */
  blue: TargetRoutingState[];
  green: TargetRoutingState[];
}

export interface TargetRoutingState {
  url: string;
  weight: number;
  /** Health bitmask (see HealthFlag): the target takes traffic only while it is 0. */
  flags: number;
  /** The weight pickers use (below `weight` while slow start ramps the target up). */
  effectiveWeight: number;
}

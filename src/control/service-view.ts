import { SLOT_NAMES, type SlotName } from '../core/types.js';
import type { DataPlane } from '../proxy/data-plane.js';

/** Extra per-service facts other modules contribute to the API (health detail, rollout). */
export interface ServiceViewContributors {
  health?: (service: string) => unknown;
  rollout?: (service: string) => unknown;
  /** In a fleet: who leads, whether this instance is degraded, what it applied. */
  fleet?: () => unknown;
}

export interface ServiceView {
  name: string;
  live: SlotName;
  weights: Record<SlotName, number>;
  health: unknown;
  rollout: unknown;
  fleet?: unknown;
}

export function describeService(dataPlane: DataPlane, name: string, contributors: ServiceViewContributors = {}): ServiceView {
  const { live, canaryWeight } = dataPlane.routing(name);
  const weights = { blue: 0, green: 0 };
  for (const slot of SLOT_NAMES) weights[slot] = slot === live ? round(100 - canaryWeight) : canaryWeight;
  return {
    name,
    live,
    weights,
    health: contributors.health ? contributors.health(name) : basicHealth(dataPlane, name),
    rollout: contributors.rollout ? (contributors.rollout(name) ?? null) : null,
    ...(contributors.fleet ? { fleet: contributors.fleet() } : {}),
  };
}

/** Health as the data plane sees it: which targets take traffic. */
export function basicHealth(dataPlane: DataPlane, name: string) {
  const runtime = dataPlane.runtime(name);
  const slots: Record<string, unknown> = {};
  for (const slot of SLOT_NAMES) {
    const pool = runtime.slot(slot);
    slots[slot] = {
      available: pool.availableCount(),
      total: pool.targets.length,
      targets: pool.targets.map((t) => ({ url: t.url, weight: t.weight, available: t.flags === 0, activeRequests: t.counters.active })),
    };
  }
  return slots;
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

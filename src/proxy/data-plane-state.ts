import type { ServiceConfig, TargetConfig } from '../core/config-types.js';
import type { DataPlaneState, ServiceRoutingState, TargetRoutingState } from '../core/data-plane-state.js';
import { SLOT_NAMES, type SlotName } from '../core/types.js';
import type { DataPlane } from './data-plane.js';
import type { Target } from './target.js';

/** The data plane's routing decisions as plain data (see DataPlaneState). */
export function captureState(dataPlane: DataPlane): DataPlaneState {
  return {
    services: dataPlane.serviceNames().map((name): ServiceRoutingState => {
      const runtime = dataPlane.runtime(name);
      const routing = dataPlane.routing(name);
      return {
        name,
        live: routing.live,
        canaryWeight: routing.canaryWeight,
        ...(routing.mirrorPercent !== undefined ? { mirrorPercent: routing.mirrorPercent } : {}),
        blue: runtime.slot('blue').targets.map(targetState),
        green: runtime.slot('green').targets.map(targetState),
      };
    }),
  };
}

/**
 * Makes `dataPlane` route as `state` says, in one synchronous step (no request runs in
 * between): with `services`, a config reload first; then each slot's target list, the split,
 * and every target's health flags and effective weight. Targets whose URL and weight stay keep
 * their pools and in-flight requests, as with a local reload or rollout.
 */
export function applyState(dataPlane: DataPlane, state: DataPlaneState, services?: readonly ServiceConfig[]): void {
  const byName = new Map(state.services.map((s) => [s.name, s]));
  const listed = (name: string, slot: SlotName): TargetConfig[] | undefined => byName.get(name)?.[slot].map(targetConfig);
  if (services) dataPlane.reconfigure(services, (service, slot) => listed(service.name, slot) ?? service[slot].targets);
  for (const service of state.services) {
    const runtime = dataPlane.runtime(service.name);
    for (const slot of SLOT_NAMES) {
      const wanted = service[slot];
      if (!sameTargets(runtime.slot(slot).targets, wanted)) dataPlane.replaceTargets(service.name, slot, wanted.map(targetConfig));
    }
    dataPlane.setRouting(
      service.name,
      service.mirrorPercent === undefined ? { live: service.live, canaryWeight: service.canaryWeight } : { live: service.live, canaryWeight: service.canaryWeight, mirrorPercent: service.mirrorPercent },
    );
    for (const slot of SLOT_NAMES) {
      const pool = runtime.slot(slot);
      let weightsMoved = false;
      pool.targets.forEach((target, index) => {
        const wanted = service[slot][index] as TargetRoutingState;
        target.flags = wanted.flags;
        if (target.effectiveWeight !== wanted.effectiveWeight) {
          target.effectiveWeight = wanted.effectiveWeight;
          weightsMoved = true;
        }
      });
      if (weightsMoved) pool.weightsChanged();
    }
  }
}

function targetState(target: Target): TargetRoutingState {
  return { url: target.url, weight: target.weight, flags: target.flags, effectiveWeight: target.effectiveWeight };
}

function targetConfig(target: TargetRoutingState): TargetConfig {
  return { url: target.url, weight: target.weight };
}

function sameTargets(current: readonly Target[], wanted: readonly TargetRoutingState[]): boolean {
  if (current.length !== wanted.length) return false;
  for (let i = 0; i < current.length; i++) {
    const a = current[i] as Target;
    const b = wanted[i] as TargetRoutingState;
    if (a.url !== b.url || a.weight !== b.weight) return false;
  }
  return true;
}

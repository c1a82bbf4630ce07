import type { AddressInfo } from 'node:net';
import type { ServiceConfig, ShiftproxyConfig, TargetConfig } from '../core/config-types.js';
import { NotFoundError } from '../core/errors.js';
import { proxyListeners } from '../core/proxy-listeners.js';
import type { ListenerCertificates } from '../core/tls-material.js';
import { sameValue } from '../core/same-value.js';
import type { SlotName } from '../core/types.js';
import { ProxyServer, type DrainResult } from './proxy-server.js';
import { RoutingSnapshot } from './routing-snapshot.js';
import { ServiceRoute, type RoutingState } from './service-route.js';
import { ServiceRuntime } from './service-runtime.js';
import type { Target } from './target.js';

export interface DataPlaneOptions {
  /** Initial routing per service (restored state); services not named start on their configured live slot at 0%. */
  routing?: Readonly<Record<string, RoutingState>>;
  /** Random source for the `random` balancer (tests inject a seeded one). */
  random?: () => number;
  /** The certificates of each TLS listener, checked by whoever read them (the control plane). */
  certificates?: readonly ListenerCertificates[];
}

export type TargetsChangedListener = (service: string, slot: SlotName, added: readonly Target[], removed: readonly Target[]) => void;

/** A config reload replaced a service's runtime; targets in both are the same objects. */
export type RuntimeReplacedListener = (previous: ServiceRuntime, next: ServiceRuntime) => void;

/**
 * The data plane's public face: the current routing snapshot (read once per request by the
 * handlers), the listeners, and the only ways the control plane changes routing. Each change
 * builds a new snapshot and swaps it in with one assignment; the next request sees it, in-flight
 * requests finish where they started.
 */
export class DataPlane {
  snapshot: RoutingSnapshot;
  readonly server: ProxyServer;
  private runtimes: ReadonlyMap<string, ServiceRuntime>;
  private readonly targetListeners: TargetsChangedListener[] = [];
  private readonly runtimeListeners: RuntimeReplacedListener[] = [];
  private readonly random: (() => number) | undefined;

  constructor(config: ShiftproxyConfig, options: DataPlaneOptions = {}) {
    this.random = options.random;
    this.runtimes = new Map(config.services.map((service) => [service.name, new ServiceRuntime(service, options.random)]));
    this.snapshot = new RoutingSnapshot(
      config.services.map((service) => {
        const state = options.routing?.[service.name] ?? { live: service.live, canaryWeight: 0 };
        return new ServiceRoute(this.runtime(service.name), validState(state), config.server.maxBodyBytes);
      }),
    );
    this.server = new ProxyServer(this, config.server);
    proxyListeners(config).forEach((spec, index) => {
      const certificates = options.certificates?.find((c) => c.listener === index)?.certs ?? null;
      if (spec.listener.tls !== undefined && certificates === null) throw new RangeError(`listener ${spec.label} has TLS but no certificates were given`);
      this.server.addListener(spec, certificates);
    });
  }

  listen(): Promise<AddressInfo[]> {
    return this.server.listen();
  }

  serviceNames(): string[] {
    return [...this.runtimes.keys()];
  }

  runtime(service: string): ServiceRuntime {
    const runtime = this.runtimes.get(service);
    if (!runtime) throw new NotFoundError(`unknown service "${service}"`);
    return runtime;
  }

  runtimesList(): ServiceRuntime[] {
    return [...this.runtimes.values()];
  }

  routing(service: string): RoutingState {
    return stateOf(this.route(service));
  }

  /** Sets the share of the non-live slot (0..100); takes effect for the next request. */
  setCanaryWeight(service: string, percent: number): void {
    const route = this.route(service);
    this.setRouting(service, { ...stateOf(route), canaryWeight: percent });
  }

  /** Sets live slot, canary weight and a step's mirror percent together, as one swap (a promotion flips both at once). */
  setRouting(service: string, state: RoutingState): void {
    const route = this.route(service);
    if (route.live === state.live && route.canaryWeight === state.canaryWeight && route.mirrorPercent === state.mirrorPercent) return;
    this.snapshot = this.snapshot.replace(route.withState(validState(state)));
  }

  /** Replaces a slot's targets (e.g. a rollout's `targets`); removed targets close once idle. */
  replaceTargets(service: string, slot: SlotName, targets: readonly TargetConfig[]): void {
    const runtime = this.runtime(service);
    const before = new Set(runtime.slot(slot).targets);
    const removed = runtime.replaceTargets(slot, targets);
    const added = runtime.slot(slot).targets.filter((t) => !before.has(t));
    const route = this.route(service);
    this.snapshot = this.snapshot.replace(route.withState(stateOf(route)));
    for (const listener of this.targetListeners) listener(service, slot, added, removed);
    for (const target of removed) void target.close().catch(() => undefined);
  }

  /**
   * A config reload: each service whose config changed gets a successor runtime (keeping its
   * counters and the targets whose URL, weight and pool settings stayed) and a route with the
   * current routing state; all of them go live in one snapshot swap. Removed targets close once
   * their in-flight requests finish. The service list itself must not change (a restart does that).
   */
  reconfigure(services: readonly ServiceConfig[], slotTargets: (service: ServiceConfig, slot: SlotName) => readonly TargetConfig[]): void {
    const replaced: [ServiceRuntime, ServiceRuntime][] = [];
    const runtimes = new Map(this.runtimes);
    const routes = this.snapshot.routes.map((route) => {
      const config = services.find((s) => s.name === route.name);
      const previous = this.runtime(route.name);
      if (!config) return route;
      const targets = { blue: slotTargets(config, 'blue'), green: slotTargets(config, 'green') };
      if (config === previous.config || (sameValue(config, previous.config) && sameValue(targets.blue, configsOf(previous, 'blue')) && sameValue(targets.green, configsOf(previous, 'green')))) {
        return route;
      }
      const next = new ServiceRuntime(config, this.random, { previous, targets });
      runtimes.set(route.name, next);
      replaced.push([previous, next]);
      return new ServiceRoute(next, stateOf(route), route.maxBodyBytes);
    });
    if (replaced.length === 0) return;
    this.runtimes = runtimes;
    this.snapshot = new RoutingSnapshot(routes);
    for (const [previous, next] of replaced) {
      for (const listener of this.runtimeListeners) listener(previous, next);
      const kept = new Set(next.allTargets());
      for (const target of previous.allTargets()) if (!kept.has(target)) void target.close().catch(() => undefined);
      // Copies in flight finish on the old copier (each bounded by its timeout) and are still counted.
      void previous.mirror?.close().catch(() => undefined);
    }
  }

  onRuntimeReplaced(listener: RuntimeReplacedListener): void {
    this.runtimeListeners.push(listener);
  }

  onTargetsChanged(listener: TargetsChangedListener): void {
    this.targetListeners.push(listener);
  }

  drain(timeoutMs: number): Promise<DrainResult> {
    return this.server.drain(timeoutMs);
  }

  /** Stops the listeners at once and closes every upstream pool. */
  async close(): Promise<void> {
    await this.server.close();
    await Promise.all(this.runtimesList().flatMap((r) => r.allTargets().map((t) => t.destroy().catch(() => undefined))));
    await Promise.all(this.runtimesList().map((r) => r.mirror?.destroy().catch(() => undefined)));
  }

  private route(service: string): ServiceRoute {
    const route = this.snapshot.get(service);
    if (!route) throw new NotFoundError(`unknown service "${service}"`);
    return route;
  }
}

function stateOf(route: ServiceRoute): RoutingState {
  return route.mirrorPercent === undefined ? { live: route.live, canaryWeight: route.canaryWeight } : { live: route.live, canaryWeight: route.canaryWeight, mirrorPercent: route.mirrorPercent };
}

function configsOf(runtime: ServiceRuntime, slot: SlotName): TargetConfig[] {
  return runtime.slot(slot).targets.map((t) => ({ url: t.url, weight: t.weight }));
}

function validState(state: RoutingState): RoutingState {
  if (!Number.isFinite(state.canaryWeight) || state.canaryWeight < 0 || state.canaryWeight > 100) {
    throw new RangeError(`canary weight must be between 0 and 100, got ${state.canaryWeight}`);
  }
  if (state.live !== 'blue' && state.live !== 'green') throw new RangeError(`live slot must be blue or green, got ${String(state.live)}`);
  if (state.mirrorPercent !== undefined && !(state.mirrorPercent >= 0 && state.mirrorPercent <= 100)) {
    throw new RangeError(`mirror percent must be between 0 and 100, got ${state.mirrorPercent}`);
  }
  return state;
}

import type { TrafficCounters } from '../core/traffic-counters.js';
import { otherSlot, type SlotName } from '../core/types.js';
import { HostMatcher } from './host-matcher.js';
import type { ServiceRuntime } from './service-runtime.js';
import type { SlotPool } from './slot-pool.js';
import { percentToBasisPoints, SlotSplit } from './slot-split.js';

/** The routing state a snapshot holds per service; the control plane decides it. */
export interface RoutingState {
  live: SlotName;
  /** Percent of traffic to the non-live slot, 0..100 (decimals allowed). */
  canaryWeight: number;
}

/**
 * One service as routed by one snapshot: everything a request needs, decided when the snapshot
 * is built (matcher, slots by role, counters by role, sticky and header settings). Immutable
 * apart from the split's round-robin position.
 */
export class ServiceRoute {
  readonly runtime: ServiceRuntime;
  readonly name: string;
  readonly live: SlotName;
  readonly canaryWeight: number;
  readonly canaryBasisPoints: number;
  readonly stable: SlotPool;
  readonly canary: SlotPool;
  readonly stableCounters: TrafficCounters;
  readonly canaryCounters: TrafficCounters;
  readonly split: SlotSplit;
  readonly host: HostMatcher | null;
  readonly pathPrefix: string;
  readonly stickyCookie: string | null;
  readonly canaryHeaderName: string | null;
  readonly canaryHeaderValue: string;
  readonly retryAttempts: number;
  readonly maxBodyBytes: number;
  /** The targets speak HTTP/2 (`upstream.http2`). */
  readonly upstreamHttp2: boolean;
  /** Bit n set: gRPC status n counts as a failure (`grpcErrorCodes`); 0 when none does. */
  readonly grpcErrorMask: number;

  constructor(runtime: ServiceRuntime, state: RoutingState, maxBodyBytes: number) {
    const config = runtime.config;
    const canarySlot = otherSlot(state.live);
    this.runtime = runtime;
    this.name = runtime.name;
    this.live = state.live;
    this.canaryWeight = state.canaryWeight;
    this.canaryBasisPoints = percentToBasisPoints(state.canaryWeight);
    this.stable = runtime.slot(state.live);
    this.canary = runtime.slot(canarySlot);
    this.stableCounters = runtime.counters[state.live].stable;
    this.canaryCounters = runtime.counters[canarySlot].canary;
    this.split = new SlotSplit(this.canaryBasisPoints);
    this.host = config.match.host !== undefined ? new HostMatcher(config.match.host) : null;
    this.pathPrefix = config.match.pathPrefix;
    this.stickyCookie = config.sticky?.cookie ?? null;
    this.canaryHeaderName = config.canaryHeader?.name ?? null;
    this.canaryHeaderValue = config.canaryHeader?.value ?? '';
    this.retryAttempts = config.retry.attempts;
    this.maxBodyBytes = maxBodyBytes;
    this.upstreamHttp2 = config.upstream.http2;
    this.grpcErrorMask = config.grpcErrorCodes.reduce((mask, code) => mask | (1 << code), 0);
  }

  withState(state: RoutingState): ServiceRoute {
    return new ServiceRoute(this.runtime, state, this.maxBodyBytes);
  }

  matchesPath(url: string): boolean {
    return this.pathPrefix === '/' || url.startsWith(this.pathPrefix);
  }
}

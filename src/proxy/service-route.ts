import type { TrafficCounters } from '../core/traffic-counters.js';
import { otherSlot, type SlotName } from '../core/types.js';
import { HostMatcher } from './host-matcher.js';
import type { ServiceRuntime } from './service-runtime.js';
import type { SlotPool } from './slot-pool.js';
import type { RouteRules } from './route-rules.js';
import type { MirrorCopier } from './mirror-copier.js';
import { cohortSeed, FULL_WEIGHT_BP, percentToBasisPoints, SlotSplit } from './slot-split.js';

/** The routing state a snapshot holds per service; the control plane decides it. */
export interface RoutingState {
  live: SlotName;
  /** Percent of traffic to the non-live slot, 0..100 (decimals allowed). */
  canaryWeight: number;
  /** Percent of stable's requests copied to the other slot, set by a rollout step; absent: the service's `mirror.percent`. */
  mirrorPercent?: number;
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
  readonly rules: RouteRules;
  /** Lower-cased header or cookie name whose hash picks the slot; null without a cohort. */
  readonly cohortHeader: string | null;
  readonly cohortCookie: string | null;
  readonly cohortSeed: number;
  /** The step's mirror percent when one set it (kept to hand on with the state). */
  readonly mirrorPercent: number | undefined;
  /** Share of stable's requests copied, in basis points; 0 when nothing is copied. */
  readonly mirrorBasisPoints: number;
  /** Where copies go (the mirror's slot, while it is not the live one); null when nothing is copied. */
  readonly mirrorPool: SlotPool | null;
  readonly copier: MirrorCopier | null;
  private mirrorCredit = 0;
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
    this.rules = runtime.rules;
    const cohort = config.cohort;
    this.cohortHeader = cohort && 'header' in cohort ? cohort.header : null;
    this.cohortCookie = cohort && 'cookie' in cohort ? cohort.cookie : null;
    this.cohortSeed = cohortSeed(runtime.name);
    this.mirrorPercent = state.mirrorPercent;
    const mirror = config.mirror;
    const mirrorSlot = mirror === undefined ? null : mirror.to === 'canary' ? canarySlot : mirror.to;
    const copying = runtime.mirror !== null && mirrorSlot !== null && mirrorSlot !== state.live;
    this.mirrorBasisPoints = copying ? percentToBasisPoints(state.mirrorPercent ?? mirror?.percent ?? 0) : 0;
    this.mirrorPool = copying && this.mirrorBasisPoints > 0 ? runtime.slot(mirrorSlot) : null;
    this.copier = this.mirrorPool !== null ? runtime.mirror : null;
    this.upstreamHttp2 = config.upstream.http2;
    this.grpcErrorMask = config.grpcErrorCodes.reduce((mask, code) => mask | (1 << code), 0);
  }

  /** Whether this stable request is copied: exactly mirrorBasisPoints of every 10,000, evenly spread. */
  nextIsMirrored(): boolean {
    this.mirrorCredit += this.mirrorBasisPoints;
    if (this.mirrorCredit < FULL_WEIGHT_BP) return false;
    this.mirrorCredit -= FULL_WEIGHT_BP;
    return true;
  }

  withState(state: RoutingState): ServiceRoute {
    return new ServiceRoute(this.runtime, state, this.maxBodyBytes);
  }

  matchesPath(url: string): boolean {
    return this.pathPrefix === '/' || url.startsWith(this.pathPrefix);
  }
}

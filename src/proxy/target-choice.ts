import { randomUUID } from 'node:crypto';
import { readCookie, RequestHeaderScan } from './request-headers.js';
import type { ServiceRoute } from './service-route.js';
import { stickyBucket } from './slot-split.js';
import type { Target } from './target.js';

/** The outcome of choosing where one request goes. One instance is reused: read it before the next choice. */
export interface TargetChoice {
  target: Target | null;
  /** The role the target serves (after any failover to the other slot). */
  canary: boolean;
  /** True when test traffic asked for the canary; such a request never falls back to stable. */
  forced: boolean;
  /** A new sticky assignment to send back to the client. */
  setCookie: string | null;
}

const choice: TargetChoice = { target: null, canary: false, forced: false, setCookie: null };

/**
 * Slot first (test listener or canary header > sticky cookie > weighted split), then a target
 * within it. A slot with no available target hands its share to the other slot; forced test
 * traffic does not, so a tester never mistakes stable for the canary.
 */
export function chooseTarget(route: ServiceRoute, rawHeaders: readonly string[], cookieHeader: string | undefined, testListener: boolean): TargetChoice {
  let forced = testListener;
  if (!forced && route.canaryHeaderName !== null) {
    forced = RequestHeaderScan.has(rawHeaders, route.canaryHeaderName, route.canaryHeaderValue);
  }
  let setCookie: string | null = null;
  let canary: boolean;
  if (forced) {
    canary = true;
  } else if (route.stickyCookie !== null) {
    let id = readCookie(cookieHeader, route.stickyCookie);
    if (id === undefined) {
      id = randomUUID();
      setCookie = `${route.stickyCookie}=${id}; Path=/; HttpOnly; SameSite=Lax`;
    }
    canary = stickyBucket(id) < route.canaryBasisPoints;
  } else {
    canary = route.split.nextIsCanary();
  }
  let target = (canary ? route.canary : route.stable).pick();
  if (target === null && !forced) {
    canary = !canary;
    target = (canary ? route.canary : route.stable).pick();
  }
  choice.target = target;
  choice.canary = canary;
  choice.forced = forced;
  choice.setCookie = setCookie;
  return choice;
}

/** Counts a request the proxy refused because no target was available, and returns the answer to send. */
export function countUnavailable(route: ServiceRoute, forced: boolean) {
  const counters = forced ? route.canaryCounters : route.stableCounters;
  counters.unavailable += 1;
  counters.responses += 1;
  counters.failures += 1;
  return forced ? route.runtime.errors.noCanaryTarget : route.runtime.errors.noTarget;
}

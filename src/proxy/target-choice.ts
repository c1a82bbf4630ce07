import { randomUUID } from 'node:crypto';
import { equalsLowerToken } from './header-names.js';
import { readCookie, RequestHeaderScan } from './request-headers.js';
import type { ServiceRoute } from './service-route.js';
import { cohortBucket, stickyBucket } from './slot-split.js';
import type { Target } from './target.js';

/** The outcome of choosing where one request goes. One instance is reused: read it before the next choice. */
export interface TargetChoice {
  target: Target | null;
  /** The role the target serves (after any failover to the other slot). */
  canary: boolean;
  /** True when test traffic or a routing rule chose the slot; such a request never falls back to the other one. */
  forced: boolean;
  /** A new sticky assignment to send back to the client. */
  setCookie: string | null;
  /** No target: the slot has healthy ones, but each is at its `limits`. */
  overloaded: boolean;
}

const choice: TargetChoice = { target: null, canary: false, forced: false, setCookie: null, overloaded: false };

/**
 * Slot first (test listener or canary header > routing rules > cohort > sticky cookie > weighted
 * split), then a target within it. A slot with no available target hands its share to the
 * other slot; forced traffic (test traffic, a rule) does not, so a tester never mistakes stable
 * for the canary and a rule's promise holds. A slot whose healthy targets are all at their
 * limits does not either: overload is answered 503 where it happens (Envoy's overflow), not
 * pushed onto the other version.
 */
export function chooseTarget(
  route: ServiceRoute,
  method: string,
  url: string,
  rawHeaders: readonly string[],
  cookieHeader: string | undefined,
  testListener: boolean,
): TargetChoice {
  let forced = testListener;
  if (!forced && route.canaryHeaderName !== null) {
    forced = RequestHeaderScan.has(rawHeaders, route.canaryHeaderName, route.canaryHeaderValue);
  }
  let setCookie: string | null = null;
  let canary = true;
  let cohortValue: string | undefined;
  if (!forced && route.rules.size > 0) {
    const rule = route.rules.match(method, url, rawHeaders, cookieHeader);
    if (rule !== null) {
      route.runtime.ruleHits[rule.index]! += 1;
      forced = true;
      const to = rule.to;
      canary = to === 'canary' || (to !== 'stable' && to !== route.live);
    }
  }
  if (forced) {
    // The slot is decided.
  } else if ((cohortValue = cohortValueOf(route, rawHeaders, cookieHeader)) !== undefined) {
    canary = cohortBucket(route.cohortSeed, cohortValue) < route.canaryBasisPoints;
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
  let pool = canary ? route.canary : route.stable;
  let target = pool.pick();
  let overloaded = false;
  if (target === null) {
    if (pool.availableCount() > 0) {
      overloaded = true;
    } else if (!forced) {
      canary = !canary;
      pool = canary ? route.canary : route.stable;
      target = pool.pick();
      overloaded = target === null && pool.availableCount() > 0;
    }
  }
  choice.target = target;
  choice.overloaded = overloaded;
  choice.canary = canary;
  choice.forced = forced;
  choice.setCookie = setCookie;
  return choice;
}

/** The cohort's header or cookie value, when the service has a cohort and the request carries it. */
function cohortValueOf(route: ServiceRoute, rawHeaders: readonly string[], cookieHeader: string | undefined): string | undefined {
  if (route.cohortHeader !== null) {
    const name = route.cohortHeader;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      if (equalsLowerToken(rawHeaders[i] as string, name)) return rawHeaders[i + 1] === '' ? undefined : rawHeaders[i + 1];
    }
    return undefined;
  }
  return route.cohortCookie !== null ? readCookie(cookieHeader, route.cohortCookie) : undefined;
}

/** Counts a request the proxy refused (no target available, or all at their limits) and returns the answer to send. */
export function countUnavailable(route: ServiceRoute, choice: TargetChoice) {
  // Overload and forced traffic are the chosen slot's own failure; with no target anywhere, the split's request is stable's.
  const onCanary = choice.overloaded || choice.forced ? choice.canary : false;
  const counters = onCanary ? route.canaryCounters : route.stableCounters;
  counters.unavailable += 1;
  counters.responses += 1;
  counters.failures += 1;
  if (choice.overloaded) return route.runtime.errors.overloaded;
  return choice.forced && choice.canary ? route.runtime.errors.noCanaryTarget : route.runtime.errors.noTarget;
}

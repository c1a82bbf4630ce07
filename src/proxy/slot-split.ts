/** Canary weights are kept in basis points (0..10000) so 0.5% splits stay exact integers. */
export const FULL_WEIGHT_BP = 10_000;

export function percentToBasisPoints(percent: number): number {
  return Math.min(FULL_WEIGHT_BP, Math.max(0, Math.round(percent * 100)));
}

/**
 * Smooth weighted round robin over the two roles: a 10% canary gets exactly 10 of every 100
 * requests, evenly spread (never 10 in a row), which keeps low-weight tests exact.
 */
export class SlotSplit {
  private readonly canaryBp: number;
  private readonly stableBp: number;
  private canaryCurrent = 0;
  private stableCurrent = 0;

  constructor(canaryBasisPoints: number) {
    this.canaryBp = canaryBasisPoints;
    this.stableBp = FULL_WEIGHT_BP - canaryBasisPoints;
  }

  /** True when this request goes to the canary. */
  nextIsCanary(): boolean {
    if (this.canaryBp === 0) return false;
    if (this.stableBp === 0) return true;
    const canary = this.canaryCurrent + this.canaryBp;
    const stable = this.stableCurrent + this.stableBp;
    if (canary > stable) {
      this.canaryCurrent = canary - FULL_WEIGHT_BP;
      this.stableCurrent = stable;
      return true;
    }
    this.canaryCurrent = canary;
    this.stableCurrent = stable - FULL_WEIGHT_BP;
    return false;
  }
}

/**
 * A sticky client's bucket (0..9999) from its cookie value: FNV-1a, so every process agrees with
 * no shared state. A client is on the canary while bucket < weight, so as the weight only grows
 * nobody who saw the canary is moved back to stable.
 */
export function stickyBucket(value: string): number {
  return (fnv1a(0x811c9dc5, value) >>> 0) % FULL_WEIGHT_BP;
}

/**
 * Where a service's cohort hashes start: FNV-1a over its name and a separator, so the same user
 * id lands in unrelated buckets for different services (not the first canary user everywhere).
 */
export function cohortSeed(service: string): number {
  return fnv1a(fnv1a(0x811c9dc5, service), '\u0000');
}

/**
 * A user's cohort bucket (0..9999) from the header or cookie value: stateless, so every worker
 * and every instance agrees. The user is on the canary while bucket < weight, so as the weight
 * only grows a user never moves back to stable (20% -> 50% keeps everyone who was on it).
 */
export function cohortBucket(seed: number, value: string): number {
  return (fnv1a(seed, value) >>> 0) % FULL_WEIGHT_BP;
}

function fnv1a(start: number, value: string): number {
  let hash = start;
  for (let i = 0; i < value.length; i++) {
    hash ^= value.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash;
}

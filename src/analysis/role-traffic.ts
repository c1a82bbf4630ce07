import type { Role } from '../core/types.js';
import type { HistoryEntry } from '../rollout/rollout-record.js';

/**
 * Whether a role takes traffic at a point of a rollout, read from the weights in its history:
 * - `taking`: it has a share now, since `since` (stable's share from before the rollout is
 *   `-Infinity`: it was live);
 * - `stopped`: its share is 0 since `zeroAt`, after taking traffic from `since`;
 * - `never`: its share is 0 and was never more in this rollout (the canary of a `blue-green`
 *   rollout during its 0% phase).
 */
export type RoleTraffic =
  | { kind: 'taking'; share: number; since: number }
  | { kind: 'stopped'; zeroAt: number; since: number }
  | { kind: 'never' };

/**
 * A role's traffic from a rollout's history: every weight change leaves an entry carrying the
 * new canary weight, and before the rollout the canary had 0% and stable 100%. Pure, so any
 * process holding the record (a restarted one, another instance of a fleet) reads the same.
 * A record without a history is read as both roles taking traffic.
 */
export function roleTraffic(history: readonly HistoryEntry[] | undefined, role: Role): RoleTraffic {
  if (!Array.isArray(history)) return { kind: 'taking', share: Number.NaN, since: Number.NEGATIVE_INFINITY };
  const shareOf = (canaryWeight: number) => (role === 'canary' ? canaryWeight : 100 - canaryWeight);
  let share = shareOf(0);
  let since: number | null = share > 0 ? Number.NEGATIVE_INFINITY : null;
  let zeroAt: number | null = null;
  for (const entry of history) {
    const next = shareOf(entry.canaryWeight);
    if (share === 0 && next > 0) {
      since = Date.parse(entry.at);
      zeroAt = null;
    } else if (share > 0 && next === 0) {
      zeroAt = Date.parse(entry.at);
    }
    share = next;
  }
  if (share > 0) return { kind: 'taking', share, since: since as number };
  if (zeroAt === null || since === null) return { kind: 'never' };
  return { kind: 'stopped', zeroAt, since };
}

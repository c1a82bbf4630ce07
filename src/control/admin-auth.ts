import { createHash, timingSafeEqual } from 'node:crypto';
import type { AdminRole, AdminTokenConfig } from '../core/config-types.js';

export type AuthVerdict = 'ok' | 'missing' | 'invalid' | 'throttled';

/** Who is asking: the token's name and role. Without any token configured, a loopback caller. */
export interface AdminPrincipal {
  name: string;
  role: AdminRole;
}

/** The caller when no token is configured (the admin server then listens on loopback only). */
export const LOOPBACK_PRINCIPAL: AdminPrincipal = { name: 'loopback', role: 'operator' };

/** `admin.token` is an operator with this name. */
export const ADMIN_TOKEN_NAME = 'admin';

interface KnownToken {
  digest: Buffer;
  principal: AdminPrincipal;
}

/**
 * Bearer-token check for /api/. Digests are compared, so each comparison takes the same time
 * whatever the length or content of the guess, and every configured token is compared (no early
 * exit), so the time does not tell which one matched either. Failures are throttled (a burst
 * budget that refills over time) so no token can be brute-forced at line rate.
 */
export class AdminAuth {
  private readonly known: KnownToken[];
  private failureBudget: number;
  private lastRefill: number;
  private readonly maxBudget: number;
  private readonly refillPerSecond: number;
  private readonly now: () => number;

  constructor(token: string, tokens: readonly AdminTokenConfig[] = [], options: { burst?: number; refillPerSecond?: number; now?: () => number } = {}) {
    this.known = [
      ...(token ? [{ digest: digest(token), principal: { name: ADMIN_TOKEN_NAME, role: 'operator' as const } }] : []),
      ...tokens.map((t) => ({ digest: digest(t.token), principal: { name: t.name, role: t.role } })),
    ];
    this.maxBudget = options.burst ?? 20;
    this.refillPerSecond = options.refillPerSecond ?? 2;
    this.failureBudget = this.maxBudget;
    this.now = options.now ?? (() => performance.now());
    this.lastRefill = this.now();
  }

  get enabled(): boolean {
    return this.known.length > 0;
  }

  check(authorization: string | undefined): AuthVerdict {
    return this.identify(authorization).verdict;
  }

  /** The verdict, and on 'ok' who the token belongs to. */
  identify(authorization: string | undefined): { verdict: AuthVerdict; principal?: AdminPrincipal } {
    if (this.known.length === 0) return { verdict: 'ok', principal: LOOPBACK_PRINCIPAL };
    this.refill();
    if (this.failureBudget < 1) return { verdict: 'throttled' };
    const match = authorization === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (!match) {
      this.failureBudget -= 1;
      return { verdict: 'missing' };
    }
    const offered = digest(match[1] as string);
    let found: AdminPrincipal | undefined;
    for (const known of this.known) {
      if (timingSafeEqual(offered, known.digest) && !found) found = known.principal;
    }
    if (found) return { verdict: 'ok', principal: found };
    this.failureBudget -= 1;
    return { verdict: 'invalid' };
  }

  private refill(): void {
    const now = this.now();
    const gained = ((now - this.lastRefill) / 1000) * this.refillPerSecond;
    if (gained > 0) {
      this.failureBudget = Math.min(this.maxBudget, this.failureBudget + gained);
      this.lastRefill = now;
    }
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

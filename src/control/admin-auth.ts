import { createHash, timingSafeEqual } from 'node:crypto';

export type AuthVerdict = 'ok' | 'missing' | 'invalid' | 'throttled';

/**
 * Bearer-token check for /api/. Digests are compared, so the comparison takes the same time
 * whatever the length or content of the guess. Failures are throttled (a burst budget that
 * refills over time) so the token cannot be brute-forced at line rate.
 */
export class AdminAuth {
  private readonly expected: Buffer | null;
  private failureBudget: number;
  private lastRefill: number;
  private readonly maxBudget: number;
  private readonly refillPerSecond: number;
  private readonly now: () => number;

  constructor(token: string, options: { burst?: number; refillPerSecond?: number; now?: () => number } = {}) {
    this.expected = token ? digest(token) : null;
    this.maxBudget = options.burst ?? 20;
    this.refillPerSecond = options.refillPerSecond ?? 2;
    this.failureBudget = this.maxBudget;
    this.now = options.now ?? (() => performance.now());
    this.lastRefill = this.now();
  }

  get enabled(): boolean {
    return this.expected !== null;
  }

  check(authorization: string | undefined): AuthVerdict {
    if (this.expected === null) return 'ok';
    this.refill();
    if (this.failureBudget < 1) return 'throttled';
    const match = authorization === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (!match) {
      this.failureBudget -= 1;
      return 'missing';
    }
    if (timingSafeEqual(digest(match[1] as string), this.expected)) return 'ok';
    this.failureBudget -= 1;
    return 'invalid';
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

import { Pool } from 'undici';
import type { SlotName } from '../core/types.js';
import { TargetCounters } from '../core/traffic-counters.js';

/** Passive health hooks; the outlier detector installs one per target. */
export interface PassiveHealthObserver {
  onFailure(target: Target): void;
  onSuccess(target: Target): void;
}

export interface TargetPoolOptions {
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  idleTimeoutMs: number;
}

/**
 * One upstream endpoint of a slot, long-lived across routing snapshots: it owns the keep-alive
 * pool, the health bitmask and the counters, so a weight change never resets them.
 */
export class Target {
  readonly service: string;
  readonly slot: SlotName;
  readonly url: string;
  readonly weight: number;
  /** Health bitmask (see HealthFlag); the target takes traffic only while it is 0. */
  flags = 0;
  consecutiveFailures = 0;
  passive: PassiveHealthObserver | null = null;
  readonly counters = new TargetCounters();
  readonly pool: Pool;

  constructor(service: string, slot: SlotName, url: string, weight: number, options: TargetPoolOptions) {
    this.service = service;
    this.slot = slot;
    this.url = url;
    this.weight = weight;
    this.pool = new Pool(url, {
      connect: { timeout: options.connectTimeoutMs },
      headersTimeout: options.responseTimeoutMs,
      bodyTimeout: options.idleTimeoutMs,
      pipelining: 1,
      strictContentLength: true,
      allowH2: false,
    });
  }

  get available(): boolean {
    return this.flags === 0;
  }

  setFlag(bit: number): void {
    this.flags |= bit;
  }

  clearFlag(bit: number): void {
    this.flags &= ~bit;
  }

  recordSuccess(): void {
    if (this.consecutiveFailures !== 0) this.consecutiveFailures = 0;
    if (this.passive !== null) this.passive.onSuccess(this);
  }

  recordFailure(): void {
    this.consecutiveFailures += 1;
    if (this.passive !== null) this.passive.onFailure(this);
  }

  /** Lets in-flight requests finish, then closes the pool's sockets. */
  close(): Promise<void> {
    return this.pool.close();
  }

  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}

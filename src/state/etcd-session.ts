import { castGrpcError, EtcdLeaseInvalidError, type Etcd3, type ILeaseKeepAliveResponse, type Lease } from 'etcd3';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { ETCD_CALL_TIMEOUT_MS } from './etcd-client.js';

export interface SessionListener {
  /** A new lease was granted (at start, or after the previous one expired). */
  granted?(leaseId: string): void;
  /** The lease expired or was revoked: every key bound to it is gone. */
  lost?(leaseId: string): void;
  /** Each keepalive's outcome: whether etcd answered. */
  reachability?(reachable: boolean, error: string | null): void;
}

/**
 * This instance's lease in etcd. The instance record, its counters and, on the leader, the
 * election key are bound to it, so they vanish `ttl` after the instance stops renewing it.
 *
 * It is renewed every third of its TTL, and `remainingMs()` says how long it is certainly still
 * alive: etcd starts the TTL of a renewal when it receives it, so a renewal sent at `t` and
 * acknowledged keeps the lease until at least `t + ttl`. Measured on the monotonic clock from
 * the moment of sending, that bound holds however long the answer took, and whatever happened
 * to this process meanwhile (SIGSTOP included): a leader acts only while it is comfortably
 * positive, and so stops before the lease can expire.
 */
export class EtcdSession {
  private readonly client: Etcd3;
  private readonly ttlMs: number;
  private readonly logger: Logger;
  private readonly listeners: SessionListener[] = [];
  private lease: Lease | null = null;
  private id: string | null = null;
  private validUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private renewing: Promise<void> | null = null;
  private reachableNow = false;
  private lastErrorText: string | null = null;
  private lastSuccessAt = 0;
  private failing = false;

  private readonly attempts: number;
  private readonly members: readonly Etcd3[];
  /** The member renewals go to: the one that answered last, moved on when it fails. */
  private member = 0;
  /** Renewal attempts that failed (timed out, refused) since start: each used up part of the lease's margin. */
  failedAttempts = 0;

  /**
   * `members`: one client per etcd endpoint, for renewals. etcd3's own keepalive opens a stream
   * on a member it picks at random and never learns from a stream that timed out, so after a
   * member is lost renewals kept going to it, each failure using up part of the lease's
   * margin; renewals here go to one member at a time and move to the next when it fails, each
   * member tried once per renewal. Without them (one endpoint), renewals go through `client`.
   */
  constructor(options: { client: Etcd3; ttlMs: number; logger: Logger; members?: readonly Etcd3[] }) {
    this.client = options.client;
    this.ttlMs = options.ttlMs;
    this.logger = options.logger;
    this.members = options.members ?? [];
    this.attempts = Math.max(1, this.members.length);
  }

  get leaseId(): string | null {
    return this.id;
  }

  get reachable(): boolean {
    return this.reachableNow;
  }

  get lastError(): string | null {
    return this.lastErrorText;
  }

  get ttl(): number {
    return this.ttlMs;
  }

  onChange(listener: SessionListener): void {
    this.listeners.push(listener);
  }

  /**
   * How long renewals may fail before etcd counts as unreachable: a member's loss or a raft
   * election in a healthy cluster is over well within it, and is not worth reporting.
   */
  get graceMs(): number {
    return Math.max(2000, Math.floor(this.ttlMs / 2));
  }

  /** Time the lease is certain to live on (0 when there is none or it may have expired). */
  remainingMs(): number {
    return this.id === null ? 0 : Math.max(0, this.validUntil - performance.now());
  }

  /** Grants the first lease; throws when etcd cannot be reached. */
  async start(): Promise<void> {
    await this.grant();
    this.arm();
  }

  /** Renews now (or grants a new lease when there is none), outside the regular cadence. */
  renewNow(): Promise<void> {
    this.renewing ??= this.renew().finally(() => {
      this.renewing = null;
    });
    return this.renewing;
  }

  /** Stops renewing and revokes the lease, so what is bound to it (leadership included) goes at once; closes the members' clients. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.renewing?.catch(() => undefined);
    const lease = this.lease;
    this.lease = null;
    this.id = null;
    if (lease) await lease.revoke({ deadline: new Date(Date.now() + ETCD_CALL_TIMEOUT_MS) }).catch(() => undefined);
    for (const member of this.members) member.close();
  }

  private arm(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    // After a failure, try again soon: the lease's certainty runs out while renewals fail.
    const delay = this.failing ? Math.min(250, this.ttlMs / 3) : Math.max(100, Math.floor(this.ttlMs / 3));
    this.timer = setTimeout(() => {
      void this.renewNow().finally(() => this.arm());
    }, delay);
  }

  private async renew(): Promise<void> {
    if (this.stopped) return;
    if (!this.lease || this.id === null) {
      await this.grant().catch(() => undefined);
      return;
    }
    const lease = this.lease;
    let failure: unknown = null;
    for (let attempt = 0; attempt < this.attempts; attempt++) {
      const sentAt = performance.now();
      try {
        // A renewal stuck on a member without a leader must not use up the lease's margin: give up early and retry.
        await this.keepalive(lease, this.id, new Date(Date.now() + Math.min(ETCD_CALL_TIMEOUT_MS, this.ttlMs / 3)));
        if (lease !== this.lease) return;
        this.validUntil = sentAt + this.ttlMs;
        this.setReachable(true, null);
        return;
      } catch (err) {
        if (lease !== this.lease) return;
        if (err instanceof EtcdLeaseInvalidError) {
          // etcd answered: the lease is gone (it expired while we could not reach etcd, or was revoked).
          this.setReachable(true, null);
          this.dropLease('expired');
          await this.grant().catch(() => undefined);
          return;
        }
        failure = err;
        this.failedAttempts += 1;
        this.member += 1;
      }
    }
    this.failed(failure);
  }

  /** One renewal of lease `id`, on the current member when there are members; throws EtcdLeaseInvalidError when etcd says the lease is gone. */
  private async keepalive(lease: Lease, id: string, deadline: Date): Promise<void> {
    if (this.members.length === 0) {
      await lease.keepaliveOnce({ deadline });
      return;
    }
    const member = this.members[this.member % this.members.length] as Etcd3;
    const stream = await member.leaseClient.leaseKeepAlive({ deadline });
    const answer = await new Promise<ILeaseKeepAliveResponse>((resolve, reject) => {
      stream.on('data', resolve);
      stream.on('error', (err: Error) => reject(castGrpcError(err)));
      stream.write({ ID: id });
    }).finally(() => stream.end());
    if (answer.TTL === '0') throw new EtcdLeaseInvalidError(id);
  }

  private failed(err: unknown): void {
    this.failing = true;
    this.lastErrorText = errorMessage(err);
    if (performance.now() - this.lastSuccessAt >= this.graceMs) this.setReachable(false, this.lastErrorText);
  }

  private async grant(): Promise<void> {
    const seconds = Math.round(this.ttlMs / 1000);
    const sentAt = performance.now();
    const lease = this.client.lease(seconds, { autoKeepAlive: false });
    let id: string;
    try {
      id = await lease.grant();
    } catch (err) {
      this.failed(err);
      throw err;
    }
    if (this.stopped) {
      await lease.revoke().catch(() => undefined);
      return;
    }
    this.lease = lease;
    this.id = id;
    this.validUntil = sentAt + this.ttlMs;
    this.setReachable(true, null);
    this.logger.info({ lease: id, ttlMs: this.ttlMs }, 'etcd lease granted');
    for (const listener of this.listeners) listener.granted?.(id);
  }

  private dropLease(why: string): void {
    const id = this.id;
    this.lease = null;
    this.id = null;
    this.validUntil = 0;
    if (id === null) return;
    this.logger.warn({ lease: id, why }, 'etcd lease lost');
    for (const listener of this.listeners) listener.lost?.(id);
  }

  private setReachable(reachable: boolean, error: string | null): void {
    if (reachable) {
      this.lastSuccessAt = performance.now();
      this.failing = false;
    }
    const changed = reachable !== this.reachableNow;
    this.reachableNow = reachable;
    this.lastErrorText = error;
    if (changed) {
      if (reachable) this.logger.info({}, 'etcd reachable');
      else this.logger.error({ err: error }, 'etcd unreachable; routing stays on the last applied state');
    }
    for (const listener of this.listeners) listener.reachability?.(reachable, error);
  }
}

import type { Etcd3, IKeyValue } from 'etcd3';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { EtcdKeys } from './etcd-keys.js';
import type { EtcdSession } from './etcd-session.js';
import type { Fence } from './etcd-state-store.js';

/**
 * One leader per fleet: the instance that created the election key (bound to its lease) leads
 * until the key goes, when its lease expires or is revoked. Everyone else watches the key and
 * campaigns the moment it is deleted, so a dead leader is replaced within its lease TTL.
 *
 * Leading is also a matter of time: an instance leads only while its lease is certain to live
 * on for `marginMs` more (see EtcdSession.remainingMs), so a leader that cannot renew stops
 * advancing before the lease can expire and before anyone else can be elected. Its writes are
 * fenced on the key's create revision anyway: should it still try, etcd refuses them.
 */
export class LeaderElection {
  private readonly client: Etcd3;
  private readonly keys: EtcdKeys;
  private readonly session: EtcdSession;
  private readonly name: string;
  private readonly logger: Logger;
  private readonly marginMs: number;
  private holding: Fence | null = null;
  private leaderName: string | null = null;
  private leaderSeen = false;
  private reported = false;
  private campaigning: Promise<void> | null = null;
  private readonly listeners: ((leading: boolean) => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(options: { client: Etcd3; keys: EtcdKeys; session: EtcdSession; name: string; logger: Logger; marginMs?: number }) {
    this.client = options.client;
    this.keys = options.keys;
    this.session = options.session;
    this.name = options.name;
    this.logger = options.logger;
    this.marginMs = options.marginMs ?? Math.max(500, Math.floor(options.session.ttl / 4));
    this.session.onChange({
      granted: () => void this.campaign(),
      lost: () => this.check(),
    });
  }

  /** Starts campaigning, and checks every 100 ms whether leadership has run out of lease. */
  start(): void {
    this.timer = setInterval(() => {
      this.check();
      // Nobody holds the key (its delete may have been missed while etcd was away): try.
      if (!this.leaderSeen && !this.holding) void this.campaign();
    }, 100);
    void this.campaign();
  }

  onChange(listener: (leading: boolean) => void): void {
    this.listeners.push(listener);
  }

  isLeader(): boolean {
    const holding = this.holding;
    return holding !== null && holding.leaseId === this.session.leaseId && this.session.remainingMs() > this.marginMs;
  }

  /** What state writes compare on, while this instance leads. */
  fence(): Fence | null {
    return this.isLeader() ? this.holding : null;
  }

  /** The leader's name as etcd last said (null: none). */
  leader(): string | null {
    return this.isLeader() ? this.name : this.leaderName;
  }

  /**
   * The election key changed (the watch, or a resync): `kv` null when it was deleted.
   * `revision` is the etcd revision this is true at (a watch event's, or a read's header).
   */
  observe(kv: IKeyValue | null, revision: number): void {
    // A read that etcd served before our own campaign's write (at start, the first resync races
    // the campaign, and under load its answer can come second) says nothing about a key created
    // after it: taking that absence, or an older key, for a deletion would depose a leader whose
    // key and lease are both alive. Revisions only grow, so anything older than our key is stale.
    if (this.holding && revision < this.holding.createRevision) return;
    if (!kv) {
      this.leaderSeen = false;
      this.leaderName = null;
      if (this.holding) this.logger.warn({ createRevision: this.holding.createRevision }, 'election key deleted: no longer leading');
      this.holding = null;
      this.check();
      void this.campaign();
      return;
    }
    this.leaderSeen = true;
    this.leaderName = leaderNameOf(kv);
    if (this.holding && Number(kv.create_revision) !== this.holding.createRevision) {
      this.holding = null;
    }
    this.check();
  }

  /** Gives leadership up at once (a clean shutdown): the others need not wait for the lease to expire. */
  async resign(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    const holding = this.holding;
    this.holding = null;
    this.check();
    if (!holding) return;
    await this.client
      .if(this.keys.leader, 'Create', '==', holding.createRevision)
      .then(this.client.delete().key(this.keys.leader))
      .commit()
      .catch(() => undefined);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private campaign(): Promise<void> {
    this.campaigning ??= this.tryToLead().finally(() => {
      this.campaigning = null;
    });
    return this.campaigning;
  }

  private async tryToLead(): Promise<void> {
    const leaseId = this.session.leaseId;
    // A key bound to a lease that has since expired is gone with it.
    if (this.holding && this.holding.leaseId !== leaseId) this.holding = null;
    if (this.stopped || leaseId === null || this.holding) return;
    try {
      const value = JSON.stringify({ name: this.name, lease: leaseId, at: new Date().toISOString() });
      const response = await this.client
        .if(this.keys.leader, 'Create', '==', 0)
        .then(this.client.put(this.keys.leader).value(value).lease(leaseId))
        .else(this.client.get(this.keys.leader))
        .commit();
      if (response.succeeded) {
        this.holding = { createRevision: Number(response.header.revision), leaseId };
        this.leaderSeen = true;
        this.leaderName = this.name;
        this.logger.info({ createRevision: this.holding.createRevision }, 'elected leader of the fleet');
      } else {
        const kv = response.responses[0]?.response_range?.kvs[0];
        if (kv) {
          this.leaderSeen = true;
          this.leaderName = leaderNameOf(kv);
          // Our own key from before (etcd came back with our lease alive): we still lead.
          if (String(kv.lease) === leaseId) this.holding = { createRevision: Number(kv.create_revision), leaseId };
        }
      }
    } catch (err) {
      this.logger.warn({ err: errorMessage(err) }, 'campaign for leadership failed; trying again');
    }
    this.check();
  }

  /** Reports a change of `isLeader()` (it also changes with time, as the lease's certainty runs out). */
  private check(): void {
    const leading = this.isLeader();
    if (leading === this.reported) return;
    this.reported = leading;
    if (!leading) this.logger.warn({ leaseRemainingMs: Math.round(this.session.remainingMs()) }, 'not leading the fleet any more; following');
    for (const listener of this.listeners) listener(leading);
  }
}

function leaderNameOf(kv: IKeyValue): string | null {
  try {
    const parsed = JSON.parse(kv.value.toString()) as { name?: unknown };
    return typeof parsed.name === 'string' ? parsed.name : null;
  } catch {
    return null;
  }
}

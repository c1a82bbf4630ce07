import { randomBytes } from 'node:crypto';
import type { Etcd3, IKeyValue, IRequestOp } from 'etcd3';
import { errorMessage, NotLeaderError } from '../core/errors.js';
import type { EtcdKeys } from './etcd-keys.js';
import { StateError } from './file-state-store.js';
import { isPersistedState, type PersistedService, type PersistedState, type SaveOptions, type StateStore } from './state-store.js';

/** etcd refused a write because the election key it compares on is no longer this instance's. */
export class FencedWriteError extends StateError {
  constructor(message: string) {
    super(message);
    this.name = 'FencedWriteError';
  }
}

/** Leadership as the election holds it: every state write compares on this key still being ours. */
export interface Fence {
  /** The create revision of the election key when this instance created it. */
  createRevision: number;
  /** This instance's lease, which results of relayed commands are bound to. */
  leaseId: string;
}

/** What one service's key holds: its state and who wrote it. */
interface StoredService {
  state: PersistedService;
  writtenBy: string;
  /** Unique per write: a write retried after an ambiguous failure recognises itself. */
  writeId: string;
}

export type RemoteStateListener = (service: string, state: PersistedService | null, revision: number) => void;

/**
 * Rollout state in etcd, one key per service (`<prefix>state/<service>`), so services change
 * independently. Writes are transactions that succeed only while
 *   - the election key still has the create revision this instance got when it won (fencing: a
 *     leader that lost its lease, or was stopped past it, can never move a weight), and
 *   - the service's key is still at the revision this instance last saw (no write over a change
 *     it has not applied).
 * A relayed command is consumed, and its answer recorded, in the same transaction.
 *
 * Reads and the watch go through `observe`, which applies only what is newer than what this
 * instance already has, so a write this instance made is not applied twice.
 */
export class EtcdStateStore implements StateStore {
  private readonly client: Etcd3;
  private readonly keys: EtcdKeys;
  private readonly name: string;
  private readonly where: string;
  private fenceOf: () => Fence | null = () => null;
  /** Mod revision of each service's key as this instance last applied it (0: absent). */
  private readonly modRevisions = new Map<string, number>();
  private revision = 0;
  private listener: RemoteStateListener | null = null;
  /** Relayed commands this instance's writes consumed. */
  readonly consumed = new Set<string>();
  /** Writes etcd refused because leadership had moved on. */
  fencedWrites = 0;

  constructor(options: { client: Etcd3; keys: EtcdKeys; instance: string; where: string }) {
    this.client = options.client;
    this.keys = options.keys;
    this.name = options.instance;
    this.where = options.where;
  }

  describe(): string {
    return this.where;
  }

  /** Where leadership comes from: null when this instance does not lead. */
  setFence(fence: () => Fence | null): void {
    this.fenceOf = fence;
  }

  /** Called with every service state this instance did not write itself, in revision order. */
  onRemoteState(listener: RemoteStateListener): void {
    this.listener = listener;
  }

  /** The newest etcd revision whose state this instance has applied. */
  get appliedRevision(): number {
    return this.revision;
  }

  /** The watch saw every change up to `revision`. */
  advance(revision: number): void {
    if (revision > this.revision) this.revision = revision;
  }

  serviceKey(service: string): string {
    return `${this.keys.state}/${service}`;
  }

  async open(): Promise<void> {
    try {
      await this.client.get(this.keys.state).exec();
    } catch (err) {
      throw new StateError(`cannot reach ${this.where}: ${errorMessage(err)}`, err);
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  async load(): Promise<PersistedState | null> {
    let response;
    try {
      response = await this.client.getAll().prefix(`${this.keys.state}/`).exec();
    } catch (err) {
      throw new StateError(`cannot read the rollout state from ${this.where}: ${errorMessage(err)}`, err);
    }
    const services: Record<string, PersistedService> = {};
    for (const kv of response.kvs) {
      const service = kv.key.toString().slice(this.keys.state.length + 1);
      services[service] = this.parse(kv);
      this.modRevisions.set(service, Number(kv.mod_revision));
    }
    this.advance(Number(response.header.revision));
    return response.kvs.length > 0 ? { version: 1, services } : null;
  }

  /**
   * A change of a service's key seen by the watch (or a resync): applied when newer than what
   * this instance has. A value that cannot be trusted is reported and not applied (the
   * instance keeps routing on what it had: it never guesses a split).
   */
  observe(service: string, kv: IKeyValue | null, modRevision: number): void {
    if (modRevision <= (this.modRevisions.get(service) ?? 0)) return;
    this.modRevisions.set(service, modRevision);
    this.listener?.(service, kv ? this.parse(kv) : null, modRevision);
  }

  async save(state: PersistedState, options: SaveOptions = {}): Promise<void> {
    const fence = this.fenceOf();
    if (!fence) throw new NotLeaderError('this instance does not lead the fleet, so it does not write rollout state');
    const services = options.service !== undefined ? [options.service] : Object.keys(state.services);
    const writeId = randomBytes(8).toString('hex');
    let txn = this.client.if(this.keys.leader, 'Create', '==', fence.createRevision);
    const puts: IRequestOp[] = [];
    for (const service of services) {
      const persisted = state.services[service];
      if (!persisted) continue;
      txn = txn.and(this.serviceKey(service), 'Mod', '==', this.modRevisions.get(service) ?? 0);
      const stored: StoredService = { state: persisted, writtenBy: this.name, writeId };
      puts.push({ request_put: { key: Buffer.from(this.serviceKey(service)), value: Buffer.from(JSON.stringify(stored)) } });
    }
    if (options.command !== undefined) {
      const commandKey = this.keys.command(options.command);
      txn = txn.and(commandKey, 'Version', '>', 0);
      puts.push({ request_delete_range: { key: Buffer.from(commandKey) } });
      puts.push({
        request_put: { key: Buffer.from(this.keys.result(options.command)), value: Buffer.from(JSON.stringify({ ok: true, by: this.name })), lease: fence.leaseId },
      });
    }
    const checks: IRequestOp[] = [
      { request_range: { key: Buffer.from(this.keys.leader) } },
      ...services.map((service) => ({ request_range: { key: Buffer.from(this.serviceKey(service)) } })),
      ...(options.command !== undefined ? [{ request_range: { key: Buffer.from(this.keys.command(options.command)) } }] : []),
    ];
    let response;
    try {
      response = await txn.then(...puts).else(...checks).commit();
    } catch (err) {
      throw new StateError(`cannot write the rollout state to ${this.where}: ${errorMessage(err)}`, err);
    }
    const revision = Number(response.header.revision);
    if (response.succeeded) {
      this.written(services, revision, options.command);
      return;
    }
    // Why the comparison failed, from what the else branch read in the same transaction.
    const ranges = response.responses.map((r) => r.response_range?.kvs[0] ?? null);
    const leader = ranges[0] ?? null;
    if (!leader || Number(leader.create_revision) !== fence.createRevision) {
      this.fencedWrites += 1;
      throw new FencedWriteError(`etcd refused the write: this instance no longer holds the leadership it compared on (election key revision ${fence.createRevision})`);
    }
    const mine = services.every((service, i) => {
      const kv = ranges[i + 1];
      return kv !== null && kv !== undefined && this.storedOf(kv)?.writeId === writeId;
    });
    if (mine) {
      // A retried call whose first attempt had landed: the write is there, made by us.
      const at = Math.max(...services.map((_, i) => Number(ranges[i + 1]?.mod_revision ?? 0)));
      this.written(services, at, options.command);
      return;
    }
    if (options.command !== undefined && !ranges[services.length + 1]) {
      throw new StateError('the command was withdrawn by the instance that relayed it (or already handled); nothing was changed');
    }
    throw new StateError(`the rollout state in ${this.where} changed since this instance last read it; it catches up from the watch, and nothing was changed`);
  }

  /**
   * Writes a whole state at once, outside any leadership (`shiftproxy state migrate`): only
   * where no service has state yet, unless `replace`. Returns the revision written.
   */
  async writeAll(state: PersistedState, options: { replace?: boolean } = {}): Promise<number> {
    const writeId = randomBytes(8).toString('hex');
    const services = Object.keys(state.services);
    let txn = this.client.if(this.keys.state, 'Create', '==', 0);
    const existing = await this.client.getAll().prefix(`${this.keys.state}/`).keys();
    if (existing.length > 0 && !options.replace) {
      throw new StateError(`${this.where} already holds rollout state (${existing.map((k) => k.slice(this.keys.state.length + 1)).join(', ')}); pass --force to replace it`);
    }
    if (!options.replace) for (const service of services) txn = txn.and(this.serviceKey(service), 'Create', '==', 0);
    const ops: IRequestOp[] = [];
    if (options.replace) ops.push({ request_delete_range: { key: Buffer.from(`${this.keys.state}/`), range_end: Buffer.from(`${this.keys.state}0`) } });
    for (const service of services) {
      const stored: StoredService = { state: state.services[service] as PersistedService, writtenBy: this.name, writeId };
      ops.push({ request_put: { key: Buffer.from(this.serviceKey(service)), value: Buffer.from(JSON.stringify(stored)) } });
    }
    const response = await txn.then(...ops).commit();
    if (!response.succeeded) throw new StateError(`${this.where} got rollout state while this ran; nothing was written (pass --force to replace it)`);
    return Number(response.header.revision);
  }

  /** Resolves when the command id's answer is recorded and marks the command handled, fenced like a state write. */
  async answer(command: string, result: Record<string, unknown>): Promise<boolean> {
    const fence = this.fenceOf();
    if (!fence) return false;
    const response = await this.client
      .if(this.keys.leader, 'Create', '==', fence.createRevision)
      .and(this.keys.command(command), 'Version', '>', 0)
      .then(
        this.client.delete().key(this.keys.command(command)),
        this.client.put(this.keys.result(command)).value(JSON.stringify(result)).lease(fence.leaseId),
      )
      .commit();
    if (response.succeeded) this.consumed.add(command);
    return response.succeeded;
  }

  private written(services: string[], revision: number, command: string | undefined): void {
    for (const service of services) this.modRevisions.set(service, revision);
    if (command !== undefined) this.consumed.add(command);
  }

  private storedOf(kv: IKeyValue): StoredService | null {
    try {
      return JSON.parse(kv.value.toString()) as StoredService;
    } catch {
      return null;
    }
  }

  private parse(kv: IKeyValue): PersistedService {
    const key = kv.key.toString();
    const stored = this.storedOf(kv);
    const state = stored?.state;
    if (!state || !isPersistedState({ version: 1, services: { x: state } })) {
      throw new StateError(
        `the rollout state at ${key} in ${this.where} is corrupt (not the expected JSON). shiftproxy will not guess the traffic split; ` +
          'restore it (shiftproxy state migrate can write it from a state file), or delete the key to start the service on its configured live slot at 0%',
      );
    }
    return state;
  }
}

import { randomBytes } from 'node:crypto';
import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from 'etcd3';
import { ConflictError, errorMessage, NotLeaderError, ShiftError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { RolloutRecord } from '../rollout/rollout-record.js';
import type { StartRequest } from '../rollout/rollout-controller.js';
import type { EtcdKeys } from '../state/etcd-keys.js';
import type { EtcdSession } from '../state/etcd-session.js';
import { FencedWriteError, type EtcdStateStore } from '../state/etcd-state-store.js';
import type { LeaderElection } from '../state/leader-election.js';
import type { PersistedService } from '../state/state-store.js';
import type { FleetCounters, PublishedCounters } from './fleet-counters.js';
import type { RolloutCommands } from './rollout-commands.js';
import type { CommandOrigin } from '../rollout/ports.js';

/** What the fleet needs of the rollout controller. */
export interface FleetController {
  adopt(service: string, persisted: PersistedService | null): Promise<void>;
  leadershipChanged(leading: boolean): void;
  startRollout(service: string, request: StartRequest, origin: CommandOrigin): Promise<RolloutRecord>;
  command(service: string, type: CommandType, options: { full?: boolean }, origin: CommandOrigin): Promise<RolloutRecord>;
  get(service: string): RolloutRecord | null;
}

type CommandType = 'pause' | 'resume' | 'promote' | 'abort';

/** A command one instance relays to the leader through etcd. */
interface RelayedCommand {
  service: string;
  action: 'start' | CommandType;
  request?: StartRequest;
  options?: { full?: boolean };
  from: string;
  /** Who asked, on the instance that took the command (an admin token's name). */
  by?: string;
}

/** The leader's answer to a relayed command. */
type CommandResult = { ok: true; by: string } | { ok: false; status: number; code: string; error: string; by: string };

/** An instance as its record in etcd says. */
interface InstanceRecord {
  name: string;
  adminUrl: string;
  configHash: string;
  services: Record<string, string>;
  appliedRevision: number;
  lastSeen: string;
  degraded: boolean;
  counters?: PublishedCounters;
}

/** GET /api/v1/fleet. */
export interface FleetView {
  /** The leader's name, as this instance knows it (null: none elected, or etcd unreachable). */
  leader: string | null;
  self: string;
  /** This instance cannot reach etcd: it routes on the last state it applied and refuses commands. */
  degraded: boolean;
  etcd: { reachable: boolean; watching: boolean; error: string | null; appliedRevision: number };
  instances: { name: string; adminUrl: string; configHash: string; appliedRevision: number; lastSeen: string; leader: boolean; degraded: boolean }[];
}

export interface EtcdFleetOptions {
  client: Etcd3;
  keys: EtcdKeys;
  session: EtcdSession;
  election: LeaderElection;
  store: EtcdStateStore;
  controller: FleetController;
  counters: FleetCounters;
  name: string;
  /** Known once the admin server listens. */
  adminUrl: () => string;
  serviceHashes: Record<string, string>;
  configHash: string;
  /** This process's published counters, brought up to date (workers report first). */
  readCounters: () => Promise<PublishedCounters>;
  /** How often the instance record (and counters) is written. */
  publishIntervalMs: number;
  /** How long a relayed command waits for the leader's answer. */
  commandTimeoutMs: number;
  /** How often the leader compacts etcd's history, to the revision it had applied that long ago (5 minutes by default). */
  compactEveryMs?: number;
  logger: Logger;
}

/** etcd's answer to a write bound to a lease it no longer has. */
const LEASE_GONE = /requested lease not found/i;

/** How long the watch may be down before the instance calls itself degraded (a member change reconnects it sooner). */
const WATCH_GRACE_MS = 2000;
/** The leader compacts etcd's history to what it was this long ago, so it does not grow without bound. */
const DEFAULT_COMPACT_EVERY_MS = 5 * 60_000;

/**
 * One instance's membership in a fleet of proxies sharing rollout state in etcd:
 *   - a watch on every key under the prefix, from the revision after the last one applied,
 *     hands state changes to the controller (every instance routes from etcd, exactly as written),
 *     the election key to the election, instance records to the fleet view and counters;
 *   - this instance's record (admin URL, config hashes, applied revision, counters) is written
 *     every `publishIntervalMs` under its lease, which doubles as the check that etcd answers;
 *   - on winning the election it catches up with the newest state before it acts, and then
 *     handles the commands other instances relay; on losing it, its controller stands down;
 *   - commands given to a follower are relayed to the leader through etcd and answered once
 *     the change they made has been applied here too.
 */
export class EtcdFleet implements RolloutCommands {
  private readonly o: EtcdFleetOptions;
  private serviceHashes: Record<string, string>;
  private configHashValue: string;
  private readonly instances = new Map<string, InstanceRecord>();
  private readonly pendingCommands = new Map<string, RelayedCommand>();
  private readonly handling = new Set<string>();
  private readonly waiters = new Map<string, (result: CommandResult) => void>();
  private watcher: Watcher | null = null;
  private watchDownSince: number | null = null;
  private applying: Promise<unknown> = Promise.resolve();
  private leading = false;
  private leadGeneration = 0;
  private publishTimer: NodeJS.Timeout | undefined;
  private compactTimer: NodeJS.Timeout | undefined;
  /** Revisions applied, by when (one a publishing interval), for compaction. */
  private readonly seenRevisions: { at: number; revision: number }[] = [];
  private compactedTo = 0;
  private readonly compactEveryMs: number;
  private publishing = false;
  private lastPublishOkAt = 0;
  private reportedDegraded = false;
  private stopped = false;

  constructor(options: EtcdFleetOptions) {
    this.o = options;
    this.compactEveryMs = options.compactEveryMs ?? DEFAULT_COMPACT_EVERY_MS;
    this.serviceHashes = options.serviceHashes;
    this.configHashValue = options.configHash;
    options.store.setFence(() => (this.leading ? options.election.fence() : null));
    options.store.onRemoteState((service, state) => {
      this.applying = Promise.all([this.applying, options.controller.adopt(service, state).catch((err) => this.o.logger.error({ service, err: errorMessage(err) }, 'could not apply the state from etcd'))]);
    });
    options.election.onChange((leading) => void this.leadershipChanged(leading));
  }

  /** Whether this instance leads and has caught up: the controller's leadership port. */
  isLeader(): boolean {
    return this.leading && this.o.election.isLeader();
  }

  /** Cut off from etcd: renewals or this instance's record have failed for longer than a member change takes, or the watch is down. */
  get degraded(): boolean {
    const now = performance.now();
    const watchDown = this.watchDownSince !== null && now - this.watchDownSince > WATCH_GRACE_MS;
    return !this.o.session.reachable || now - this.lastPublishOkAt > this.o.session.graceMs || watchDown;
  }

  get fencedWrites(): number {
    return this.o.store.fencedWrites;
  }

  liveInstances(): number {
    return new Set([...this.instances.keys(), this.o.name]).size;
  }

  /** Grants the lease, writes this instance's record, starts watching and campaigning. */
  async join(): Promise<void> {
    await this.o.session.start();
    await this.resync();
    await this.publish();
    this.schedulePublish();
    this.o.election.start();
  }

  /** Resigns leadership (the others need not wait for the lease to expire), stops watching, revokes the lease. */
  async leave(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.publishTimer);
    clearInterval(this.compactTimer);
    this.leading = false;
    this.o.controller.leadershipChanged(false);
    await this.o.election.resign();
    this.o.election.stop();
    await this.watcher?.cancel().catch(() => undefined);
    await this.o.session.stop();
    for (const resolve of this.waiters.values()) resolve({ ok: false, status: 503, code: 'STOPPING', error: 'this instance is shutting down', by: this.o.name });
    this.waiters.clear();
  }

  /** A reload changed the config: the others see the new hashes at once (a start compares them). */
  configChanged(serviceHashes: Record<string, string>, configHash: string): void {
    this.serviceHashes = serviceHashes;
    this.configHashValue = configHash;
    void this.publish();
  }

  view(): FleetView {
    const leader = this.o.election.leader();
    const self = {
      name: this.o.name,
      adminUrl: this.o.adminUrl(),
      configHash: this.configHashValue,
      appliedRevision: this.o.store.appliedRevision,
      lastSeen: new Date().toISOString(),
      leader: leader === this.o.name,
      degraded: this.degraded,
    };
    const others = [...this.instances.values()]
      .filter((i) => i.name !== this.o.name)
      .map((i) => ({ name: i.name, adminUrl: i.adminUrl, configHash: i.configHash, appliedRevision: i.appliedRevision, lastSeen: i.lastSeen, leader: i.name === leader, degraded: i.degraded }));
    return {
      leader,
      self: this.o.name,
      degraded: this.degraded,
      etcd: { reachable: this.o.session.reachable, watching: this.watchDownSince === null && this.watcher !== null, error: this.o.session.lastError, appliedRevision: this.o.store.appliedRevision },
      instances: [self, ...others].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    };
  }

  // --- commands -------------------------------------------------------------------------

  start(service: string, request: StartRequest, by?: string): Promise<RolloutRecord> {
    return this.run({ service, action: 'start', request, from: this.o.name, ...(by !== undefined ? { by } : {}) });
  }

  command(service: string, type: CommandType, options: { full?: boolean }, by?: string): Promise<RolloutRecord> {
    return this.run({ service, action: type, ...(options.full ? { options } : {}), from: this.o.name, ...(by !== undefined ? { by } : {}) });
  }

  private async run(command: RelayedCommand): Promise<RolloutRecord> {
    if (this.isLeader()) {
      if (command.action === 'start') this.checkConfigAgreement(command.service);
      return this.execute(command, {});
    }
    return this.relay(command);
  }

  private execute(command: RelayedCommand, relay: { command?: string }): Promise<RolloutRecord> {
    const c = this.o.controller;
    const origin: CommandOrigin = { ...relay, ...(command.by !== undefined ? { by: command.by } : {}) };
    return command.action === 'start' ? c.startRollout(command.service, command.request ?? {}, origin) : c.command(command.service, command.action, command.options ?? {}, origin);
  }

  /**
   * A rollout starts only where every live instance runs the same config for its service:
   * instances judging or routing it differently would make the fleet's verdict meaningless.
   */
  private checkConfigAgreement(service: string): void {
    const mine = this.serviceHashes[service];
    const differ = [...this.instances.values()].filter((i) => i.name !== this.o.name && i.services[service] !== mine);
    if (differ.length === 0) return;
    const list = [`${this.o.name} has ${mine ?? 'no such service'}`, ...differ.map((i) => `${i.name} has ${i.services[service] ?? 'no such service'}`)].join(', ');
    throw new ConflictError(`cannot start: the instances run different configs for ${service} (${list}); load the same config everywhere first`);
  }

  private async relay(command: RelayedCommand): Promise<RolloutRecord> {
    // Between an expired lease (a pause, an outage) and the next one there is none: get it now.
    if (this.o.session.leaseId === null) await this.o.session.renewNow();
    const leaseId = this.o.session.leaseId;
    if (!this.o.session.reachable || leaseId === null) {
      throw new ShiftError('ETCD_UNREACHABLE', `etcd is unreachable (${this.o.session.lastError ?? 'no lease'}): commands are refused until it answers again; traffic keeps the last applied split`, 503);
    }
    const id = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    const answered = new Promise<CommandResult | null>((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        resolve(null);
      }, this.o.commandTimeoutMs);
      this.waiters.set(id, (result) => {
        clearTimeout(timer);
        this.waiters.delete(id);
        resolve(result);
      });
    });
    try {
      await this.putCommand(id, command, leaseId);
    } catch (err) {
      this.waiters.get(id)?.({ ok: false, status: 503, code: 'ETCD_UNREACHABLE', error: `cannot pass the command to the leader through etcd: ${errorMessage(err)}`, by: this.o.name });
    }
    const result = await answered;
    if (!result) {
      // Withdrawn, so a leader that comes later does not act on a command nobody waits for.
      await this.o.client.delete().key(this.o.keys.command(id)).catch(() => undefined);
      throw new ShiftError('NO_LEADER_ANSWER', `no leader answered within ${this.o.commandTimeoutMs} ms (leader: ${this.o.election.leader() ?? 'none elected'}); the command was withdrawn`, 503);
    }
    void this.o.client.delete().key(this.o.keys.result(id)).catch(() => undefined);
    if (!result.ok) throw new ShiftError(result.code, result.error, result.status);
    // The change the command made is in the same revision as its answer: answer with it applied here.
    await this.applying;
    const record = this.o.controller.get(command.service);
    if (!record) throw new ShiftError('STATE_ERROR', `${command.service} has no rollout after the command`, 500);
    return record;
  }

  /** The command, bound to this instance's lease; once more on a new lease when etcd says the old one expired. */
  private async putCommand(id: string, command: RelayedCommand, leaseId: string): Promise<void> {
    try {
      await this.o.client.put(this.o.keys.command(id)).value(JSON.stringify(command)).lease(leaseId);
    } catch (err) {
      if (!LEASE_GONE.test(errorMessage(err))) throw err;
      // The first call may join a renewal that began before etcd said so; the second learns it and grants a new lease.
      await this.o.session.renewNow();
      await this.o.session.renewNow();
      const fresh = this.o.session.leaseId;
      if (fresh === null || fresh === leaseId) throw err;
      await this.o.client.put(this.o.keys.command(id)).value(JSON.stringify(command)).lease(fresh);
    }
  }

  /** The leader acts on a command another instance relayed, once. */
  private async handleRelayed(id: string, command: RelayedCommand): Promise<void> {
    if (this.handling.has(id) || !this.isLeader()) return;
    this.handling.add(id);
    try {
      if (command.action === 'start') this.checkConfigAgreement(command.service);
      await this.execute(command, { command: id });
      if (!this.o.store.consumed.has(id)) await this.o.store.answer(id, { ok: true, by: this.o.name });
    } catch (err) {
      if (this.o.store.consumed.has(id)) return;
      // Not leading any more: the next leader finds the command still there and answers it.
      if (err instanceof NotLeaderError || err instanceof FencedWriteError) return;
      const status = err instanceof ShiftError ? err.status : 500;
      const code = err instanceof ShiftError ? err.code : 'INTERNAL';
      await this.o.store.answer(id, { ok: false, status, code, error: errorMessage(err), by: this.o.name }).catch((again) => this.o.logger.warn({ command: id, err: errorMessage(again) }, 'could not answer a relayed command'));
    } finally {
      this.handling.delete(id);
      this.pendingCommands.delete(id);
    }
  }

  // --- leadership -----------------------------------------------------------------------

  private async leadershipChanged(leading: boolean): Promise<void> {
    const generation = ++this.leadGeneration;
    if (!leading) {
      if (this.leading) {
        this.leading = false;
        clearInterval(this.compactTimer);
        this.o.controller.leadershipChanged(false);
      }
      return;
    }
    try {
      // Act only on the newest state: anything written since this instance last applied is applied first.
      await this.resync();
      await this.applying;
    } catch (err) {
      this.o.logger.warn({ err: errorMessage(err) }, 'elected, but could not catch up with the state in etcd; not acting until it can');
      return;
    }
    if (generation !== this.leadGeneration || !this.o.election.isLeader() || this.stopped) return;
    this.leading = true;
    this.o.logger.info({ appliedRevision: this.o.store.appliedRevision }, 'leading the fleet: running rollouts and analysis');
    this.o.controller.leadershipChanged(true);
    this.compactTimer = setInterval(() => void this.compact(), this.compactEveryMs);
    for (const [id, command] of this.pendingCommands) void this.handleRelayed(id, command);
    void this.publish();
  }

  /** Compacts etcd's history to the revision this instance had applied five minutes ago. */
  private async compact(): Promise<void> {
    const cutoff = performance.now() - this.compactEveryMs;
    let target: number | null = null;
    while (this.seenRevisions.length > 0 && (this.seenRevisions[0]?.at ?? Infinity) <= cutoff) {
      target = this.seenRevisions.shift()?.revision ?? target;
    }
    if (target === null || target <= this.compactedTo || !this.isLeader()) return;
    try {
      await this.o.client.kv.compact({ revision: String(target) });
      this.compactedTo = target;
    } catch (err) {
      this.o.logger.warn({ err: errorMessage(err), revision: target }, 'etcd compaction failed; trying again later');
    }
  }

  // --- this instance's record -----------------------------------------------------------

  private schedulePublish(): void {
    if (this.stopped) return;
    this.publishTimer = setTimeout(() => {
      void this.publish().finally(() => {
        this.noteDegradation();
        this.schedulePublish();
      });
    }, this.o.publishIntervalMs);
  }

  /** One log line when this instance becomes degraded, and one when it recovers. */
  private noteDegradation(): void {
    const degraded = this.degraded;
    if (degraded === this.reportedDegraded) return;
    this.reportedDegraded = degraded;
    if (degraded) this.o.logger.error({ err: this.o.session.lastError }, 'fleet degraded: etcd cannot be reached; routing stays on the last applied state and commands are refused');
    else this.o.logger.info({ appliedRevision: this.o.store.appliedRevision }, 'fleet no longer degraded: etcd answers again');
  }

  private async publish(): Promise<void> {
    const leaseId = this.o.session.leaseId;
    if (this.publishing || this.stopped) return;
    if (leaseId === null) {
      void this.o.session.renewNow();
      return;
    }
    this.publishing = true;
    try {
      const record: InstanceRecord = {
        name: this.o.name,
        adminUrl: this.o.adminUrl(),
        configHash: this.configHashValue,
        services: this.serviceHashes,
        appliedRevision: this.o.store.appliedRevision,
        lastSeen: new Date().toISOString(),
        degraded: this.degraded,
        counters: await this.o.readCounters(),
      };
      await this.o.client.put(this.o.keys.instance(this.o.name)).value(JSON.stringify(record)).lease(leaseId);
      this.lastPublishOkAt = performance.now();
      this.seenRevisions.push({ at: performance.now(), revision: this.o.store.appliedRevision });
      // Only the newest entry older than the compaction age is ever used.
      while (this.seenRevisions.length > 1 && (this.seenRevisions[1]?.at ?? Infinity) <= performance.now() - this.compactEveryMs) this.seenRevisions.shift();
    } catch (err) {
      // A lease etcd no longer knows (it expired while etcd was away): get a new one at once.
      if (LEASE_GONE.test(errorMessage(err))) void this.o.session.renewNow();
    } finally {
      this.publishing = false;
    }
  }

  // --- the watch ------------------------------------------------------------------------

  /** Reads everything under the prefix and (re)starts the watch right after it. */
  private async resync(): Promise<void> {
    const response = await this.o.client.getAll().prefix(this.o.keys.prefix).exec();
    const revision = Number(response.header.revision);
    const present = new Set<string>();
    for (const kv of response.kvs) {
      present.add(kv.key.toString());
      this.dispatch('put', kv);
    }
    // Keys that went while the watch could not say so.
    if (!present.has(this.o.keys.leader)) this.o.election.observe(null, revision);
    for (const name of [...this.instances.keys()]) if (!present.has(this.o.keys.instance(name))) this.dropInstance(name);
    for (const id of [...this.pendingCommands.keys()]) if (!present.has(this.o.keys.command(id))) this.pendingCommands.delete(id);
    this.o.store.advance(revision);
    if (!this.watcher) await this.watch(revision + 1);
  }

  private async watch(fromRevision: number): Promise<void> {
    const watcher = await this.o.client.watch().prefix(this.o.keys.prefix).startRevision(String(fromRevision)).create();
    this.watcher = watcher;
    this.watchDownSince = null;
    watcher.on('data', (response: IWatchResponse) => {
      for (const event of response.events) {
        this.dispatch(event.type === 'Put' ? 'put' : 'delete', event.kv);
        this.o.store.advance(Number(event.kv.mod_revision));
      }
    });
    watcher.on('disconnected', () => {
      this.watchDownSince ??= performance.now();
    });
    watcher.on('connected', () => {
      this.watchDownSince = null;
    });
    watcher.on('error', (err: unknown) => {
      // Cancelled by etcd (its history was compacted past where this watch stood): read it all again.
      this.o.logger.warn({ err: errorMessage(err) }, 'the etcd watch was cancelled; reading the state again');
      this.watcher = null;
      this.watchDownSince ??= performance.now();
      void watcher.cancel().catch(() => undefined);
      void this.retryResync();
    });
  }

  private async retryResync(): Promise<void> {
    while (!this.stopped && !this.watcher) {
      try {
        await this.resync();
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  private dispatch(type: 'put' | 'delete', kv: IKeyValue): void {
    const key = kv.key.toString();
    const keys = this.o.keys;
    const revision = Number(kv.mod_revision);
    try {
      if (key.startsWith(`${keys.state}/`)) {
        this.o.store.observe(key.slice(keys.state.length + 1), type === 'put' ? kv : null, revision);
      } else if (key === keys.leader) {
        this.o.election.observe(type === 'put' ? kv : null, revision);
      } else if (key.startsWith(keys.instances)) {
        const name = key.slice(keys.instances.length);
        if (type === 'delete') this.dropInstance(name);
        else this.instanceRecord(name, JSON.parse(kv.value.toString()) as InstanceRecord);
      } else if (key.startsWith(keys.commands)) {
        const id = key.slice(keys.commands.length);
        if (type === 'delete') this.pendingCommands.delete(id);
        else {
          const command = JSON.parse(kv.value.toString()) as RelayedCommand;
          this.pendingCommands.set(id, command);
          if (this.isLeader()) void this.handleRelayed(id, command);
        }
      } else if (key.startsWith(keys.results) && type === 'put') {
        const id = key.slice(keys.results.length);
        const waiter = this.waiters.get(id);
        if (waiter) {
          const result = JSON.parse(kv.value.toString()) as CommandResult;
          // The answer comes after the state it refers to in the same revision: once that is applied.
          void this.applying.then(() => waiter(result));
        }
      }
    } catch (err) {
      this.o.logger.error({ key, err: errorMessage(err) }, 'a value in etcd could not be used; ignored (routing keeps the last applied state)');
    }
  }

  private instanceRecord(name: string, record: InstanceRecord): void {
    this.instances.set(name, record);
    if (record.counters) this.o.counters.observe(name, record.counters);
  }

  private dropInstance(name: string): void {
    this.instances.delete(name);
    this.o.counters.forget(name);
  }
}

import type { Socket } from 'node:net';
import type { ShiftproxyConfig } from '../core/config-types.js';
import { addEdgeCounterValues } from '../core/edge-counters.js';
import type { ListenerCertificates } from '../core/tls-material.js';
import type { DataPlaneState } from '../core/data-plane-state.js';
import type { Logger } from '../core/logger.js';
import { addCounterReport } from '../proxy/counter-report.js';
import type { DataPlane } from '../proxy/data-plane.js';
import { captureState } from '../proxy/data-plane-state.js';
import type { DrainResult } from '../proxy/proxy-server.js';
import type { Target } from '../proxy/target.js';
import type { Fleet, WorkerView } from './fleet.js';
import type { InitMessage, ReportMessage, StateMessage, WorkerMessage } from './fleet-messages.js';
import { replayOutcomes } from './outcome-recorder.js';
import { workerConfig } from './worker-config.js';
import { WorkerProcess, type UpstreamPoolView } from './worker-process.js';

export interface WorkerFleetOptions {
  workers: number;
  /** The worker program (dist/cluster/worker-main.js). */
  entry: string;
  /** The primary's data plane: it never listens; health, rollouts and reloads change it, and it holds the fleet's counters. */
  model: DataPlane;
  /** The running config (a reload replaces it). */
  config: () => ShiftproxyConfig;
  /** Proxy listeners: the main one and each testListen. */
  listeners: number;
  logger: Logger;
  /** How long a worker may take to apply a snapshot, answer a flush, or say anything at all, before it is replaced. */
  ackTimeoutMs?: number;
  /** How often workers report their counters unasked. */
  reportIntervalMs?: number;
  /** How long a new worker may take to be ready. */
  startTimeoutMs?: number;
}

interface Waiter {
  readonly target: number;
  readonly asked: ReadonlySet<WorkerProcess> | null;
  readonly resolve: () => void;
  timer: NodeJS.Timeout | undefined;
}

interface Pending {
  promise: Promise<void>;
  resolve: () => void;
}

const DEFAULT_ACK_TIMEOUT_MS = 5000;
const DEFAULT_REPORT_INTERVAL_MS = 100;
const DEFAULT_START_TIMEOUT_MS = 15_000;
/** A worker that dies sooner than this after starting counts as a crash loop: replacements back off. */
const QUICK_DEATH_MS = 1000;
const MAX_RESTART_DELAY_MS = 5000;

/**
 * The primary's side of the data-plane processes. It starts them, pushes each routing
 * snapshot (versioned) to all of them and knows when each applied it, adds the counters they
 * report into the primary's data plane (so /metrics and the analysis read fleet-wide sums),
 * replays their upstream outcomes into outlier detection, and replaces a worker that dies or
 * stops answering. Every wait on a worker is bounded: a worker that does not answer in time is
 * killed and replaced, so a routing change is applied by every serving worker or by none that
 * is left.
 */
export class WorkerFleet implements Fleet {
  private readonly options: WorkerFleetOptions;
  private readonly ackTimeoutMs: number;
  private readonly reportIntervalMs: number;
  private readonly startTimeoutMs: number;
  private readonly workers: WorkerProcess[] = [];
  private readonly applyWaiters: Waiter[] = [];
  private readonly flushWaiters: Waiter[] = [];
  private readonly certWaiters: Waiter[] = [];
  private certId = 0;
  private readonly drained = new Map<WorkerProcess, DrainResult>();
  private version = 0;
  private flushId = 0;
  private latest: { version: number; state: DataPlaneState } | null = null;
  private sentConfig: ShiftproxyConfig | null = null;
  private workerCfg: ShiftproxyConfig | null = null;
  private pendingPublish: Pending | null = null;
  private pendingSync: Pending | null = null;
  private cursor = 0;
  private started = false;
  private stopping = false;
  private quickDeaths = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly watchdog: NodeJS.Timeout;
  private readonly exits = new Map<WorkerProcess, Promise<void>>();
  private startWaiter: { resolve: () => void; reject: (err: Error) => void } | null = null;
  /** Workers started to replace one that died or hung. */
  restarts = 0;
  /** A worker can take a connection now (it started, or acknowledged the last one). */
  onFree: () => void = () => undefined;
  /** A worker went away with these connections still open on it, per listener. */
  onGone: (open: readonly number[]) => void = () => undefined;
  /** A connection a worker never took (it died first): it goes to another. */
  onReturned: (listener: number, socket: Socket) => void = (_listener, socket) => socket.destroy();
  /** Connections accepted and waiting for a worker (the dispatcher's queue). */
  waitingConnections: () => number = () => 0;
  /** A worker reported connections closed on listener `listener`. */
  onClosed: (listener: number, count: number) => void = () => undefined;

  constructor(options: WorkerFleetOptions) {
    this.options = options;
    this.ackTimeoutMs = options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
    this.reportIntervalMs = options.reportIntervalMs ?? DEFAULT_REPORT_INTERVAL_MS;
    this.startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    this.watchdog = setInterval(() => this.watch(), Math.min(this.reportIntervalMs, 500));
    this.watchdog.unref();
  }

  get size(): number {
    return this.options.workers;
  }

  /** Starts every worker with the current routing; resolves once all serve, rejects if one cannot start. */
  start(): Promise<void> {
    this.started = true;
    this.capture();
    const ready = new Promise<void>((resolve, reject) => (this.startWaiter = { resolve, reject }));
    for (let i = 0; i < this.options.workers; i++) this.spawn();
    return ready;
  }

  /**
   * Sends the primary's current routing to every worker (changes made in the same tick go as
   * one snapshot); resolves when every serving worker applied it, or was replaced for not
   * applying it within the bound.
   */
  publish(): Promise<void> {
    if (!this.started || (this.stopping && this.live().length === 0)) return Promise.resolve();
    if (!this.pendingPublish) {
      const pending = deferred();
      this.pendingPublish = pending;
      queueMicrotask(() => this.sendSnapshot());
    }
    return this.pendingPublish.promise;
  }

  /** Asks every serving worker for its counters and resolves once they are added (or the bound passed). */
  sync(): Promise<void> {
    if (!this.started || this.live().length === 0) return Promise.resolve();
    if (!this.pendingSync) {
      this.pendingSync = deferred();
      queueMicrotask(() => this.sendFlush());
    }
    return this.pendingSync.promise;
  }

  /**
   * Everything the workers counted so far is added, and every change made so far (including
   * those their reports caused, such as an ejection) is applied by every worker.
   */
  async settle(): Promise<void> {
    await this.sync();
    await this.publish();
  }

  list(): WorkerView[] {
    return this.workers
      .filter((w) => w.state !== 'gone')
      .map((w) => ({ pid: w.pid, snapshotVersion: w.appliedVersion, requests: w.requests, startedAt: new Date(w.startedAt).toISOString() }));
  }

  /** Each worker's state and load, as last reported (logs, tests). */
  status(): { pid: number; state: string; inFlight: number; connections: number; tunnels: number }[] {
    return this.live().map((w) => ({ pid: w.pid, state: w.state, inFlight: w.inFlight, connections: w.connections, tunnels: w.tunnels }));
  }

  /**
   * Requests in flight on every worker, as last reported, plus the connections accepted and not
   * yet in a worker's hands (their requests are on their way).
   */
  inFlight(): number {
    let count = this.waitingConnections();
    for (const worker of this.live()) count += worker.inFlight + (worker.awaitingTook ? 1 : 0);
    return count;
  }

  /** WebSocket tunnels open on the workers, as last reported. */
  openTunnels(): number {
    return this.live().reduce((sum, w) => sum + w.tunnels, 0);
  }

  /** Client connections the workers hold, as last reported. */
  clientConnections(): number {
    return this.live().reduce((sum, w) => sum + w.connections, 0);
  }

  /** A target's upstream pools summed over the workers, as last reported. */
  upstreamPool(service: string, slot: 'blue' | 'green', url: string): UpstreamPoolView {
    const key = targetKey(service, slot, url);
    const sum: UpstreamPoolView = { connected: 0, running: 0, pending: 0 };
    for (const worker of this.live()) {
      const pool = worker.pools.get(key);
      if (!pool) continue;
      sum.connected += pool.connected;
      sum.running += pool.running;
      sum.pending += pool.pending;
    }
    return sum;
  }

  /** The next worker in turn that can take a connection now, if any. */
  freeWorker(): WorkerProcess | null {
    const count = this.workers.length;
    for (let i = 0; i < count; i++) {
      const worker = this.workers[(this.cursor + i) % count] as WorkerProcess;
      if (worker.free) {
        this.cursor = (this.cursor + i + 1) % count;
        return worker;
      }
    }
    return null;
  }

  /** True while some worker could still take a connection (now or once it acknowledges). */
  hasServingWorkers(): boolean {
    return this.workers.some((w) => w.state === 'ready' || w.state === 'starting');
  }

  /** The drain is coming: every response says `Connection: close` from now on; no replacements either. */
  beginDrain(): void {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    for (const worker of this.live()) worker.send({ t: 'draining' });
  }

  /**
   * Tells every worker to drain (finish in-flight requests with `Connection: close`, close idle
   * connections, cut the rest at the deadline) and waits for them to exit. No replacements from
   * here on.
   */
  async drain(timeoutMs: number): Promise<DrainResult> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const live = this.live();
    for (const worker of live) {
      if (worker.state !== 'gone') worker.state = 'draining';
      worker.send({ t: 'drain', timeoutMs });
    }
    // A worker that cannot finish its own drain (stuck) is cut like a request past the deadline.
    const deadline = setTimeout(() => {
      for (const worker of live) worker.kill(`did not finish draining within ${timeoutMs} ms`);
    }, timeoutMs + this.ackTimeoutMs);
    await Promise.all(live.map((w) => this.exits.get(w)));
    clearTimeout(deadline);
    let cut = 0;
    let completed = true;
    for (const worker of live) {
      const result = this.drained.get(worker);
      if (!result) {
        completed = false;
        cut += worker.inFlight;
      } else {
        cut += result.cut;
        completed &&= result.completed;
      }
    }
    return { completed, cut };
  }

  /**
   * New certificates for a TLS listener: the primary's copy (what replacement workers start
   * with) and every serving worker's; resolves once each acknowledged, or the bound passed.
   */
  setCertificates(update: ListenerCertificates): Promise<void> {
    this.options.model.server.setCertificates(update);
    const live = this.workers.filter((w) => w.state === 'ready' || w.state === 'draining' || w.state === 'starting');
    if (!this.started || live.length === 0) return Promise.resolve();
    const id = ++this.certId;
    for (const worker of live) worker.send({ t: 'certs', id, update });
    return new Promise<void>((resolve) => {
      const waiter: Waiter = { target: id, asked: new Set(live), resolve, timer: undefined };
      waiter.timer = setTimeout(() => this.settleWaiter(this.certWaiters, waiter), this.ackTimeoutMs);
      this.certWaiters.push(waiter);
    });
  }

  /** Kills whatever is still running and waits for it to exit. */
  async close(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.watchdog);
    const live = this.live();
    for (const worker of live) worker.kill('the proxy is stopping');
    await Promise.all(live.map((w) => this.exits.get(w)));
    for (const waiter of [...this.applyWaiters, ...this.flushWaiters, ...this.certWaiters]) finish(waiter);
    this.applyWaiters.length = 0;
    this.flushWaiters.length = 0;
    this.certWaiters.length = 0;
  }

  private live(): WorkerProcess[] {
    return this.workers.filter((w) => w.state !== 'gone');
  }

  private capture(): void {
    const config = this.options.config();
    if (config !== this.sentConfig) {
      this.sentConfig = config;
      this.workerCfg = workerConfig(config, this.options.workers);
    }
    this.latest = { version: this.version, state: captureState(this.options.model) };
  }

  private spawn(): void {
    const latest = this.latest as { version: number; state: DataPlaneState };
    const init: InitMessage = {
      t: 'init',
      config: this.workerCfg as ShiftproxyConfig,
      version: latest.version,
      state: latest.state,
      reportIntervalMs: this.reportIntervalMs,
      logLevel: this.options.logger.level,
      certificates: this.options.model.server.listeners.flatMap((listener, index) =>
        listener.spec.listener.tls !== undefined ? [{ listener: index, certs: listener.certificates() }] : [],
      ),
    };
    const worker = new WorkerProcess(this.options.entry, init, this.options.listeners, {
      message: (w, message) => this.onMessage(w, message),
      exit: (w, code, signal) => this.onExit(w, code, signal),
      returned: (_w, listener, socket) => this.onReturned(listener, socket),
    });
    this.workers.push(worker);
    this.exits.set(worker, new Promise((resolve) => worker.child.once('exit', () => resolve())));
  }

  private sendSnapshot(): void {
    const pending = this.pendingPublish as Pending;
    this.pendingPublish = null;
    const configBefore = this.sentConfig;
    this.version += 1;
    this.capture();
    const latest = this.latest as { version: number; state: DataPlaneState };
    const message: StateMessage = { t: 'state', version: latest.version, state: latest.state };
    if (this.sentConfig !== configBefore) message.config = this.workerCfg as ShiftproxyConfig;
    for (const worker of this.live()) worker.send(message);
    const waiter: Waiter = { target: latest.version, asked: null, resolve: pending.resolve, timer: undefined };
    waiter.timer = setTimeout(() => this.overdueApply(waiter), this.ackTimeoutMs);
    this.applyWaiters.push(waiter);
    this.checkApplied();
  }

  private sendFlush(): void {
    const pending = this.pendingSync as Pending;
    this.pendingSync = null;
    const id = ++this.flushId;
    const asked = new Set(this.workers.filter((w) => w.state === 'ready' || w.state === 'draining'));
    for (const worker of asked) worker.send({ t: 'flush', id });
    // A worker that does not answer is the watchdog's to replace; the caller gets what the others sent.
    const waiter: Waiter = { target: id, asked, resolve: pending.resolve, timer: undefined };
    waiter.timer = setTimeout(() => this.settleWaiter(this.flushWaiters, waiter), this.ackTimeoutMs);
    this.flushWaiters.push(waiter);
    this.checkFlushed();
  }

  private overdueApply(waiter: Waiter): void {
    waiter.timer = undefined;
    for (const worker of this.workers) {
      if ((worker.state === 'ready' || worker.state === 'draining') && worker.appliedVersion < waiter.target) {
        worker.kill(`did not apply routing snapshot ${waiter.target} within ${this.ackTimeoutMs} ms`);
      }
    }
    // Resolved once the laggards have exited (checkApplied runs on every exit).
  }

  private checkApplied(): void {
    for (const waiter of [...this.applyWaiters]) {
      const behind = this.workers.some((w) => (w.state === 'ready' || w.state === 'draining') && w.appliedVersion < waiter.target);
      if (!behind) this.settleWaiter(this.applyWaiters, waiter);
    }
  }

  private checkCertificates(): void {
    for (const waiter of [...this.certWaiters]) {
      const missing = [...(waiter.asked ?? [])].some((w) => w.state !== 'gone' && w.certsApplied < waiter.target);
      if (!missing) this.settleWaiter(this.certWaiters, waiter);
    }
  }

  private checkFlushed(): void {
    for (const waiter of [...this.flushWaiters]) {
      const missing = [...(waiter.asked ?? [])].some((w) => w.state !== 'gone' && w.flushedId < waiter.target);
      if (!missing) this.settleWaiter(this.flushWaiters, waiter);
    }
  }

  private settleWaiter(list: Waiter[], waiter: Waiter): void {
    const index = list.indexOf(waiter);
    if (index >= 0) list.splice(index, 1);
    finish(waiter);
  }

  private onMessage(worker: WorkerProcess, message: WorkerMessage): void {
    switch (message.t) {
      case 'ready':
        if (worker.state === 'starting') worker.state = 'ready';
        worker.appliedVersion = Math.max(worker.appliedVersion, message.version);
        this.checkStarted();
        this.checkApplied();
        this.onFree();
        return;
      case 'applied':
        worker.appliedVersion = Math.max(worker.appliedVersion, message.version);
        this.checkApplied();
        return;
      case 'took':
        worker.took();
        this.onFree();
        return;
      case 'report':
        this.addReport(worker, message);
        return;
      case 'drained':
        this.drained.set(worker, { completed: message.completed, cut: message.cut });
        return;
      case 'certs-applied':
        worker.certsApplied = Math.max(worker.certsApplied, message.id);
        this.checkCertificates();
        return;
    }
  }

  private addReport(worker: WorkerProcess, report: ReportMessage): void {
    const model = this.options.model;
    addCounterReport(model, report.counters);
    for (const counts of report.counters.roles) worker.requests += counts.responses + counts.clientAborts;
    worker.inFlight = report.inFlight;
    worker.tunnels = report.tunnels;
    worker.connections = report.connections;
    const moved = new Set<string>();
    for (const counts of report.counters.targets) {
      const key = targetKey(counts.service, counts.slot, counts.url);
      worker.active.set(key, counts.active);
      worker.pools.set(key, { connected: counts.connected, running: counts.running, pending: counts.pending });
      moved.add(key);
    }
    if (moved.size > 0) this.sumActive(moved);
    for (const run of report.outcomes) {
      const target = findTarget(model, run.service, run.slot, run.url);
      if (target) replayOutcomes(target, run);
    }
    const listeners = model.server.listeners;
    report.edge.forEach((values, index) => {
      const listener = listeners[index];
      if (listener) addEdgeCounterValues(listener.counters, values);
    });
    report.closed.forEach((count, listener) => {
      if (count === 0) return;
      worker.open[listener] = Math.max(0, (worker.open[listener] ?? 0) - count);
      this.onClosed(listener, count);
    });
    if (report.id !== undefined) {
      worker.flushedId = Math.max(worker.flushedId, report.id);
      this.checkFlushed();
    }
  }

  /** The model's `active` gauges are the sum of what each worker last reported. */
  private sumActive(keys: Iterable<string>): void {
    const model = this.options.model;
    for (const key of keys) {
      const [service, slot, url] = key.split('\u0000') as [string, 'blue' | 'green', string];
      const target = findTarget(model, service, slot, url);
      if (!target) continue;
      let sum = 0;
      for (const worker of this.workers) if (worker.state !== 'gone') sum += worker.active.get(key) ?? 0;
      target.counters.active = sum;
    }
  }

  private onExit(worker: WorkerProcess, code: number | null, signal: NodeJS.Signals | null): void {
    const index = this.workers.indexOf(worker);
    if (index >= 0) this.workers.splice(index, 1);
    if (this.cursor > this.workers.length) this.cursor = 0;
    this.sumActive(worker.active.keys());
    this.onGone(worker.open);
    this.checkApplied();
    this.checkFlushed();
    this.checkCertificates();
    const lived = Date.now() - worker.startedAt;
    if (this.startWaiter && !this.drained.has(worker)) {
      const waiter = this.startWaiter;
      this.startWaiter = null;
      waiter.reject(new Error(`a worker process exited before it was ready (code ${code}, signal ${signal})`));
      return;
    }
    if (this.stopping) return;
    this.options.logger.error(
      { pid: worker.pid, code, signal, reason: worker.killedFor ?? 'it exited', livedMs: lived },
      'worker process gone; starting a replacement',
    );
    this.quickDeaths = lived < QUICK_DEATH_MS ? this.quickDeaths + 1 : 0;
    const delayMs = this.quickDeaths === 0 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 100 * 2 ** (this.quickDeaths - 1));
    this.restarts += 1;
    if (delayMs === 0) this.replace();
    else {
      const timer = setTimeout(() => this.replace(), delayMs);
      timer.unref();
      this.restartTimer = timer;
    }
  }

  private replace(): void {
    if (this.stopping) return;
    this.capture();
    this.spawn();
  }

  private checkStarted(): void {
    if (this.startWaiter && this.workers.length >= this.options.workers && this.workers.every((w) => w.state === 'ready')) {
      const waiter = this.startWaiter;
      this.startWaiter = null;
      waiter.resolve();
    }
  }

  /** Replaces workers that stopped talking (a report is due every interval) or never became ready. */
  private watch(): void {
    const now = performance.now();
    for (const worker of this.workers) {
      if (worker.state === 'starting' && now - worker.lastHeardAt > this.startTimeoutMs) {
        worker.kill(`not ready within ${this.startTimeoutMs} ms`);
      } else if ((worker.state === 'ready' || worker.state === 'draining') && now - worker.lastHeardAt > this.ackTimeoutMs) {
        worker.kill(`silent for more than ${this.ackTimeoutMs} ms`);
      } else if (worker.state !== 'gone' && worker.awaitingTook && now - worker.handedAt > this.ackTimeoutMs) {
        // The connection never arrived (a descriptor the worker could not receive is not sent
        // again when the primary keeps its copy): killing the worker gives it back, and the
        // worker no longer sits out of the rotation for good.
        worker.kill(`did not take a connection within ${this.ackTimeoutMs} ms`);
      }
    }
  }
}

function targetKey(service: string, slot: string, url: string): string {
  return `${service}\u0000${slot}\u0000${url}`;
}

function findTarget(model: DataPlane, service: string, slot: 'blue' | 'green', url: string): Target | undefined {
  if (!model.serviceNames().includes(service)) return undefined;
  return model.runtime(service).slot(slot).targets.find((t) => t.url === url);
}

function deferred(): Pending {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function finish(waiter: Waiter): void {
  clearTimeout(waiter.timer);
  waiter.timer = undefined;
  waiter.resolve();
}

import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import type { InitMessage, PrimaryMessage, WorkerMessage } from './fleet-messages.js';
import { workerExecArgv } from './worker-node-options.js';

export type WorkerState = 'starting' | 'ready' | 'draining' | 'gone';

/** A target's upstream pool in one worker (or summed over the fleet). */
export interface UpstreamPoolView {
  connected: number;
  running: number;
  pending: number;
}

/** What the fleet hears from one worker. */
export interface WorkerEvents {
  message(worker: WorkerProcess, message: WorkerMessage): void;
  exit(worker: WorkerProcess, code: number | null, signal: NodeJS.Signals | null): void;
  /** A connection handed over that the worker never took (it died, or the hand-over failed): still the primary's to place. */
  returned(worker: WorkerProcess, listener: number, socket: Socket): void;
}

/**
 * The primary's handle on one worker process: its state, the routing version it applied, the
 * connection handed to it and not yet acknowledged, and its last word (for the watchdog).
 */
export class WorkerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Wall-clock ms the process was started. */
  readonly startedAt: number;
  state: WorkerState = 'starting';
  /** The newest routing version it serves (the init's version before it is ready). */
  appliedVersion: number;
  /** Requests it answered (or saw aborted), from its reports. */
  requests = 0;
  inFlight = 0;
  /** WebSocket tunnels and client connections it held, at its last report. */
  tunnels = 0;
  connections = 0;
  /** A connection sent and not yet acknowledged; the next one waits, so a stuck worker holds at most one. */
  awaitingTook = false;
  /** Monotonic ms the connection awaiting acknowledgment was sent (for the watchdog). */
  handedAt = 0;
  /** Client connections it took and has not reported closed, per listener. */
  readonly open: number[];
  /** Per target (service, slot, url), from its last report: requests in flight and its upstream pool. */
  readonly active = new Map<string, number>();
  readonly pools = new Map<string, UpstreamPoolView>();
  /** Monotonic ms of its last message. */
  lastHeardAt: number;
  /** The newest flush it answered. */
  flushedId = 0;
  /** The newest certificate update it acknowledged. */
  certsApplied = 0;
  /** Killed by the primary (not a crash): the reason, for the log. */
  killedFor: string | null = null;
  /**
   * The connection handed over and not yet taken. The primary keeps its own descriptor until the
   * worker says it took the connection: a worker that dies first (its acknowledgment of the
   * descriptor never comes, and Node then never closes a copy it sent) would otherwise leave
   * the client waiting on a connection no process reads.
   */
  private handed: { listener: number; socket: Socket } | null = null;
  private readonly events: WorkerEvents;

  constructor(entry: string, init: InitMessage, listeners: number, events: WorkerEvents) {
    this.child = fork(entry, [], {
      serialization: 'advanced',
      execArgv: workerExecArgv(),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.pid = this.child.pid ?? 0;
    this.startedAt = Date.now();
    this.appliedVersion = init.version;
    this.lastHeardAt = performance.now();
    this.open = new Array<number>(listeners).fill(0);
    this.events = events;
    this.child.on('message', (message: WorkerMessage) => {
      this.lastHeardAt = performance.now();
      events.message(this, message);
    });
    this.child.once('exit', (code, signal) => {
      this.state = 'gone';
      events.exit(this, code, signal);
    });
    // 'close' comes once the channel is read to its end: a 'took' the worker sent before it died
    // has been delivered by then (its event on the next tick, hence the immediate).
    this.child.once('close', () => setImmediate(() => this.giveBack()));
    // A send racing the exit reports EPIPE here; the exit event does the rest.
    this.child.on('error', () => undefined);
    this.send(init);
  }

  /** True when it can take a connection now. */
  get free(): boolean {
    return this.state === 'ready' && !this.awaitingTook;
  }

  send(message: PrimaryMessage): void {
    if (!this.child.connected) return;
    this.child.send(message, ignoreSendError);
  }

  /** Hands over an accepted connection; false when the channel is already closed (the socket stays the caller's, and this worker takes no more). */
  handOver(listener: number, socket: Socket): boolean {
    this.awaitingTook = true;
    this.handedAt = performance.now();
    if (!this.child.connected) return false;
    this.handed = { listener, socket };
    this.child.send({ t: 'conn', listener } satisfies PrimaryMessage, socket, { keepOpen: true }, (err) => {
      if (err) this.giveBack();
    });
    return true;
  }

  /** The worker holds the connection now: it counts as open there, and the primary's copy goes. */
  took(): void {
    this.awaitingTook = false;
    const handed = this.handed;
    this.handed = null;
    if (!handed) return;
    this.open[handed.listener] = (this.open[handed.listener] ?? 0) + 1;
    // Closing one descriptor of a connection another process holds leaves the connection open.
    handed.socket.destroy();
  }

  private giveBack(): void {
    const handed = this.handed;
    this.handed = null;
    if (handed) this.events.returned(this, handed.listener, handed.socket);
  }

  kill(reason: string): void {
    if (this.state === 'gone') return;
    this.killedFor ??= reason;
    this.child.kill('SIGKILL');
  }
}

function ignoreSendError(): void {}

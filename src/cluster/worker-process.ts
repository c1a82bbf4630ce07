import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import type { InitMessage, PrimaryMessage, WorkerMessage } from './fleet-messages.js';

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
  /** Client connections handed to it and not reported closed, per listener. */
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

  constructor(entry: string, init: InitMessage, listeners: number, events: WorkerEvents) {
    this.child = fork(entry, [], {
      serialization: 'advanced',
      // Not the primary's flags: a test runner's or a debugger's options are not the worker's.
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.pid = this.child.pid ?? 0;
    this.startedAt = Date.now();
    this.appliedVersion = init.version;
    this.lastHeardAt = performance.now();
    this.open = new Array<number>(listeners).fill(0);
    this.child.on('message', (message: WorkerMessage) => {
      this.lastHeardAt = performance.now();
      events.message(this, message);
    });
    this.child.once('exit', (code, signal) => {
      this.state = 'gone';
      events.exit(this, code, signal);
    });
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
    if (!this.child.connected) return false;
    this.open[listener] = (this.open[listener] ?? 0) + 1;
    this.child.send({ t: 'conn', listener } satisfies PrimaryMessage, socket, { keepOpen: false }, (err) => {
      // Not delivered (the worker died meanwhile): the connection is lost with it.
      if (err) socket.destroy();
    });
    return true;
  }

  kill(reason: string): void {
    if (this.state === 'gone') return;
    this.killedFor ??= reason;
    this.child.kill('SIGKILL');
  }
}

function ignoreSendError(): void {}

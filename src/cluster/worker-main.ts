import type { Socket } from 'node:net';
import type { ShiftproxyConfig } from '../core/config-types.js';
import { edgeCounterValues } from '../core/edge-counters.js';
import { errorMessage } from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import { CounterReader } from '../proxy/counter-report.js';
import { DataPlane } from '../proxy/data-plane.js';
import { applyState } from '../proxy/data-plane-state.js';
import type { CertificatesMessage, InitMessage, PrimaryMessage, ReportMessage, StateMessage, WorkerMessage } from './fleet-messages.js';
import { OutcomeRecorder } from './outcome-recorder.js';

/**
 * A worker process: a data plane that serves the client connections the primary hands over,
 * routes as the primary's snapshots say, and reports what it counted. It makes no decision of
 * its own: no health checks, no rollouts, no listening socket. It leaves when told to drain,
 * or when the primary is gone (after finishing what it has).
 */

/** How long a connection handed over before a drain may take to send its first bytes. */
const FIRST_BYTES_GRACE_MS = 1000;

let logger = createLogger().child({ component: 'worker', pid: process.pid });

class Worker {
  private readonly dataPlane: DataPlane;
  private readonly reader: CounterReader;
  private readonly recorders = new Map<string, OutcomeRecorder>();
  private readonly closed: number[];
  private readonly adopted = new Set<Socket>();
  config: ShiftproxyConfig;
  private promptReport: NodeJS.Immediate | undefined;
  private readonly timer: NodeJS.Timeout;
  private draining: Promise<void> | null = null;
  private markedDraining = false;
  /** Each listener's connection-level counts as last reported. */
  private readonly edgeMarks: number[][];

  constructor(init: InitMessage) {
    this.config = init.config;
    this.dataPlane = new DataPlane(init.config, { certificates: init.certificates });
    applyState(this.dataPlane, init.state);
    this.reader = new CounterReader(this.dataPlane);
    // One count per listener, in the order of proxyListeners (the primary hands connections over by it).
    this.closed = new Array<number>(this.dataPlane.server.listeners.length).fill(0);
    this.edgeMarks = this.dataPlane.server.listeners.map((l) => edgeCounterValues(l.counters));
    this.installRecorders();
    this.dataPlane.server.serveAdopted();
    this.timer = setInterval(() => this.report(), init.reportIntervalMs);
    send({ t: 'ready', version: init.version });
  }

  apply(message: StateMessage): void {
    if (message.config) this.config = message.config;
    applyState(this.dataPlane, message.state, message.config?.services);
    this.installRecorders();
    send({ t: 'applied', version: message.version });
  }

  setCertificates(message: CertificatesMessage): void {
    this.dataPlane.server.setCertificates(message.update);
    send({ t: 'certs-applied', id: message.id });
  }

  adopt(listener: number, socket: Socket): void {
    send({ t: 'took' });
    this.adopted.add(socket);
    socket.once('close', () => {
      this.adopted.delete(socket);
      this.closed[listener] = (this.closed[listener] ?? 0) + 1;
      // The primary counts connections against server.maxConnections: a freed place is told at once.
      if (this.config.server.maxConnections > 0) this.reportSoon();
    });
    this.dataPlane.server.adopt(listener, socket);
  }

  report(id?: number): void {
    const outcomes = [...this.recorders.values()].flatMap((r) => r.take());
    const message: ReportMessage = {
      t: 'report',
      counters: this.reader.read(),
      outcomes,
      closed: this.closed.slice(),
      inFlight: this.dataPlane.server.inFlight(),
      tunnels: this.dataPlane.server.openTunnels(),
      connections: this.adopted.size,
      edge: this.edgeDeltas(),
    };
    if (id !== undefined) message.id = id;
    this.closed.fill(0);
    send(message);
  }

  markDraining(): void {
    if (this.markedDraining) return;
    this.markedDraining = true;
    this.dataPlane.server.markDraining();
    // From here every answer carries Connection: close; the line says so for each worker.
    logger.info({ inFlight: this.dataPlane.server.inFlight(), connections: this.adopted.size }, 'worker draining');
  }

  private edgeDeltas(): number[][] {
    let moved = false;
    const deltas = this.dataPlane.server.listeners.map((listener, i) => {
      const now = edgeCounterValues(listener.counters);
      const mark = this.edgeMarks[i] as number[];
      const delta = now.map((value, j) => value - (mark[j] ?? 0));
      if (delta.some((d) => d !== 0)) moved = true;
      this.edgeMarks[i] = now;
      return delta;
    });
    return moved ? deltas : [];
  }

  drain(timeoutMs: number): Promise<void> {
    this.draining ??= (async () => {
      const began = performance.now();
      this.markDraining();
      // Connections handed over just before the drain may not have sent their request yet; the
      // drain would take them for idle and close them unanswered.
      while ([...this.adopted].some((s) => s.bytesRead === 0 && !s.destroyed) && performance.now() - began < Math.min(FIRST_BYTES_GRACE_MS, timeoutMs)) {
        await delay(10);
      }
      const result = await this.dataPlane.drain(Math.max(0, timeoutMs - (performance.now() - began)));
      clearInterval(this.timer);
      this.report();
      await this.dataPlane.close();
      // The primary waits for this message, so it must be written before the process exits.
      await sendNow({ t: 'drained', ...result });
    })();
    return this.draining;
  }

  /**
   * Passive health is the primary's (each target's failure streak, and outlier detection where
   * configured): every target reports its outcomes through its service's recorder.
   */
  private installRecorders(): void {
    for (const runtime of this.dataPlane.runtimesList()) {
      const threshold = runtime.config.outlierDetection?.consecutiveErrors ?? Infinity;
      let recorder = this.recorders.get(runtime.name);
      if (recorder?.threshold !== threshold) {
        const previous = recorder;
        recorder = new OutcomeRecorder(threshold, () => this.reportSoon());
        if (previous) recorder.carry(previous);
        this.recorders.set(runtime.name, recorder);
      }
      for (const target of runtime.allTargets()) target.passive = recorder;
    }
  }

  private reportSoon(): void {
    this.promptReport ??= setImmediate(() => {
      this.promptReport = undefined;
      this.report();
    });
  }
}

let worker: Worker | null = null;
let pendingInit = true;

process.on('message', (message: PrimaryMessage, handle?: Socket) => {
  try {
    switch (message.t) {
      case 'init':
        if (!pendingInit) return;
        pendingInit = false;
        logger = createLogger({ level: message.logLevel }).child({ component: 'worker', pid: process.pid });
        worker = new Worker(message);
        return;
      case 'state':
        worker?.apply(message);
        return;
      case 'conn':
        if (!handle) return;
        if (!worker) handle.destroy();
        else worker.adopt(message.listener, handle);
        return;
      case 'flush':
        worker?.report(message.id);
        return;
      case 'certs':
        worker?.setCertificates(message);
        return;
      case 'draining':
        worker?.markDraining();
        return;
      case 'drain':
        void leave(message.timeoutMs);
        return;
    }
  } catch (err) {
    logger.error({ err: errorMessage(err), message: message.t }, 'worker failed to handle a message from the primary');
  }
});

// The primary went away (it was killed): finish what is in flight, then go too.
process.on('disconnect', () => void leave(worker ? undefined : 0));
// Signals to the whole process group (Ctrl-C, a terminal closing, systemd stopping the unit) are
// the primary's to act on: it drains every worker itself.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);
process.on('uncaughtException', (err) => logger.error({ err: errorMessage(err), stack: err.stack }, 'uncaught exception; still serving'));
process.on('unhandledRejection', (reason) => logger.error({ err: errorMessage(reason) }, 'unhandled rejection; still serving'));

async function leave(timeoutMs: number | undefined): Promise<void> {
  if (worker) await worker.drain(timeoutMs ?? worker.config.server.drainTimeoutMs);
  process.exit(0);
}

function send(message: WorkerMessage): void {
  // A closed channel means the primary is gone; 'disconnect' handles that.
  if (process.connected) process.send?.(message, undefined, {}, ignoreSendError);
}

function sendNow(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

function ignoreSendError(): void {}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { ListenAddress } from '../core/types.js';
import type { WorkerFleet } from './worker-fleet.js';

export interface ConnectionDispatcherOptions {
  /** The proxy listeners: the main one, then each service's testListen, in config order. */
  addresses: readonly ListenAddress[];
  /** Client connections per listener across all workers; 0 for no limit. */
  maxConnections: number;
  fleet: WorkerFleet;
  /** An accept error a listening socket reported; accepting goes on. */
  onListenerError: (err: Error) => void;
}

/** Accepted connections waiting for a worker past this many are closed at once (every worker is stuck). */
const MAX_QUEUED = 4096;

/**
 * The primary owns the listening sockets and hands each accepted connection to the next worker
 * in turn, as node:cluster's round-robin scheduler does, without ever reading from it. A worker
 * gets the next connection only once it acknowledged the previous one, so a stuck worker holds
 * at most one; connections wait here (in accept order) for a worker that can take them, and a
 * worker that dies or leaves loses none of those. Being the one acceptor also makes
 * `server.maxConnections` exact across workers.
 */
export class ConnectionDispatcher {
  private readonly options: ConnectionDispatcherOptions;
  private readonly servers: Server[];
  private readonly queue: { listener: number; socket: Socket }[] = [];
  private readonly open: number[];
  private accepting = true;
  private readonly emptied: (() => void)[] = [];

  constructor(options: ConnectionDispatcherOptions) {
    this.options = options;
    this.open = options.addresses.map(() => 0);
    this.servers = options.addresses.map((_, listener) => {
      // pauseOnConnect: the primary never reads a byte; the worker's HTTP parser gets them all.
      const server = createServer({ pauseOnConnect: true, noDelay: true }, (socket) => this.accept(listener, socket));
      return server;
    });
    const { fleet } = options;
    fleet.onFree = () => this.pump();
    fleet.onClosed = (listener, count) => this.closed(listener, count);
    fleet.onGone = (open) => open.forEach((count, listener) => this.closed(listener, count));
    // First in line again: it was accepted before everything still waiting.
    fleet.onReturned = (listener, socket) => {
      this.queue.unshift({ listener, socket });
      this.pump();
    };
    fleet.waitingConnections = () => this.queue.length;
  }

  listen(): Promise<AddressInfo[]> {
    return Promise.all(
      this.servers.map(
        (server, i) =>
          new Promise<AddressInfo>((resolve, reject) => {
            const address = this.options.addresses[i] as ListenAddress;
            server.once('error', reject);
            server.listen({ host: address.host, port: address.port }, () => {
              server.off('error', reject);
              server.on('error', (err: Error) => this.options.onListenerError(err));
              resolve(server.address() as AddressInfo);
            });
          }),
      ),
    );
  }

  /** Connections accepted and not yet handed to a worker. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Stops accepting, then waits until every connection already accepted is in a worker's
   * hands (bounded: past `timeoutMs` the rest are closed), so a drain that follows loses none.
   */
  async stopAccepting(timeoutMs: number): Promise<void> {
    this.accepting = false;
    for (const server of this.servers) if (server.listening) server.close();
    if (this.queue.length === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        for (const { socket } of this.queue.splice(0)) socket.destroy();
        resolve();
      }, timeoutMs);
      this.emptied.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Closes the listeners and every connection not yet handed over. */
  close(): void {
    this.accepting = false;
    for (const server of this.servers) if (server.listening) server.close();
    for (const { socket } of this.queue.splice(0)) socket.destroy();
    this.notifyEmptied();
  }

  private accept(listener: number, socket: Socket): void {
    const limit = this.options.maxConnections;
    if (!this.accepting || (limit > 0 && (this.open[listener] as number) >= limit) || this.queue.length >= MAX_QUEUED) {
      socket.destroy();
      return;
    }
    // A reset while queued must not become an unhandled 'error'.
    socket.on('error', () => socket.destroy());
    this.open[listener] = (this.open[listener] as number) + 1;
    this.queue.push({ listener, socket });
    this.pump();
  }

  private pump(): void {
    const { fleet } = this.options;
    while (this.queue.length > 0) {
      const worker = fleet.freeWorker();
      if (worker === null) {
        // No worker will ever come (every one is gone during a stop): these cannot be served.
        if (!fleet.hasServingWorkers() && !this.accepting) this.close();
        return;
      }
      const { listener, socket } = this.queue.shift() as { listener: number; socket: Socket };
      if (socket.destroyed) {
        this.closed(listener, 1);
        continue;
      }
      if (!worker.handOver(listener, socket)) this.queue.unshift({ listener, socket });
    }
    this.notifyEmptied();
  }

  private closed(listener: number, count: number): void {
    this.open[listener] = Math.max(0, (this.open[listener] ?? 0) - count);
  }

  private notifyEmptied(): void {
    if (this.queue.length > 0) return;
    for (const resolve of this.emptied.splice(0)) resolve();
  }
}

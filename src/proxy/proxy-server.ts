import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ServerConfig } from '../core/config-types.js';
import type { ListenAddress } from '../core/types.js';
import { GLOBAL_RESPONSES } from './error-responses.js';
import { createRequestHandler, type ListenerState, type SnapshotSource } from './request-handler.js';
import { createUpgradeHandler, type TunnelSet } from './websocket-tunnel.js';

interface Listener {
  readonly server: Server;
  readonly state: ListenerState;
  readonly tunnels: TunnelSet;
  readonly address: ListenAddress;
  readonly testService: string | null;
}

export interface DrainResult {
  /** True when every in-flight request finished before the deadline. */
  completed: boolean;
  /** Requests and tunnels cut at the deadline. */
  cut: number;
}

/**
 * The proxy's listeners: the main one and one per service `testListen`. Owns the Node server
 * options (client timeouts, header limits), the answers to requests Node's parser rejects, and
 * the drain on shutdown.
 */
export class ProxyServer {
  private readonly listeners: Listener[] = [];
  private readonly source: SnapshotSource;
  private readonly config: ServerConfig;

  constructor(source: SnapshotSource, config: ServerConfig) {
    this.source = source;
    this.config = config;
  }

  addListener(address: ListenAddress, testService: string | null = null): void {
    const state: ListenerState = { inFlight: 0, draining: false };
    const tunnels: TunnelSet = new Set();
    const config = this.config;
    const server = createServer(
      {
        keepAliveTimeout: config.keepAliveTimeoutMs,
        headersTimeout: config.headersTimeoutMs,
        requestTimeout: config.requestTimeoutMs,
        // Node only enforces the two timeouts above on this sweep; keep it well under them.
        connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(config.headersTimeoutMs / 4))),
        maxHeaderSize: config.maxHeaderBytes,
        requireHostHeader: true,
        joinDuplicateHeaders: false,
        insecureHTTPParser: false,
        noDelay: true,
      },
      createRequestHandler(this.source, state, testService),
    );
    server.on('upgrade', createUpgradeHandler(this.source, state, tunnels, testService));
    server.on('connect', (_req, socket: Duplex) => {
      socket.on('error', () => socket.destroy());
      socket.end(GLOBAL_RESPONSES.connectNotAllowed.raw);
    });
    server.on('clientError', answerClientError);
    this.listeners.push({ server, state, tunnels, address, testService });
  }

  /** Starts every listener; resolves with their bound addresses (port 0 becomes a real port). */
  async listen(): Promise<AddressInfo[]> {
    return Promise.all(
      this.listeners.map(
        (listener) =>
          new Promise<AddressInfo>((resolve, reject) => {
            const onError = (err: Error) => reject(err);
            listener.server.once('error', onError);
            listener.server.listen({ host: listener.address.host, port: listener.address.port }, () => {
              listener.server.off('error', onError);
              resolve(listener.server.address() as AddressInfo);
            });
          }),
      ),
    );
  }

  addresses(): { testService: string | null; address: AddressInfo }[] {
    return this.listeners.map((l) => ({ testService: l.testService, address: l.server.address() as AddressInfo }));
  }

  inFlight(): number {
    return this.listeners.reduce((sum, l) => sum + l.state.inFlight, 0);
  }

  /**
   * Stops accepting, lets in-flight requests finish (their responses say `Connection: close`),
   * closes idle keep-alive connections as they appear, and cuts whatever is left at the deadline.
   */
  async drain(timeoutMs: number): Promise<DrainResult> {
    const closed = this.listeners.map(
      (listener) =>
        new Promise<void>((resolve) => {
          listener.state.draining = true;
          if (!listener.server.listening) return resolve();
          listener.server.close(() => resolve());
          listener.server.closeIdleConnections();
        }),
    );
    const deadline = performance.now() + timeoutMs;
    while (this.busy() && performance.now() < deadline) {
      await delay(20);
      for (const listener of this.listeners) listener.server.closeIdleConnections();
    }
    let cut = 0;
    for (const listener of this.listeners) {
      cut += listener.state.inFlight + listener.tunnels.size;
      for (const tunnel of listener.tunnels) tunnel.destroy();
      listener.server.closeAllConnections();
    }
    await Promise.all(closed);
    return { completed: cut === 0, cut };
  }

  /** Closes everything at once (tests, failed start). */
  async close(): Promise<void> {
    await this.drain(0);
  }

  private busy(): boolean {
    return this.listeners.some((l) => l.state.inFlight > 0 || l.tunnels.size > 0);
  }
}

/**
 * Node's parser refused the request (or the client timed out). Answer like Node would (400, 408,
 * 431) with our JSON body, unless a response already started on this connection, in which case
 * the connection is cut.
 */
function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  const inProgress = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || inProgress?.headersSent) {
    socket.destroy();
    return;
  }
  const response =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? GLOBAL_RESPONSES.headersTooLarge
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? GLOBAL_RESPONSES.requestTimeout
        : GLOBAL_RESPONSES.badRequest;
  socket.end(response.raw);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ServerConfig } from '../core/config-types.js';
import type { ListenAddress } from '../core/types.js';
import { GLOBAL_RESPONSES, type PrebuiltResponse } from './error-responses.js';
import { kExchange, type ResponseWithExchange } from './exchange.js';
import { createRequestHandler, type ListenerState, type SnapshotSource } from './request-handler.js';
import { endWith } from './socket-refusal.js';
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
  /** Errors a listening server reported (an accept error libuv passes on, like ENOBUFS); the process keeps serving. */
  listenerErrors = 0;
  /** Told about each such error; the control plane logs them (rate-limited). */
  onListenerError: (err: Error) => void = () => undefined;

  constructor(source: SnapshotSource, config: ServerConfig) {
    this.source = source;
    this.config = config;
  }

  addListener(address: ListenAddress, testService: string | null = null): void {
    const state: ListenerState = { inFlight: 0, draining: false };
    const tunnels: TunnelSet = new Set();
    const config = this.config;
    const handler = createRequestHandler(this.source, state, testService);
    const server = createServer(
      {
        keepAliveTimeout: config.keepAliveTimeoutMs,
        headersTimeout: config.headersTimeoutMs,
        requestTimeout: config.requestTimeoutMs,
        // Node only enforces the two timeouts above on this sweep; keep it well under them.
        connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(config.headersTimeoutMs / 4))),
        maxHeaderSize: config.maxHeaderBytes,
        // The handler checks Host itself, so this refusal carries the same JSON body as the others.
        requireHostHeader: false,
        joinDuplicateHeaders: false,
        insecureHTTPParser: false,
        noDelay: true,
      },
      handler,
    );
    // With a 'checkContinue' listener Node no longer sends 100 Continue by itself: the handler does, once it forwards.
    server.on('checkContinue', handler);
    server.on('upgrade', createUpgradeHandler(this.source, state, tunnels, testService));
    server.on('connect', (_req, socket: Duplex) => endWith(socket, GLOBAL_RESPONSES.connectNotAllowed.raw));
    server.on('clientError', answerClientError);
    if (config.maxConnections > 0) server.maxConnections = config.maxConnections;
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
              // Once listening, a server 'error' (an accept error: libuv absorbs most EMFILE itself, not
              // ENOBUFS or ENOMEM) with no listener would throw; it is counted and reported, and accepting goes on.
              listener.server.on('error', (err: Error) => {
                this.listenerErrors += 1;
                this.onListenerError(err);
              });
              resolve(listener.server.address() as AddressInfo);
            });
          }),
      ),
    );
  }

  /**
   * For a process that serves connections another one accepted (see `adopt`) instead of
   * listening: starts what Node starts when a server begins listening, the connection tracking
   * that client timeouts and the drain's idle-connection closing rely on.
   */
  serveAdopted(): void {
    for (const listener of this.listeners) listener.server.emit('listening');
  }

  /** Serves a connection accepted elsewhere on listener `index` (the order of `addListener`). */
  adopt(index: number, socket: Socket): void {
    const listener = this.listeners[index];
    if (listener === undefined) {
      socket.destroy();
      return;
    }
    listener.server.emit('connection', socket);
  }

  addresses(): { testService: string | null; address: AddressInfo }[] {
    return this.listeners.map((l) => ({ testService: l.testService, address: l.server.address() as AddressInfo }));
  }

  inFlight(): number {
    return this.listeners.reduce((sum, l) => sum + l.state.inFlight, 0);
  }

  /** WebSocket tunnels open now (the drain waits for them too). */
  openTunnels(): number {
    return this.listeners.reduce((sum, l) => sum + l.tunnels.size, 0);
  }

  /** From now on every response says `Connection: close` (a drain is coming; idle connections are left alone until it does). */
  markDraining(): void {
    for (const listener of this.listeners) listener.state.draining = true;
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

type ServerSocket = Socket & { _httpMessage?: ResponseWithExchange | null; [kRefused]?: true };

const kRefused = Symbol('shiftproxy.refused');

/**
 * Node's parser refused bytes on this connection, or the client timed out. The answer (400,
 * 408, 431 with our JSON body, then close) must not overtake responses still owed to earlier
 * pipelined requests, so it waits for them. When the refused bytes belong to the request whose
 * response is in progress (a bad chunk, a body too slow), that exchange is aborted upstream and
 * the client gets the error, or a cut connection if the response had already begun.
 */
function answerClientError(err: Error & { code?: string }, duplex: Duplex): void {
  const socket = duplex as ServerSocket;
  // Node calls this again for every later packet on a failed parser: answer once.
  if (socket[kRefused]) return;
  socket[kRefused] = true;
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  // The same statuses Node's own answers use.
  const response =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? GLOBAL_RESPONSES.headersTooLarge
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? GLOBAL_RESPONSES.requestTimeout
        : err.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
          ? GLOBAL_RESPONSES.chunkExtensionsTooLarge
          : GLOBAL_RESPONSES.badRequest;
  answerAfterPending(socket, response);
}

function answerAfterPending(socket: ServerSocket, response: PrebuiltResponse): void {
  if (socket.destroyed) return;
  const pending = socket._httpMessage;
  if (pending !== null && pending !== undefined) {
    const exchange = pending[kExchange];
    if (exchange !== undefined && !pending.req.complete) {
      // The refused bytes belong to the request being forwarded: abort it upstream, then answer or cut.
      if (pending.headersSent) {
        exchange.onRequestRejected(0);
        socket.destroy();
      } else {
        exchange.onRequestRejected(response.status);
        socket.end(response.raw);
      }
      return;
    }
    // A response marked as the connection's last (a refusal, a drain) is its last word: Node closes after it.
    if (!pending.shouldKeepAlive) return;
    // An earlier request is still being answered. Node's own 'finish' listener, registered
    // before this one, moves the next queued response onto the socket, so the answer always
    // waits for 'finish'. `writableFinished` cannot stand in for it: Node 20 reports it true as
    // soon as a response's bytes are in the socket, before its 'finish' has attached the
    // response queued behind it, and answering then ended the connection under the responses
    // still queued.
    let finished = false;
    pending.once('finish', () => {
      finished = true;
      answerAfterPending(socket, response);
    });
    pending.once('close', () => {
      if (!finished) socket.destroy();
    });
    return;
  }
  if (socket.writable) socket.end(response.raw);
  else socket.destroy();
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttp2Server, type Http2Server, type Http2ServerRequest, type ServerHttp2Session } from 'node:http2';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { ServerConfig } from '../core/config-types.js';
import { EdgeCounters } from '../core/edge-counters.js';
import type { ProxyListenerSpec } from '../core/proxy-listeners.js';
import type { CertificateMaterial } from '../core/tls-material.js';
import { answerClientError } from './client-error.js';
import { GLOBAL_RESPONSES } from './error-responses.js';
import { guardSession, MAX_CONCURRENT_STREAMS } from './http2-session-guard.js';
import { Http2ProxyResponse } from './http2-response.js';
import { sniffPreface } from './protocol-sniff.js';
import { createHttp2RequestHandler, createRequestHandler, MAX_HEADER_FIELDS, type ListenerState, type SnapshotSource } from './request-handler.js';
import { SniContexts } from './sni-contexts.js';
import { endWith } from './socket-refusal.js';
import { createUpgradeHandler, type TunnelSet } from './websocket-tunnel.js';

type ProxyHttp2Server = Http2Server<typeof IncomingMessage, typeof ServerResponse, typeof Http2ServerRequest, typeof Http2ProxyResponse>;


/**
 * One proxy listener, whatever it speaks. Every protocol ends in the same request handler:
 *
 * - plain HTTP/1.1: Node's HTTP server takes the connections;
 * - plain with `h2c`: the first bytes tell the HTTP/2 preface from an HTTP/1.x request;
 * - TLS: a TLS server terminates (certificate chosen by SNI) and ALPN decides: `h2` goes to an
 *   HTTP/2 session, `http/1.1` (or no ALPN) to the HTTP server.
 *
 * The HTTP/1.1 and HTTP/2 servers never listen themselves when something sits in front of
 * them: connections reach them through `emit('connection')`, as the TLS server hands its
 * sockets on. A connection accepted in another process enters the same way (`enter`).
 */
export class EdgeListener {
  readonly spec: ProxyListenerSpec;
  readonly state: ListenerState = { inFlight: 0, draining: false };
  readonly tunnels: TunnelSet = new Set();
  readonly counters = new EdgeCounters();
  /** HTTP/1.x, over TCP or TLS. */
  readonly http1: Server;
  /** HTTP/2 sessions (h2 over TLS, h2c), when the listener speaks HTTP/2. */
  readonly http2: ProxyHttp2Server | null;
  private readonly tls: TlsServer | null;
  /** The server that listens: the TLS server, a sniffing TCP server, or the HTTP/1.1 server itself. */
  private readonly acceptor: NetServer;
  private readonly sessions = new Set<ServerHttp2Session>();
  /**
   * Every connection that passed through the TLS server or the sniffer, until it closes: the
   * drain's deadline cuts those still in a handshake or undecided too, which neither HTTP
   * server knows of yet.
   */
  private readonly raw = new Set<Socket>();
  private contexts: SniContexts | null = null;
  private readonly serverConfig: ServerConfig;
  /** Called when the acceptor reports an error after it began listening. */
  onAcceptError: (err: Error) => void = () => undefined;

  constructor(spec: ProxyListenerSpec, source: SnapshotSource, config: ServerConfig, certificates: readonly CertificateMaterial[] | null) {
    this.spec = spec;
    this.serverConfig = config;
    const { listener, testService } = spec;
    const tls = listener.tls !== undefined;
    const options = { testService, tls, maxHeaderListBytes: config.maxHeaderBytes };
    const handler = createRequestHandler(source, this.state, options);
    const http1 = createHttpServer(
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
    http1.on('checkContinue', handler);
    http1.on('upgrade', createUpgradeHandler(source, this.state, this.tunnels, testService, tls));
    http1.on('connect', (_req, socket: Socket) => endWith(socket, GLOBAL_RESPONSES.connectNotAllowed.raw));
    http1.on('clientError', answerClientError);
    this.http1 = http1;

    this.http2 = listener.http2 ? this.createHttp2(source, options) : null;

    if (tls) {
      const tlsConfig = listener.tls!;
      this.contexts = new SniContexts(certificates ?? [], tlsConfig.minVersion);
      const server = createTlsServer({
        SNICallback: (servername, callback) => callback(null, (this.contexts as SniContexts).select(servername)),
        ALPNProtocols: listener.http2 ? ['h2', 'http/1.1'] : ['http/1.1'],
        minVersion: tlsConfig.minVersion,
        handshakeTimeout: config.headersTimeoutMs,
        noDelay: true,
      });
      this.useDefaultContext(server);
      server.on('connection', (socket: Socket) => this.track(socket));
      server.on('secureConnection', (socket: TLSSocket) => this.route(socket, socket.alpnProtocol === 'h2'));
      // A handshake that fails (garbage, no shared version or cipher, a timeout) costs only its own connection.
      server.on('tlsClientError', (_err: Error, socket: TLSSocket) => {
        this.counters.tlsHandshakeErrors += 1;
        socket.destroy();
      });
      this.tls = server;
      this.acceptor = server;
    } else if (this.http2 !== null) {
      this.tls = null;
      this.acceptor = createNetServer({ noDelay: true }, (socket) => this.enter(socket));
    } else {
      this.tls = null;
      this.acceptor = http1;
    }
    if (config.maxConnections > 0) this.acceptor.maxConnections = config.maxConnections;
  }

  /** Serves a connection accepted elsewhere (another process) as if this listener had accepted it. */
  enter(socket: Socket): void {
    if (this.tls !== null) {
      this.tls.emit('connection', socket);
    } else if (this.http2 !== null) {
      this.track(socket);
      sniffPreface(socket, this.serverConfig.headersTimeoutMs, (s, http2) => this.route(s, http2));
    } else {
      this.http1.emit('connection', socket);
    }
  }

  /** New certificates for new handshakes; connections already open keep theirs. */
  setCertificates(certificates: readonly CertificateMaterial[]): void {
    const tlsConfig = this.spec.listener.tls;
    if (this.tls === null || tlsConfig === undefined) return;
    this.contexts = new SniContexts(certificates, tlsConfig.minVersion);
    this.useDefaultContext(this.tls);
  }

  /** The certificates new handshakes get (tests, the primary's view). */
  certificates(): readonly CertificateMaterial[] {
    return this.contexts?.certs ?? [];
  }

  listen(): Promise<AddressInfo> {
    const { host, port } = this.spec.listener.address;
    return new Promise<AddressInfo>((resolve, reject) => {
      const acceptor = this.acceptor;
      const onError = (err: Error) => reject(err);
      acceptor.once('error', onError);
      acceptor.listen({ host, port }, () => {
        acceptor.off('error', onError);
        // Once listening, a server 'error' (an accept error: libuv absorbs most EMFILE itself, not
        // ENOBUFS or ENOMEM) with no listener would throw; it is reported, and accepting goes on.
        acceptor.on('error', (err: Error) => this.onAcceptError(err));
        this.serveAdopted();
        resolve(acceptor.address() as AddressInfo);
      });
    });
  }

  /**
   * Starts what Node starts when an HTTP server begins listening, the connection tracking that
   * client timeouts and the drain's idle-connection closing rely on, for an HTTP server that
   * gets its connections from something else (the TLS server, the sniffer, another process).
   */
  serveAdopted(): void {
    if (this.acceptor !== this.http1 || !this.http1.listening) this.http1.emit('listening');
  }

  address(): AddressInfo {
    return this.acceptor.address() as AddressInfo;
  }

  /** HTTP/2 sessions open now. */
  openSessions(): number {
    return this.sessions.size;
  }

  /** From now on responses say `Connection: close`, and HTTP/2 sessions get GOAWAY as they start. */
  markDraining(): void {
    this.state.draining = true;
  }

  /**
   * Stops accepting, sends GOAWAY to every HTTP/2 session (their streams in flight finish;
   * new ones are refused), and closes idle HTTP/1.1 connections. Resolves once the acceptor is closed.
   */
  beginDrain(): Promise<void> {
    this.state.draining = true;
    for (const session of this.sessions) closeGracefully(session);
    const acceptor = this.acceptor;
    const closed = new Promise<void>((resolve) => {
      if (!acceptor.listening) return resolve();
      acceptor.close(() => resolve());
    });
    this.http1.closeIdleConnections();
    return closed;
  }

  /** Another round of the drain: HTTP/1.1 connections that became idle are closed. */
  closeIdle(): void {
    this.http1.closeIdleConnections();
  }

  /** The drain's deadline: everything still open is cut. */
  cutAll(): number {
    const cut = this.state.inFlight + this.tunnels.size;
    for (const tunnel of this.tunnels) tunnel.destroy();
    for (const session of this.sessions) session.destroy();
    this.http1.closeAllConnections();
    for (const socket of this.raw) socket.destroy();
    return cut;
  }

  get busy(): boolean {
    return this.state.inFlight > 0 || this.tunnels.size > 0;
  }

  private createHttp2(source: SnapshotSource, options: { testService: string | null; tls: boolean; maxHeaderListBytes: number }): ProxyHttp2Server {
    const config = this.serverConfig;
    const server = createHttp2Server({
      Http2ServerResponse: Http2ProxyResponse,
      maxHeaderListPairs: MAX_HEADER_FIELDS,
      settings: {
        maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
        maxHeaderListSize: config.maxHeaderBytes,
        // RFC 8441 (WebSocket over HTTP/2) is not offered: clients use an HTTP/1.1 upgrade instead.
        enableConnectProtocol: false,
      },
    });
    const handler = createHttp2RequestHandler(source, this.state, options);
    server.on('request', handler);
    server.on('checkContinue', handler);
    server.on('session', (session: ServerHttp2Session) => this.adoptSession(session));
    // Errors of one session or stream are that session's: counted by its guard, never the process's.
    server.on('sessionError', () => undefined);
    server.on('streamError', () => undefined);
    return server;
  }

  private adoptSession(session: ServerHttp2Session): void {
    const guard = guardSession(session, this.counters);
    this.sessions.add(session);
    session.once('close', () => this.sessions.delete(session));
    session.on('stream', () => {
      // Handed over just as the drain began: this first stream is served, then GOAWAY.
      if (this.state.draining) closeGracefully(session);
    });
    // Idle for the keep-alive timeout with no stream open: GOAWAY; idle as long again (a client
    // that reads nothing, so the GOAWAY never leaves): cut.
    const idleMs = this.serverConfig.keepAliveTimeoutMs;
    session.setTimeout(idleMs);
    session.on('timeout', () => {
      if (guard.openStreams() > 0) {
        session.setTimeout(idleMs);
      } else if (session.closed) {
        session.destroy();
      } else {
        closeGracefully(session);
        session.setTimeout(idleMs);
      }
    });
  }

  private track(socket: Socket): void {
    this.raw.add(socket);
    socket.once('close', () => this.raw.delete(socket));
  }

  private route(socket: Socket, http2: boolean): void {
    if (http2 && this.http2 !== null) this.http2.emit('connection', socket);
    else this.http1.emit('connection', socket);
  }

  /** The context for clients that send no SNI: the first certificate's. */
  private useDefaultContext(server: TlsServer): void {
    const first = this.contexts?.certs[0];
    const tlsConfig = this.spec.listener.tls;
    if (first === undefined || tlsConfig === undefined) return;
    server.setSecureContext({ cert: first.cert, key: first.key, minVersion: tlsConfig.minVersion });
  }
}

/** GOAWAY: streams already open finish, no new ones start; the session closes when the last one ends. */
function closeGracefully(session: ServerHttp2Session): void {
  if (session.closed || session.destroyed) return;
  session.close();
}

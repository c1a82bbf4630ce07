import type { AddressInfo, Socket } from 'node:net';
import type { ServerConfig } from '../core/config-types.js';
import type { ProxyListenerSpec } from '../core/proxy-listeners.js';
import type { ListenerCertificates } from '../core/tls-material.js';
import { EdgeListener } from './edge-listener.js';
import type { SnapshotSource } from './request-handler.js';

export interface DrainResult {
  /** True when every in-flight request finished before the deadline. */
  completed: boolean;
  /** Requests and tunnels cut at the deadline. */
  cut: number;
}

/**
 * The proxy's listeners: `listeners` (or `listen`) and one per service `testListen`, each an
 * EdgeListener (HTTP/1.1, HTTP/2, TLS). Owns their start, the certificates they serve and the
 * drain on shutdown.
 */
export class ProxyServer {
  readonly listeners: EdgeListener[] = [];
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

  /** `certificates`: a TLS listener's, checked by whoever read the files. */
  addListener(spec: ProxyListenerSpec, certificates: ListenerCertificates['certs'] | null = null): void {
    const listener = new EdgeListener(spec, this.source, this.config, certificates);
    listener.onAcceptError = (err) => {
      this.listenerErrors += 1;
      this.onListenerError(err);
    };
    this.listeners.push(listener);
  }

  /** Starts every listener; resolves with their bound addresses (port 0 becomes a real port). */
  listen(): Promise<AddressInfo[]> {
    return Promise.all(this.listeners.map((listener) => listener.listen()));
  }

  /**
   * For a process that serves connections another one accepted (see `adopt`) instead of
   * listening: starts what Node starts when a server begins listening.
   */
  serveAdopted(): void {
    for (const listener of this.listeners) listener.serveAdopted();
  }

  /** Serves a connection accepted elsewhere on listener `index` (the order of `addListener`). */
  adopt(index: number, socket: Socket): void {
    const listener = this.listeners[index];
    if (listener === undefined) {
      socket.destroy();
      return;
    }
    listener.enter(socket);
  }

  /** New certificates for a TLS listener's new handshakes; open connections keep theirs. */
  setCertificates(update: ListenerCertificates): void {
    this.listeners[update.listener]?.setCertificates(update.certs);
  }

  addresses(): { testService: string | null; address: AddressInfo }[] {
    return this.listeners.map((l) => ({ testService: l.spec.testService, address: l.address() }));
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
    for (const listener of this.listeners) listener.markDraining();
  }

  /**
   * Stops accepting, lets in-flight requests finish (HTTP/1.1 responses say `Connection: close`,
   * HTTP/2 sessions get GOAWAY), closes idle keep-alive connections as they appear, and cuts
   * whatever is left at the deadline.
   */
  async drain(timeoutMs: number): Promise<DrainResult> {
    const closed = this.listeners.map((listener) => listener.beginDrain());
    const deadline = performance.now() + timeoutMs;
    while (this.busy() && performance.now() < deadline) {
      await delay(20);
      for (const listener of this.listeners) listener.closeIdle();
    }
    let cut = 0;
    for (const listener of this.listeners) cut += listener.cutAll();
    await Promise.all(closed);
    return { completed: cut === 0, cut };
  }

  /** Closes everything at once (tests, failed start). */
  async close(): Promise<void> {
    await this.drain(0);
  }

  private busy(): boolean {
    return this.listeners.some((l) => l.busy);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

import { request as httpRequest, STATUS_CODES, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { GLOBAL_RESPONSES, type PrebuiltResponse } from './error-responses.js';
import { equalsLower } from './header-names.js';
import { kClosing, type ClosingSocket } from './exchange.js';
import { MAX_HEADER_FIELDS, type ListenerState, type SnapshotSource } from './request-handler.js';
import { clientAddressOf, RequestHeaderScan } from './request-headers.js';
import { adoptAbsoluteForm } from './request-target.js';
import { forwardableResponseHeaders } from './response-headers.js';
import type { ServiceRoute } from './service-route.js';
import type { Target } from './target.js';
import { chooseTarget, countUnavailable } from './target-choice.js';
import { discardInput, endWith } from './socket-refusal.js';
import { classifyUpstreamError } from './upstream-errors.js';

const scan = new RequestHeaderScan();

/** Open tunnels of a listener, closed at the drain deadline. */
export type TunnelSet = Set<Duplex>;

/**
 * Handles `Upgrade: websocket` requests: the same routing and slot choice as plain requests,
 * then a raw byte tunnel to the picked target. Anything but a 101 from the target is relayed as
 * an ordinary response and the connection closed (no tunnel on a refused upgrade). Other upgrade
 * protocols (h2c, unknown) are refused.
 */
export function createUpgradeHandler(source: SnapshotSource, listener: ListenerState, tunnels: TunnelSet, testService: string | null = null, tls = false) {
  const proto = tls ? 'https' : 'http';
  return function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', destroyQuietly);
    // Pipelined behind a response that closes the connection: no tunnel (RFC 9112 9.6); Node closes the socket after that response.
    if ((socket as ClosingSocket)[kClosing] === true) return;
    if (listener.draining) return refuse(socket, GLOBAL_RESPONSES.unsupportedUpgrade);
    if (req.httpVersionMajor !== 1 || req.httpVersionMinor !== 1) return refuse(socket, GLOBAL_RESPONSES.unsupportedUpgrade);
    let url = req.url as string;
    if (url.charCodeAt(0) !== 47 /* / */) {
      const refusal = adoptAbsoluteForm(req);
      if (refusal !== null) return refuse(socket, refusal);
      url = req.url as string;
    }
    if (url.indexOf('#') !== -1) return refuse(socket, GLOBAL_RESPONSES.fragment);
    if (req.rawHeaders.length > 2 * MAX_HEADER_FIELDS) return refuse(socket, GLOBAL_RESPONSES.tooManyHeaders);
    scan.scan(req.rawHeaders);
    if (scan.hostCount > 1) return refuse(socket, GLOBAL_RESPONSES.duplicateHost);
    if (scan.hostCount === 0) return refuse(socket, GLOBAL_RESPONSES.missingHost);
    if (!scan.hostIsValid) return refuse(socket, GLOBAL_RESPONSES.badHost);
    if (scan.upgrade === undefined || scan.upgrade.trim().toLowerCase() !== 'websocket' || scan.hasBody) {
      return refuse(socket, GLOBAL_RESPONSES.unsupportedUpgrade);
    }
    const snapshot = source.snapshot;
    const route = testService === null ? snapshot.match(scan.host, url) : (snapshot.get(testService) ?? null);
    if (route === null) return refuse(socket, GLOBAL_RESPONSES.noRoute);
    const choice = chooseTarget(route, req.method as string, url, req.rawHeaders, scan.cookie, testService !== null);
    if (route.canaryHeaderName !== null) scan.remove(route.canaryHeaderName);
    if (choice.target === null) return refuse(socket, countUnavailable(route, choice));
    scan.appendForwarded(clientAddressOf(req.socket.remoteAddress), proto);
    const headers = [...scan.out, 'connection', 'upgrade', 'upgrade', 'websocket'];
    openTunnel(route, choice.target, choice.canary, choice.setCookie, req, socket, head, headers, tunnels);
  };
}

function openTunnel(
  route: ServiceRoute,
  target: Target,
  canary: boolean,
  setCookie: string | null,
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  headers: string[],
  tunnels: TunnelSet,
): void {
  const counters = canary ? route.canaryCounters : route.stableCounters;
  const startedAt = performance.now();
  const timeouts = route.runtime.config.timeouts;
  const url = new URL(target.url);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  target.counters.requests += 1;
  target.counters.active += 1;
  let settled = false;
  const settle = (): boolean => {
    if (settled) return false;
    settled = true;
    target.counters.active -= 1;
    return true;
  };

  const upstream = send({
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port || (url.protocol === 'https:' ? 443 : 80),
    method: 'GET',
    path: req.url,
    headers,
    agent: false,
  });
  upstream.setTimeout(timeouts.responseMs);

  const failBeforeAnswer = (err: { code?: unknown }) => {
    if (!settle()) return;
    const verdict = classifyUpstreamError(err);
    if (verdict.kind !== null) {
      target.counters[verdict.kind] += 1;
      target.recordFailure();
    }
    counters.upstreamFailures += 1;
    counters.responses += 1;
    counters.failures += 1;
    const errors = route.runtime.errors;
    refuse(client, verdict.status === 504 ? errors.gatewayTimeout : errors.badGateway);
  };

  upstream.on('timeout', () => {
    upstream.destroy();
    failBeforeAnswer({ code: 'SHIFTPROXY_RESPONSE_TIMEOUT' });
  });
  upstream.on('error', failBeforeAnswer);
  client.once('close', () => {
    if (!settled) {
      settle();
      counters.clientAborts += 1;
    }
    upstream.destroy();
  });

  upstream.on('upgrade', (response: IncomingMessage, upstreamSocket: Duplex, upstreamHead: Buffer) => {
    if (!settle()) {
      upstreamSocket.destroy();
      return;
    }
    upstreamSocket.on('error', destroyQuietly);
    if (client.destroyed) {
      upstreamSocket.destroy();
      return;
    }
    counters.byStatus[101]! += 1;
    counters.responses += 1;
    counters.latency.observe((performance.now() - startedAt) / 1000);
    target.recordSuccess();
    const forwarded = forwardableResponseHeaders(response.rawHeaders.map((h) => Buffer.from(h, 'latin1')), true);
    const lines = ['HTTP/1.1 101 Switching Protocols'];
    for (let i = 0; i < forwarded.length; i += 2) {
      if (equalsLower(forwarded[i] as string, 'upgrade')) continue;
      lines.push(`${forwarded[i]}: ${forwarded[i + 1]}`);
    }
    if (setCookie !== null) lines.push(`set-cookie: ${setCookie}`);
    lines.push('connection: upgrade', 'upgrade: websocket', '', '');
    client.write(lines.join('\r\n'), 'latin1');
    if (upstreamHead.length > 0) client.write(upstreamHead);
    if (head.length > 0) upstreamSocket.write(head);
    splice(client, upstreamSocket, timeouts.idleMs, tunnels);
  });

  upstream.on('response', (response: IncomingMessage) => {
    // The target refused the upgrade: relay its answer as a plain response and close; no tunnel.
    if (!settle()) return;
    discardInput(client);
    counters.byStatus[Math.min(response.statusCode ?? 502, 599)]! += 1;
    counters.responses += 1;
    if ((response.statusCode ?? 502) >= 500) counters.failures += 1;
    counters.latency.observe((performance.now() - startedAt) / 1000);
    const forwarded = forwardableResponseHeaders(response.rawHeaders.map((h) => Buffer.from(h, 'latin1')), false);
    const status = response.statusCode ?? 502;
    const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}`];
    for (let i = 0; i < forwarded.length; i += 2) lines.push(`${forwarded[i]}: ${forwarded[i + 1]}`);
    lines.push('connection: close', '', '');
    client.write(lines.join('\r\n'), 'latin1');
    response.on('error', () => client.destroy());
    response.pipe(client);
  });

  upstream.end();
}

/** Pipes bytes both ways; either side closing, failing or idling past `idleMs` closes both. */
function splice(client: Duplex, upstream: Duplex, idleMs: number, tunnels: TunnelSet): void {
  tunnels.add(client);
  const closeBoth = () => {
    client.destroy();
    upstream.destroy();
    tunnels.delete(client);
  };
  client.on('close', closeBoth);
  upstream.on('close', closeBoth);
  client.on('error', closeBoth);
  upstream.on('error', closeBoth);
  const socketLike = client as Duplex & { setTimeout?: (ms: number, fn: () => void) => void };
  socketLike.setTimeout?.(idleMs, closeBoth);
  (upstream as Duplex & { setTimeout?: (ms: number, fn: () => void) => void }).setTimeout?.(idleMs, closeBoth);
  client.pipe(upstream);
  upstream.pipe(client);
}

function refuse(socket: Duplex, response: PrebuiltResponse): void {
  endWith(socket, response.raw);
}

function destroyQuietly(this: Duplex): void {
  this.destroy();
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { GLOBAL_RESPONSES } from './error-responses.js';
import { answerWith, closeAfter, kClosing, ProxyExchange, type ClosingSocket, type InFlightCounter } from './exchange.js';
import type { Http2ProxyResponse } from './http2-response.js';
import { ASK_TRAILERS, CLIENT_HTTP2, CLIENT_TLS, clientAddressOf, RequestHeaderScan, VALID_HOST } from './request-headers.js';
import { adoptAbsoluteForm } from './request-target.js';
import type { RoutingSnapshot } from './routing-snapshot.js';
import type { SlotPool } from './slot-pool.js';
import { chooseTarget, countUnavailable } from './target-choice.js';

/** Where the handler reads the current routing snapshot from (one property read per request). */
export interface SnapshotSource {
  readonly snapshot: RoutingSnapshot;
}

/** Per-listener state the handler shares with the server that drains it. */
export interface ListenerState extends InFlightCounter {
  draining: boolean;
}

/** What a handler knows of the listener it serves. */
export interface HandlerOptions {
  /** A test listener: every request goes to this service's non-live slot. */
  testService: string | null;
  /** TLS terminated here: `X-Forwarded-Proto: https`. */
  tls: boolean;
  /** HTTP/2 header lists larger than this (RFC 9113 counting) get 431, as HTTP/1.1 heads past maxHeaderBytes do. */
  maxHeaderListBytes: number;
}

/**
 * More header fields than this get 431. Node 24's parser refuses them itself; older parsers
 * silently stopped collecting fields after 1,023 (and stopped counting their bytes against
 * maxHeaderSize), so a second Host or a Transfer-Encoding placed after them was never seen by
 * the checks below. The check stays so that the scan never depends on the parser's limit.
 */
export const MAX_HEADER_FIELDS = 1000;

const scan = new RequestHeaderScan();

/**
 * The hot path for HTTP/1.x: validate, then `forward` (route, pick a slot and a target, send).
 * It also serves Node's 'checkContinue' event: `Expect: 100-continue` is answered in `forward`,
 * only once the request is known to be forwarded, so a refused request never has its body sent.
 */
export function createRequestHandler(source: SnapshotSource, listener: ListenerState, options: HandlerOptions) {
  const client = options.tls ? CLIENT_TLS : 0;
  return function handleRequest(req: IncomingMessage, res: ServerResponse): void {
    // Pipelined behind a response that closes the connection: never processed (Node parsed it
    // anyway, possibly with framing the proxy just refused). The socket closes after that response.
    if ((req.socket as ClosingSocket)[kClosing] === true) return;
    if (listener.draining) closeAfter(res);
    if (req.httpVersionMajor !== 1) return answerWith(res, req.httpVersionMajor === 0 ? GLOBAL_RESPONSES.http09 : GLOBAL_RESPONSES.unsupportedVersion, false);
    let url = req.url as string;
    if (url.charCodeAt(0) !== 47 /* / */) {
      // Not origin-form: an absolute form, rewritten in place to the origin-form request it names, or a refusal.
      const refusal = adoptAbsoluteForm(req);
      if (refusal !== null) return answerWith(res, refusal, false);
      url = req.url as string;
    }
    if (url.indexOf('#') !== -1) return answerWith(res, GLOBAL_RESPONSES.fragment, false);
    const raw = req.rawHeaders;
    if (raw.length > 2 * MAX_HEADER_FIELDS) return answerWith(res, GLOBAL_RESPONSES.tooManyHeaders, false);

    scan.scan(raw);
    if (scan.hostCount !== 1) {
      if (scan.hostCount > 1) return answerWith(res, GLOBAL_RESPONSES.duplicateHost, false);
      if (req.httpVersionMinor === 1) return answerWith(res, GLOBAL_RESPONSES.missingHost, false);
    }
    if (!scan.hostIsValid) return answerWith(res, GLOBAL_RESPONSES.badHost, false);
    const teRefusal = scan.transferEncodingRefusal;
    if (teRefusal !== 0) {
      return answerWith(res, teRefusal === 501 ? GLOBAL_RESPONSES.unsupportedTransferEncoding : GLOBAL_RESPONSES.invalidTransferEncoding, false);
    }
    // HTTP/1.0 clients never get a 1xx.
    forward(source, listener, options.testService, req, res, url, scan.hasBody, scan.expect && req.httpVersionMinor === 1, client);
  };
}

/**
 * The hot path for HTTP/2 streams (Node's compatibility objects): what HTTP/2 makes different
 * is checked here, then the same `forward` as HTTP/1.1 routes, counts and sends. nghttp2 has
 * refused malformed streams already (connection-specific fields, a TE other than `trailers`,
 * missing or duplicate pseudo-headers, RFC 9113 8.2 and 8.3) and HTTP/2 has no Transfer-Encoding.
 */
export function createHttp2RequestHandler(source: SnapshotSource, listener: ListenerState, options: HandlerOptions) {
  const client = CLIENT_HTTP2 | (options.tls ? CLIENT_TLS : 0);
  const maxListBytes = options.maxHeaderListBytes;
  return function handleHttp2Request(req: Http2ServerRequest, res: Http2ProxyResponse): void {
    // Reset (or its session ended) before this handler ran: nghttp2 reads a burst of frames in
    // one go, and a rapid-reset burst must not become upstream requests nobody waits for.
    if (req.stream.destroyed) return;
    const request = req as unknown as IncomingMessage;
    const response = res as unknown as ServerResponse;
    // CONNECT, extended CONNECT (RFC 8441) included: no tunnels over HTTP/2 (the setting that
    // would allow the extended one is never sent, so conforming clients do not try).
    if (req.method === 'CONNECT') return answerWith(response, GLOBAL_RESPONSES.connectNotAllowed, true);
    const url = req.url;
    // `*` (OPTIONS) and anything else that is not a path: a proxy has no use for them.
    if (url.charCodeAt(0) !== 47 /* / */) return answerWith(response, GLOBAL_RESPONSES.badRequestTarget, true);
    if (url.indexOf('#') !== -1) return answerWith(response, GLOBAL_RESPONSES.fragment, true);
    const raw = req.rawHeaders;
    if (raw.length > 2 * MAX_HEADER_FIELDS) return answerWith(response, GLOBAL_RESPONSES.tooManyHeaders, true);
    scan.scan(raw, true);
    if (scan.listBytes > maxListBytes) return answerWith(response, GLOBAL_RESPONSES.headersTooLarge, true);
    if (scan.hostCount !== 1) return answerWith(response, scan.hostCount > 1 ? GLOBAL_RESPONSES.duplicateHost : GLOBAL_RESPONSES.missingHost, true);
    if (scan.authorityMismatch) return answerWith(response, GLOBAL_RESPONSES.authorityMismatch, true);
    if (!VALID_HOST.test(scan.host)) return answerWith(response, GLOBAL_RESPONSES.badHost, true);
    forward(source, listener, options.testService, request, response, url, !req.stream.endAfterHeaders, scan.expect, client);
  };
}

/** Routing, the slot and target choice, and the exchange: one code for every protocol. */
function forward(
  source: SnapshotSource,
  listener: ListenerState,
  testService: string | null,
  req: IncomingMessage,
  res: ServerResponse,
  url: string,
  hasBody: boolean,
  expectContinue: boolean,
  client: number,
): void {
  const snapshot = source.snapshot;
  const route = testService === null ? snapshot.match(scan.host, url) : (snapshot.get(testService) ?? null);
  if (route === null) return answerWith(res, GLOBAL_RESPONSES.noRoute, !hasBody);
  if (route.maxBodyBytes > 0 && scan.contentLength !== undefined && Number(scan.contentLength) > route.maxBodyBytes) {
    return answerWith(res, route.runtime.errors.payloadTooLarge, false);
  }

  const raw = req.rawHeaders;
  const choice = chooseTarget(route, req.method as string, url, raw, scan.cookie, testService !== null);
  if (route.canaryHeaderName !== null) scan.remove(route.canaryHeaderName);
  const target = choice.target;
  if (target === null) return answerWith(res, countUnavailable(route, choice), !hasBody);

  // Node leaves 100-continue to us (we listen for 'checkContinue').
  if (expectContinue) res.writeContinue();
  const clientAddress = clientAddressOf(req.socket.remoteAddress);
  scan.appendForwarded(clientAddress, (client & CLIENT_TLS) !== 0 ? 'https' : 'http');
  // The client takes trailers and the proxy passes them on: an HTTP/2 target (gRPC) is told so.
  if (scan.teTrailers && route.upstreamHttp2) {
    client |= ASK_TRAILERS;
    scan.out.push('te', 'trailers');
  }
  // A share of stable's requests is copied to the other slot (a dark launch); the copy never touches this request's answer.
  const copy =
    route.copier !== null && !choice.canary && route.nextIsMirrored()
      ? route.copier.begin(route.mirrorPool as SlotPool, req.method as string, url, scan.out, scan.contentLength, hasBody)
      : null;
  const exchange = new ProxyExchange(
    req,
    res,
    route,
    target,
    choice.canary ? route.canaryCounters : route.stableCounters,
    listener,
    choice.setCookie,
    hasBody,
    clientAddress,
    client,
    copy,
  );
  exchange.start(scan.out);
}

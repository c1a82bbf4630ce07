import type { IncomingMessage, ServerResponse } from 'node:http';
import { GLOBAL_RESPONSES } from './error-responses.js';
import { answerWith, ProxyExchange, type InFlightCounter } from './exchange.js';
import { clientAddressOf, RequestHeaderScan } from './request-headers.js';
import type { RoutingSnapshot } from './routing-snapshot.js';
import { chooseTarget, countUnavailable } from './target-choice.js';

/** Where the handler reads the current routing snapshot from (one property read per request). */
export interface SnapshotSource {
  readonly snapshot: RoutingSnapshot;
}

/** Per-listener state the handler shares with the server that drains it. */
export interface ListenerState extends InFlightCounter {
  draining: boolean;
}

const scan = new RequestHeaderScan();

/**
 * The hot path: validate, route, pick a slot and a target, forward. `testService` makes this
 * a test listener: every request goes to that service's non-live slot.
 */
export function createRequestHandler(source: SnapshotSource, listener: ListenerState, testService: string | null = null) {
  return function handleRequest(req: IncomingMessage, res: ServerResponse): void {
    if (listener.draining) res.shouldKeepAlive = false;
    if (req.httpVersionMajor === 0) return answerWith(res, GLOBAL_RESPONSES.http09, false);
    const url = req.url as string;
    if (url.charCodeAt(0) !== 47 /* / */) return answerWith(res, GLOBAL_RESPONSES.absoluteForm, false);

    scan.scan(req.rawHeaders);
    if (scan.hostCount > 1) return answerWith(res, GLOBAL_RESPONSES.duplicateHost, false);
    if (!scan.hostIsValid) return answerWith(res, GLOBAL_RESPONSES.badHost, false);
    if (!scan.transferEncodingSupported) return answerWith(res, GLOBAL_RESPONSES.unsupportedTransferEncoding, false);

    const snapshot = source.snapshot;
    const route = testService === null ? snapshot.match(scan.host, url) : (snapshot.get(testService) ?? null);
    if (route === null) return answerWith(res, GLOBAL_RESPONSES.noRoute, !scan.hasBody);
    if (route.maxBodyBytes > 0 && scan.contentLength !== undefined && Number(scan.contentLength) > route.maxBodyBytes) {
      return answerWith(res, route.runtime.errors.payloadTooLarge, false);
    }

    const choice = chooseTarget(route, req.rawHeaders, scan.cookie, testService !== null);
    if (route.canaryHeaderName !== null) scan.remove(route.canaryHeaderName);
    const target = choice.target;
    if (target === null) return answerWith(res, countUnavailable(route, choice.forced), !scan.hasBody);

    scan.appendForwarded(clientAddressOf(req.socket.remoteAddress), 'http');
    const exchange = new ProxyExchange(
      req,
      res,
      route,
      target,
      choice.canary ? route.canaryCounters : route.stableCounters,
      listener,
      choice.setCookie,
      scan.hasBody,
    );
    exchange.start(scan.out);
  };
}

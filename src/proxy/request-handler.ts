import type { IncomingMessage, ServerResponse } from 'node:http';
import { GLOBAL_RESPONSES } from './error-responses.js';
import { answerWith, closeAfter, kClosing, ProxyExchange, type ClosingSocket, type InFlightCounter } from './exchange.js';
import { clientAddressOf, RequestHeaderScan } from './request-headers.js';
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

/**
 * More header fields than this get 431. Node 24's parser refuses them itself; older parsers
 * silently stopped collecting fields after 1,023 (and stopped counting their bytes against
 * maxHeaderSize), so a second Host or a Transfer-Encoding placed after them was never seen by
 * the checks below. The check stays so that the scan never depends on the parser's limit.
 */
export const MAX_HEADER_FIELDS = 1000;

const scan = new RequestHeaderScan();

/**
 * The hot path: validate, route, pick a slot and a target, forward. `testService` makes this
 * a test listener: every request goes to that service's non-live slot. It also serves Node's
 * 'checkContinue' event: `Expect: 100-continue` is answered here, only once the request is
 * known to be forwarded, so a refused request never has its body sent.
 */
export function createRequestHandler(source: SnapshotSource, listener: ListenerState, testService: string | null = null) {
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

    const snapshot = source.snapshot;
    const route = testService === null ? snapshot.match(scan.host, url) : (snapshot.get(testService) ?? null);
    if (route === null) return answerWith(res, GLOBAL_RESPONSES.noRoute, !scan.hasBody);
    if (route.maxBodyBytes > 0 && scan.contentLength !== undefined && Number(scan.contentLength) > route.maxBodyBytes) {
      return answerWith(res, route.runtime.errors.payloadTooLarge, false);
    }

    const choice = chooseTarget(route, req.method as string, url, raw, scan.cookie, testService !== null);
    if (route.canaryHeaderName !== null) scan.remove(route.canaryHeaderName);
    const target = choice.target;
    if (target === null) return answerWith(res, countUnavailable(route, choice), !scan.hasBody);

    // Node leaves 100-continue to us (we listen for 'checkContinue'); HTTP/1.0 clients never get a 1xx.
    if (scan.expect && req.httpVersionMinor === 1) res.writeContinue();
    scan.appendForwarded(clientAddressOf(req.socket.remoteAddress), 'http');
    // A share of stable's requests is copied to the other slot (a dark launch); the copy never touches this request's answer.
    const copy =
      route.copier !== null && !choice.canary && route.nextIsMirrored()
        ? route.copier.begin(route.mirrorPool as SlotPool, req.method as string, url, scan.out, scan.contentLength, scan.hasBody)
        : null;
    const exchange = new ProxyExchange(
      req,
      res,
      route,
      target,
      choice.canary ? route.canaryCounters : route.stableCounters,
      listener,
      choice.setCookie,
      scan.hasBody,
      copy,
    );
    exchange.start(scan.out);
  };
}

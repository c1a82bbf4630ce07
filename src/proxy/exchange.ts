import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import type { TrafficCounters } from '../core/traffic-counters.js';
import type { DeadlineEntry, DeadlineQueue } from './deadline-queue.js';
import type { PrebuiltResponse } from './error-responses.js';
import type { MirrorCopy } from './mirror-copier.js';
import { CLIENT_HTTP2, upstreamHeadersOf } from './request-headers.js';
import { ResponseHeaderScan, scanHeaderObject, withoutInvalidHeaders } from './response-headers.js';
import type { ServiceRoute } from './service-route.js';
import type { Target } from './target.js';
import {
  BODY_TOO_LARGE,
  classifyUpstreamError,
  CLIENT_ABORTED,
  ProxyAbort,
  RESPONSE_TIMEOUT,
  type FailureVerdict,
} from './upstream-errors.js';

const WAITING = 0;
const STREAMING = 1;
const DONE = 2;

const INVALID_STATUS = new ProxyAbort('UND_ERR_INFO', 'upstream answered an invalid status code');

/** One response head is turned into `writeHead`'s list at a time, synchronously: one scan serves all. */
const responseScan = new ResponseHeaderScan();

/** Per-listener state shared with the server: in-flight count and drain flag, for the shutdown. */
export interface InFlightCounter {
  inFlight: number;
  /** Once set, every response head written says `Connection: close`. */
  draining: boolean;
}

export const kExchange = Symbol('shiftproxy.exchange');
export type ResponseWithExchange = ServerResponse & { [kExchange]?: ProxyExchange };

/** Set on a client socket once a response on it announced `Connection: close`. */
export const kClosing = Symbol('shiftproxy.closing');
export type ClosingSocket = Socket & { [kClosing]?: true };

/** Set on HTTP/2 responses: one stream of many, which never decides the connection's fate. */
export const kMultiplexed = Symbol('shiftproxy.multiplexed');

/**
 * An HTTP/2 response answers a header-only end (a gRPC trailers-only answer) as one HEADERS
 * frame carrying END_STREAM; see Http2ProxyResponse.
 */
export interface HeadersOnlyResponse {
  endWithHeaders(status: number, headers: readonly string[]): void;
}

/**
 * Makes the response in progress the connection's last. RFC 9112 9.6: no request received after
 * it is processed; above all, none parsed behind a request refused for its framing.
 */
export function closeAfter(res: ServerResponse): void {
  if ((res as { [kMultiplexed]?: true })[kMultiplexed] === true) return;
  res.shouldKeepAlive = false;
  (res.req.socket as ClosingSocket)[kClosing] = true;
}

/** Sends a prebuilt answer; `keepAlive` false closes the connection after it (unread body, framing doubts). */
export function answerWith(res: ServerResponse, response: PrebuiltResponse, keepAlive: boolean): void {
  if (res.headersSent || res.destroyed) return;
  if (!keepAlive) closeAfter(res);
  res.writeHead(response.status, response.headers as string[]);
  res.end(response.body);
}

function isIdempotent(method: string | undefined): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || method === 'TRACE' || method === 'PUT' || method === 'DELETE';
}

/**
 * One proxied request, and the undici dispatch handler for it: the only allocation per request
 * besides what Node and undici make. It streams the response with backpressure, maps failures
 * to 502/504 before the first byte and to an aborted connection after it, and counts exactly
 * one outcome.
 *
 * Why `dispatch` with a handler rather than undici's `request`, `stream` or `pipeline`: those
 * build a Readable, a Writable or a Duplex per response (and `request` a promise too) only for
 * the proxy to copy out of it again, and they hand over headers already parsed into an object.
 * A handler receives the raw header buffers (`controller.rawHeaders`, forwarded byte for byte)
 * and each body chunk, writes it straight to the client's response, and applies back-pressure
 * with the controller's pause and resume; the same object survives a replay or a retry on
 * another connection, which a promise-per-request API cannot express.
 */
export class ProxyExchange implements Dispatcher.DispatchHandler, DeadlineEntry {
  private readonly req: IncomingMessage;
  private readonly res: ServerResponse;
  private readonly route: ServiceRoute;
  private readonly listener: InFlightCounter;
  private readonly counters: TrafficCounters;
  private readonly setCookie: string | null;
  private readonly hasBody: boolean;
  private readonly startedAt: number;
  private target: Target;
  private state = WAITING;
  private clientGone = false;
  private statusCode = 0;
  /** The current dispatch's controller (abort, pause, resume); null until undici starts it, and again before a replay or retry. */
  private upstream: Dispatcher.DispatchController | null = null;
  /** The service's response clock (timeouts.response): this exchange is in it while it waits for a response head. */
  private readonly deadlines: DeadlineQueue;
  deadlinePrev: DeadlineEntry | null = null;
  deadlineNext: DeadlineEntry | null = null;
  deadlineAt = 0;
  /** Armed only while the client is not reading (backpressure): bounded by the idle timeout. */
  private stallTimer: NodeJS.Timeout | null = null;
  private bodyBytes = 0;
  /** Response body bytes still to come when the upstream announced a length, else -1. */
  private bodyLeft = -1;
  /** The client's response was ended with the body's last chunk, before undici reported the end. */
  private endedEarly = false;
  /** Some of the response body reached the client's response (and with it the head). */
  private bodyStarted = false;
  private attemptsLeft: number;
  private replayed = false;
  /** A copy of this request sent to the other slot, fed the live request body and answer; null for nearly every request. */
  private readonly mirror: MirrorCopy | null;
  /** The client's address, read once: an HTTP/2 session's socket may be gone by the time a replay needs it. */
  private readonly clientAddress: string;
  /** CLIENT_HTTP2, CLIENT_TLS and ASK_TRAILERS, as the headers were built with. */
  private readonly client: number;
  /** The gRPC status of the answer (head or trailers), or -1. */
  private grpcStatus = -1;
  /** A gRPC trailers-only head held back for an HTTP/2 client until it is known that no body follows. */
  private heldHead: string[] | null = null;

  /**
   * `req` and `res` are Node's HTTP/1.1 objects, or the HTTP/2 compatibility objects standing in
   * for them (Http2ProxyResponse adds what the exchange reads that Node's lacks).
   */
  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    route: ServiceRoute,
    target: Target,
    counters: TrafficCounters,
    listener: InFlightCounter,
    setCookie: string | null,
    hasBody: boolean,
    clientAddress: string,
    client: number,
    mirror: MirrorCopy | null = null,
  ) {
    this.clientAddress = clientAddress;
    this.client = client;
    this.req = req;
    this.res = res;
    this.route = route;
    this.target = target;
    this.counters = counters;
    this.listener = listener;
    this.setCookie = setCookie;
    this.hasBody = hasBody;
    this.mirror = mirror;
    this.startedAt = performance.now();
    this.deadlines = route.runtime.responseDeadlines;
    this.attemptsLeft = hasBody || !isIdempotent(req.method) ? 0 : route.retryAttempts;
    route.runtime.retryBudget.deposit();
  }

  /** Sends the request upstream; `headers` may be a reused buffer, consumed before this returns. */
  start(headers: string[]): void {
    this.listener.inFlight += 1;
    (this.res as ResponseWithExchange)[kExchange] = this;
    this.res.on('close', onResponseClose);
    // Without a body the response clock runs from now, across connect and any retries. It runs on
    // a native timer: undici's own headersTimeout ticks every 0.5 s and lets a 500 ms timeout run to 1 s.
    if (!this.hasBody) this.deadlines.add(this, this.startedAt);
    this.dispatch(headers);
  }

  private dispatch(headers: string[]): void {
    const target = this.target;
    target.counters.active += 1;
    target.counters.requests += 1;
    target.pool.dispatch(
      {
        path: this.req.url as string,
        method: this.req.method as string,
        headers,
        body: this.hasBody ? this.req : null,
        // The exchange runs the response clock itself (start, onRequestSent). With a body it starts
        // once the request is fully sent, so a slow upload is bounded by the server's request timeout.
        headersTimeout: 0,
      },
      this,
    );
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    // The client left, or the response timer answered while undici was still connecting.
    if (this.clientGone || this.state === DONE) {
      controller.abort(CLIENT_ABORTED);
      return;
    }
    this.upstream = controller;
  }

  onBodySent(chunk: Buffer): void {
    if (this.mirror !== null) this.mirror.requestChunk(chunk);
    const limit = this.route.maxBodyBytes;
    if (limit === 0) return;
    this.bodyBytes += chunk.length;
    if (this.bodyBytes > limit) this.abortUpstream(BODY_TOO_LARGE);
  }

  onRequestSent(): void {
    if (this.mirror !== null) this.mirror.requestSent();
    if (this.hasBody && this.state === WAITING) {
      this.deadlines.add(this, performance.now());
    }
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number): void {
    // Interim answers (103 Early Hints) are dropped; the final response follows on the same request.
    if (statusCode < 200) return;
    this.clearResponseTimer();
    if (statusCode > 599) {
      controller.abort(INVALID_STATUS);
      return;
    }
    // The raw list keeps each name's spelling, repeated fields and every byte; undici's parsed
    // object (the third argument) would merge and lowercase them. Over HTTP/1.1 undici gives the
    // raw list as Buffers; over HTTP/2 it gives Node's header object, already lowercase.
    const raw = controller.rawHeaders;
    const headers = Array.isArray(raw) ? responseScan.scan(raw as Buffer[], false) : scanHeaderObject(responseScan, raw as Record<string, string | string[]>);
    if (this.setCookie !== null) headers.push('set-cookie', this.setCookie);
    this.statusCode = statusCode;
    // Per target, so one target answering 5xx among healthy ones shows (the dashboard's target rates).
    if (statusCode >= 500) this.target.counters.errors += 1;
    this.bodyLeft = responseScan.contentLength;
    if (this.mirror !== null) this.mirror.liveHead(statusCode, controller.rawHeaders as Buffer[]);
    this.grpcStatus = responseScan.grpcStatus;
    const res = this.res;
    if (res.destroyed) {
      // onClientClose has aborted the dispatch already, or will: hold the body until it does.
      controller.pause();
      return;
    }
    this.state = STREAMING;
    if (this.grpcStatus >= 0 && (this.client & CLIENT_HTTP2) !== 0) {
      // A gRPC trailers-only answer: sent on as HEADERS then an empty DATA frame, gRPC clients
      // would find no status. Held until the end (or a body, which would make it an ordinary head).
      this.heldHead = headers.slice();
      return;
    }
    this.writeHead(headers);
    // Node's HTTP/1.1 response sends a head with the first body bytes (its HTTP/2 one sends it at
    // once). A body of unknown length (an event stream, a long poll, a streamed export) may not
    // start for a while, and the client should not wait for it to see the status: if no body came
    // with the head, the head goes alone. A body of known length nearly always arrives with its
    // head, and is not worth the tick.
    if (this.bodyLeft < 0 && (this.client & CLIENT_HTTP2) === 0) process.nextTick(flushHeadWithoutBody, this);
  }

  /** The tick after a head of unknown body length: send it now unless a body chunk or the end took it. */
  flushHeadWithoutBody(): void {
    if (this.bodyStarted || this.state !== STREAMING) return;
    const res = this.res;
    if (!res.destroyed && !res.writableEnded) res.flushHeaders();
  }

  private writeHead(headers: string[]): void {
    const res = this.res;
    // Requests that arrived before a drain began are answered with Connection: close too.
    if (this.listener.draining) res.shouldKeepAlive = false;
    try {
      res.writeHead(this.statusCode, headers);
    } catch {
      // Node refuses header bytes it would not send (a control character, a bad name): drop those headers, keep the rest.
      res.writeHead(this.statusCode, withoutInvalidHeaders(headers));
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.mirror !== null) this.mirror.liveChunk(chunk);
    const res = this.res;
    if (res.destroyed) {
      // The client is gone and onClientClose aborts the dispatch: hold the body until it does.
      controller.pause();
      return;
    }
    if (this.heldHead !== null) {
      this.writeHead(this.heldHead);
      this.heldHead = null;
    }
    this.bodyStarted = true;
    if (this.bodyLeft >= 0) {
      this.bodyLeft -= chunk.length;
      if (this.bodyLeft === 0) {
        // The chunk completes the announced body: ending with it lets Node send the head, the
        // body and the end in one write, without the cork and the tick a write() then end() costs.
        this.endedEarly = true;
        res.end(chunk);
        return;
      }
    }
    if (res.write(chunk)) return;
    controller.pause();
    res.once('drain', onClientDrain);
    // undici's body timer does not run while we hold the upstream paused, so a client that stops
    // reading would pin the upstream connection forever: the idle timeout bounds the stall instead.
    this.stallTimer ??= setTimeout(onClientStalled, this.route.runtime.config.timeouts.idleMs, this);
  }

  onClientDrain(): void {
    this.clearStallTimer();
    if (this.state === STREAMING && this.upstream !== null) this.upstream.resume();
  }

  /** The client read nothing for the idle timeout while the proxy held data for it: cut both sides. */
  onClientStalled(): void {
    this.stallTimer = null;
    if (this.state === STREAMING) {
      this.clientGone = true;
      this.abortUpstream(CLIENT_ABORTED);
    } else if (!this.res.writableFinished) {
      this.res.destroy();
    }
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: Record<string, string | string[] | undefined> | null): void {
    if (this.state === DONE) return;
    const res = this.res;
    if (this.heldHead !== null) {
      if (!res.destroyed) (res as unknown as HeadersOnlyResponse).endWithHeaders(this.statusCode, this.heldHead);
      this.heldHead = null;
    } else {
      if (trailers !== null && trailers !== undefined) this.forwardTrailers(trailers);
      if (!this.endedEarly) res.end();
    }
    this.finishAnswered();
  }

  /**
   * Trailers go on to the client: as trailers over HTTP/2, and in the last chunk over HTTP/1.1
   * (a response with a Content-Length has nowhere to carry them, and Node drops them there).
   * The status a gRPC server puts in them is read for `grpcErrorCodes`.
   */
  private forwardTrailers(trailers: Record<string, string | string[] | undefined>): void {
    let any = false;
    for (const name in trailers) {
      any = true;
      if (name === 'grpc-status') {
        const value = trailers[name];
        this.grpcStatus = typeof value === 'string' ? Number(value) : -1;
      }
    }
    if (!any || this.endedEarly || this.res.destroyed) return;
    try {
      this.res.addTrailers(trailers as Record<string, string | string[]>);
    } catch {
      // A trailer Node will not send (a connection-specific name over HTTP/2, a control byte) drops them all, not the body.
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    this.fail(err);
  }

  /** An upstream failure, from undici or from the exchange's own response clock. */
  private fail(err: Error): void {
    if (this.state === DONE) return;
    if (this.clientGone || err === CLIENT_ABORTED || this.req.errored === err || this.res.destroyed) {
      this.clearResponseTimer();
      this.finishClientAbort();
      return;
    }
    const verdict = classifyUpstreamError(err as { code?: unknown; name?: unknown });
    if (verdict.clientFault) {
      this.clearResponseTimer();
      this.finishClientFault(verdict);
      return;
    }
    if (this.state === WAITING && verdict.kind === 'reset' && this.replayAfterReset()) return;
    const target = this.target;
    target.counters[verdict.kind] += 1;
    target.counters.active -= 1;
    target.recordFailure();
    // A retry keeps the response clock running: retries never extend timeouts.response.
    if (this.state === WAITING && this.retry(verdict)) return;
    this.clearResponseTimer();
    if (this.state === WAITING) {
      const errors = this.route.runtime.errors;
      answerWith(this.res, verdict.status === 504 ? errors.gatewayTimeout : errors.badGateway, true);
    } else {
      // The status line is gone already: cut the connection so the client sees a truncated body, not a clean end.
      this.res.destroy();
    }
    this.finishUpstreamFailure();
  }

  /** The client went away (response 'close' before we finished). */
  onClientClose(): void {
    this.clearStallTimer();
    this.listener.inFlight -= 1;
    if (this.state === DONE) return;
    this.clientGone = true;
    this.abortUpstream(CLIENT_ABORTED);
  }

  /**
   * Node's parser refused the rest of this request (a bad chunk, the request timeout) and the
   * server answers `status` itself, or cuts the connection when the response had begun. The
   * upstream request is aborted so it never completes with a body the client did not send.
   */
  onRequestRejected(status: number): void {
    this.clearResponseTimer();
    if (this.state === DONE) return;
    this.state = DONE;
    this.clientGone = true;
    this.target.counters.active -= 1;
    if (this.mirror !== null) this.mirror.liveFailure();
    const counted = this.statusCode === 0 ? status : this.statusCode;
    this.counters.byStatus[counted]! += 1;
    this.counters.responses += 1;
    this.abortUpstream(CLIENT_ABORTED);
  }

  /** The response clock ran out (the deadline queue has taken the exchange out already). */
  onDeadline(): void {
    if (this.state !== WAITING) return;
    if (this.upstream !== null) this.upstream.abort(RESPONSE_TIMEOUT);
    // Still connecting or queued in the pool: answer now; onRequestStart aborts the request if it ever starts.
    else this.fail(RESPONSE_TIMEOUT);
  }

  /** Aborts the dispatch in progress, if undici has started one; the controller ignores repeats. */
  private abortUpstream(reason: Error): void {
    if (this.upstream !== null) this.upstream.abort(reason);
  }

  /**
   * The keep-alive race: the upstream closed a pooled connection just as it was reused, so an
   * idempotent request failed before any byte of answer. RFC 9110 9.2.2 lets a client replay
   * such a request; the proxy does it once, on the same target, whatever `retry.attempts` says
   * (the connection, not the target, failed, so passive health does not count it). Once per
   * request at most, so even an upstream that resets everything sees at most twice the load;
   * the retry budget is not drawn on, since in the race most requests may need it.
   */
  private replayAfterReset(): boolean {
    if (this.replayed || this.hasBody || this.clientGone || !isIdempotent(this.req.method)) return false;
    this.replayed = true;
    this.upstream = null;
    // Dispatched on the next turn: now, inside undici's error handling, the pool would hand the
    // replay straight back to the connection that is closing.
    setImmediate(replayNow, this);
    return true;
  }

  /** The deferred half of replayAfterReset; the client may have left, or the clock run out, meanwhile. */
  replayNow(): void {
    if (this.state !== WAITING) return;
    if (this.clientGone) {
      this.clearResponseTimer();
      this.finishClientAbort();
      return;
    }
    // dispatch() counts the target active again.
    this.target.counters.active -= 1;
    this.dispatch(this.rebuildHeaders());
  }

  private rebuildHeaders(): string[] {
    return upstreamHeadersOf(this.req.rawHeaders, this.clientAddress, this.route.canaryHeaderName, this.client);
  }

  private retry(verdict: FailureVerdict): boolean {
    if (this.attemptsLeft <= 0 || this.clientGone) return false;
    if (verdict.kind !== 'refused' && verdict.kind !== 'connect') return false;
    const pool = this.target.slot === this.route.canary.slot ? this.route.canary : this.route.stable;
    let next = pool.pick();
    if (next === this.target && pool.availableCount() > 1) next = pool.pick();
    if (next === null) return false;
    // When every target fails, retries must not multiply the load: the service's budget caps them.
    if (!this.route.runtime.retryBudget.withdraw()) return false;
    this.attemptsLeft -= 1;
    this.target = next;
    this.upstream = null;
    this.dispatch(this.rebuildHeaders());
    return true;
  }

  private finishAnswered(): void {
    this.state = DONE;
    if (this.mirror !== null) this.mirror.liveEnd();
    const status = this.statusCode;
    const target = this.target;
    target.counters.active -= 1;
    const counters = this.counters;
    counters.byStatus[status]! += 1;
    counters.responses += 1;
    // A gRPC error travels in a 200: it counts only where grpcErrorCodes names its status.
    const grpc = this.grpcStatus;
    if (status >= 500 || (grpc > 0 && grpc < 32 && ((this.route.grpcErrorMask >>> grpc) & 1) === 1)) {
      counters.failures += 1;
      target.recordFailure();
    } else {
      target.recordSuccess();
    }
    counters.latency.observe((performance.now() - this.startedAt) / 1000);
  }

  private finishUpstreamFailure(): void {
    this.state = DONE;
    if (this.mirror !== null) this.mirror.liveFailure();
    const counters = this.counters;
    counters.upstreamFailures += 1;
    counters.responses += 1;
    counters.failures += 1;
    counters.latency.observe((performance.now() - this.startedAt) / 1000);
  }

  private finishClientAbort(): void {
    this.state = DONE;
    if (this.mirror !== null) this.mirror.liveFailure();
    this.target.counters.active -= 1;
    if (this.statusCode !== 0) {
      // The response had begun: count its status, the client just stopped reading.
      this.counters.byStatus[this.statusCode]! += 1;
      this.counters.responses += 1;
    } else {
      this.counters.clientAborts += 1;
    }
    if (!this.res.destroyed) this.res.destroy();
  }

  private finishClientFault(verdict: FailureVerdict): void {
    this.state = DONE;
    if (this.mirror !== null) this.mirror.liveFailure();
    this.target.counters.active -= 1;
    const errors = this.route.runtime.errors;
    if (this.statusCode === 0 && !this.res.headersSent) {
      answerWith(this.res, verdict.status === 413 ? errors.payloadTooLarge : errors.badRequest, false);
      this.counters.byStatus[verdict.status]! += 1;
      this.counters.responses += 1;
    } else {
      this.res.destroy();
      this.counters.clientAborts += 1;
    }
  }

  private clearStallTimer(): void {
    if (this.stallTimer !== null) {
      clearTimeout(this.stallTimer);
      this.stallTimer = null;
    }
  }

  private clearResponseTimer(): void {
    this.deadlines.remove(this);
  }
}

function onResponseClose(this: ResponseWithExchange): void {
  const exchange = this[kExchange];
  if (exchange !== undefined) exchange.onClientClose();
}

function replayNow(exchange: ProxyExchange): void {
  exchange.replayNow();
}

function flushHeadWithoutBody(exchange: ProxyExchange): void {
  exchange.flushHeadWithoutBody();
}

function onClientDrain(this: ResponseWithExchange): void {
  this[kExchange]?.onClientDrain();
}

function onClientStalled(exchange: ProxyExchange): void {
  exchange.onClientStalled();
}


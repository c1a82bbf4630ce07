import type { UpstreamFailureKind } from '../core/traffic-counters.js';

/**
 * Errors the proxy raises itself to abort an upstream request. They are created once: expected
 * failures must not allocate an Error (and capture a stack) per request.
 */
export class ProxyAbort extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export const CLIENT_ABORTED = new ProxyAbort('SHIFTPROXY_CLIENT_ABORTED', 'client went away');
export const RESPONSE_TIMEOUT = new ProxyAbort('SHIFTPROXY_RESPONSE_TIMEOUT', 'upstream response timed out');
export const BODY_TOO_LARGE = new ProxyAbort('SHIFTPROXY_BODY_TOO_LARGE', 'request body too large');
export const SHUTTING_DOWN = new ProxyAbort('SHIFTPROXY_SHUTTING_DOWN', 'proxy is shutting down');
/** Raised by the target's own connect timer; the code is undici's, so it classifies like undici's own. */
export const CONNECT_TIMED_OUT = new ProxyAbort('UND_ERR_CONNECT_TIMEOUT', 'upstream connect timed out');

/** How an upstream failure is reported: its `kind` label, and the status a client gets when no byte was sent yet. */
export type FailureVerdict =
  | { readonly kind: UpstreamFailureKind; readonly status: 502 | 504; readonly clientFault: false }
  | { readonly kind: null; readonly status: 400 | 413; readonly clientFault: true };

const REFUSED: FailureVerdict = { kind: 'refused', status: 502, clientFault: false };
const CONNECT_FAILED: FailureVerdict = { kind: 'connect', status: 502, clientFault: false };
const CONNECT_TIMEOUT: FailureVerdict = { kind: 'connect', status: 504, clientFault: false };
const TIMEOUT: FailureVerdict = { kind: 'timeout', status: 504, clientFault: false };
const RESET: FailureVerdict = { kind: 'reset', status: 502, clientFault: false };
const PROTOCOL: FailureVerdict = { kind: 'protocol', status: 502, clientFault: false };
const CLIENT_REQUEST_INVALID: FailureVerdict = { kind: null, status: 400, clientFault: true };
const CLIENT_BODY_TOO_LARGE: FailureVerdict = { kind: null, status: 413, clientFault: true };

/** Maps undici and socket error codes to a failure kind; unknown codes count as a reset. */
export function classifyUpstreamError(err: { code?: unknown; name?: unknown }): FailureVerdict {
  switch (err.code) {
    case 'ECONNREFUSED':
      return REFUSED;
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return CONNECT_TIMEOUT;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'EADDRNOTAVAIL':
      return CONNECT_FAILED;
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'SHIFTPROXY_RESPONSE_TIMEOUT':
      return TIMEOUT;
    case 'UND_ERR_HEADERS_OVERFLOW':
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
    case 'UND_ERR_RES_EXCEEDED_MAX_SIZE':
    case 'UND_ERR_INFO':
      return PROTOCOL;
    case 'UND_ERR_INVALID_ARG':
    case 'UND_ERR_NOT_SUPPORTED':
    case 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH':
      return CLIENT_REQUEST_INVALID;
    case 'SHIFTPROXY_BODY_TOO_LARGE':
      return CLIENT_BODY_TOO_LARGE;
    default:
      if (typeof err.code === 'string' && err.code.startsWith('HPE_')) return PROTOCOL;
      // undici's parser errors often carry no code (e.g. "Invalid header value char"): still a malformed answer.
      if (err.name === 'HTTPParserError') return PROTOCOL;
      return RESET;
  }
}

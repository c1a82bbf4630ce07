/**
 * Why the proxy ended a client's HTTP/2 connection. `protocol_error` covers what nghttp2 reports
 * as a protocol violation, oversized frames included (it does not say which).
 */
export type Http2ConnectionError = 'rapid_reset' | 'continuation_flood' | 'settings_flood' | 'ping_flood' | 'protocol_error';
export const HTTP2_CONNECTION_ERRORS: readonly Http2ConnectionError[] = ['rapid_reset', 'continuation_flood', 'settings_flood', 'ping_flood', 'protocol_error'];

/** What one listener counts about connections rather than requests: plain numbers on the hot path. */
export class EdgeCounters {
  tlsHandshakeErrors = 0;
  readonly http2Errors: Record<Http2ConnectionError, number> = {
    rapid_reset: 0,
    continuation_flood: 0,
    settings_flood: 0,
    ping_flood: 0,
    protocol_error: 0,
  };
}

/** Fields in the order a counter report carries them: TLS handshake errors, then each HTTP/2 reason. */
export function edgeCounterValues(counters: EdgeCounters): number[] {
  return [counters.tlsHandshakeErrors, ...HTTP2_CONNECTION_ERRORS.map((reason) => counters.http2Errors[reason])];
}

export function addEdgeCounterValues(counters: EdgeCounters, values: readonly number[]): void {
  counters.tlsHandshakeErrors += values[0] ?? 0;
  HTTP2_CONNECTION_ERRORS.forEach((reason, i) => (counters.http2Errors[reason] += values[i + 1] ?? 0));
}

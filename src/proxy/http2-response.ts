import { Http2ServerResponse, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { kMultiplexed, type HeadersOnlyResponse } from './exchange.js';

/**
 * Set on a stream once the proxy ended or cut its answer. A stream that closes without it was
 * reset by the client first, whatever error code it sent (RST_STREAM with NO_ERROR included),
 * which is what the rapid-reset guard counts.
 */
export const kProxyDone = Symbol('shiftproxy.proxyDone');
export type GuardedStream = ServerHttp2Stream & { [kProxyDone]?: true };

/**
 * Node's HTTP/2 compatibility response, completed where the proxy's exchange reads what only
 * an HTTP/1.1 ServerResponse has, so both protocols end in the same handler and exchange:
 * `destroyed` (the stream's), `shouldKeepAlive` (meaningless on one stream of many: the drain
 * ends HTTP/2 connections with GOAWAY instead) and a header-only end. The servers are given this
 * class through http2's `Http2ServerResponse` option.
 */
export class Http2ProxyResponse extends Http2ServerResponse implements HeadersOnlyResponse {
  readonly [kMultiplexed] = true as const;

  override end(...args: unknown[]): this {
    (this.stream as GuardedStream)[kProxyDone] = true;
    return (Http2ServerResponse.prototype.end as (...a: unknown[]) => this).apply(this, args);
  }

  override destroy(error?: Error): this {
    (this.stream as GuardedStream)[kProxyDone] = true;
    return super.destroy(error);
  }

  /**
   * Ends the stream with its HEADERS frame (END_STREAM set), as a gRPC trailers-only answer
   * must be sent; the compatibility layer would follow the head with an empty DATA frame.
   */
  endWithHeaders(status: number, headers: readonly string[]): void {
    const stream = this.stream as GuardedStream;
    stream[kProxyDone] = true;
    if (stream.destroyed || stream.headersSent) {
      this.end();
      return;
    }
    const block: OutgoingHttpHeaders = { ':status': status };
    for (let i = 0; i < headers.length; i += 2) {
      const name = (headers[i] as string).toLowerCase();
      const value = headers[i + 1] as string;
      const previous = block[name];
      block[name] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [String(previous), value];
    }
    try {
      stream.respond(block, { endStream: true });
    } catch {
      stream.close();
    }
  }
}

// Accessors the exchange reads on a ServerResponse; Node's class has none of them. Defined on the
// prototype because the typings declare them as plain properties.
Object.defineProperty(Http2ProxyResponse.prototype, 'destroyed', {
  get(this: Http2ProxyResponse) {
    return this.stream.destroyed;
  },
});
Object.defineProperty(Http2ProxyResponse.prototype, 'shouldKeepAlive', {
  get: () => true,
  set: () => undefined,
});

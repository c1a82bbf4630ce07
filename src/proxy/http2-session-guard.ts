import { constants, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { EdgeCounters, Http2ConnectionError } from '../core/edge-counters.js';
import { kProxyDone, type GuardedStream } from './http2-response.js';

/**
 * A connection whose client has reset this many streams before their answers were complete,
 * and more than half of all the streams it opened, is ended: the rapid-reset attack
 * (CVE-2023-44487) opens and cancels streams faster than the concurrency limit can see, making
 * the proxy start upstream requests nobody waits for. The rule is Envoy's (premature resets
 * over half of at least a minimum of streams); a client cancelling an occasional call never
 * comes near it. Ending the session stops nghttp2 reading the rest of the burst, so at most
 * this many such requests start per connection.
 */
export const RAPID_RESET_MIN = 100;

/** SETTINGS_MAX_CONCURRENT_STREAMS, which the session advertises and nghttp2 enforces. */
export const MAX_CONCURRENT_STREAMS = 100;

const ERR_FLOODED = -904;
const ERR_TOO_MANY_CONTINUATIONS = -905;

/**
 * Watches one client HTTP/2 session for abuse and counts why the proxy ended it. nghttp2 ends
 * the session itself on CONTINUATION floods (more than 8 in a row), SETTINGS and PING floods
 * (acknowledgements piling up unread) and protocol violations such as an oversized frame; Node
 * reports those as a session error, classified here. Every outcome ends that connection only.
 */
export function guardSession(session: ServerHttp2Session, counters: EdgeCounters): { openStreams(): number } {
  let streams = 0;
  let open = 0;
  let resets = 0;
  let pings = 0;
  let settings = 0;
  let ended = false;
  const end = (reason: Http2ConnectionError) => {
    if (ended) return;
    ended = true;
    counters.http2Errors[reason] += 1;
  };
  const tooCalm = () => {
    end('rapid_reset');
    session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
    session.destroy();
  };
  session.on('stream', (stream: ServerHttp2Stream) => {
    streams += 1;
    open += 1;
    stream.once('close', () => {
      open -= 1;
      // Closed before the proxy ended or cut its answer: the client reset it (any error code).
      if (ended || session.destroyed || (stream as GuardedStream)[kProxyDone] === true) return;
      resets += 1;
      if (resets >= RAPID_RESET_MIN && resets * 2 > streams) tooCalm();
    });
    // nghttp2 never lets more than the limit be open at once, yet more are open here: streams it
    // has closed already, because the client reset them in the same read that opened new ones.
    // That is the burst itself; ending the session now stops nghttp2 reading the rest of it.
    if (open > MAX_CONCURRENT_STREAMS && !ended) tooCalm();
  });
  session.on('ping', () => {
    pings += 1;
  });
  session.on('remoteSettings', () => {
    settings += 1;
  });
  session.on('error', (err: Error & { errno?: number; code?: string }) => {
    if (err.code !== 'ERR_HTTP2_ERROR') return;
    if (err.errno === ERR_TOO_MANY_CONTINUATIONS) end('continuation_flood');
    else if (err.errno === ERR_FLOODED) end(pings >= settings ? 'ping_flood' : 'settings_flood');
    else end('protocol_error');
  });
  return { openStreams: () => open };
}

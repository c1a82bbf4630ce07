import { constants, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { EdgeCounters, Http2ConnectionError } from '../core/edge-counters.js';

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

const ERR_FLOODED = -904;
const ERR_TOO_MANY_CONTINUATIONS = -905;

/**
 * Watches one client HTTP/2 session for abuse and counts why the proxy ended it. nghttp2 ends
 * the session itself on CONTINUATION floods (more than 8 in a row), SETTINGS and PING floods
 * (acknowledgements piling up unread) and protocol violations such as an oversized frame; Node
 * reports those as a session error, classified here. Every outcome ends that connection only.
 */
export function guardSession(session: ServerHttp2Session, counters: EdgeCounters): void {
  let streams = 0;
  let resets = 0;
  let pings = 0;
  let settings = 0;
  let ended = false;
  const end = (reason: Http2ConnectionError) => {
    if (ended) return;
    ended = true;
    counters.http2Errors[reason] += 1;
  };
  session.on('stream', (stream: ServerHttp2Stream) => {
    streams += 1;
    stream.once('aborted', () => {
      // rstCode is the peer's when it reset the stream; a stream the proxy cut reads 0 here.
      if (stream.rstCode === constants.NGHTTP2_NO_ERROR || ended) return;
      resets += 1;
      if (resets >= RAPID_RESET_MIN && resets * 2 > streams) {
        end('rapid_reset');
        session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
        session.destroy();
      }
    });
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
}

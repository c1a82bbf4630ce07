import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { GLOBAL_RESPONSES, type PrebuiltResponse } from './error-responses.js';
import { kExchange, type ResponseWithExchange } from './exchange.js';

type ServerSocket = Socket & { _httpMessage?: ResponseWithExchange | null; [kRefused]?: true };

const kRefused = Symbol('shiftproxy.refused');

/**
 * Node's parser refused bytes on this connection, or the client timed out. The answer (400,
 * 408, 431 with our JSON body, then close) must not overtake responses still owed to earlier
 * pipelined requests, so it waits for them. When the refused bytes belong to the request whose
 * response is in progress (a bad chunk, a body too slow), that exchange is aborted upstream and
 * the client gets the error, or a cut connection if the response had already begun.
 */
export function answerClientError(err: Error & { code?: string }, duplex: Duplex): void {
  const socket = duplex as ServerSocket;
  // Node calls this again for every later packet on a failed parser: answer once.
  if (socket[kRefused]) return;
  socket[kRefused] = true;
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  // The same statuses Node's own answers use.
  const response =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? GLOBAL_RESPONSES.headersTooLarge
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? GLOBAL_RESPONSES.requestTimeout
        : err.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
          ? GLOBAL_RESPONSES.chunkExtensionsTooLarge
          : GLOBAL_RESPONSES.badRequest;
  answerAfterPending(socket, response);
}

function answerAfterPending(socket: ServerSocket, response: PrebuiltResponse): void {
  if (socket.destroyed) return;
  const pending = socket._httpMessage;
  if (pending !== null && pending !== undefined) {
    const exchange = pending[kExchange];
    if (exchange !== undefined && !pending.req.complete) {
      // The refused bytes belong to the request being forwarded: abort it upstream, then answer or cut.
      if (pending.headersSent) {
        exchange.onRequestRejected(0);
        socket.destroy();
      } else {
        exchange.onRequestRejected(response.status);
        socket.end(response.raw);
      }
      return;
    }
    // A response marked as the connection's last (a refusal, a drain) is its last word: Node closes after it.
    if (!pending.shouldKeepAlive) return;
    // An earlier request is still being answered. Node's own 'finish' listener, registered
    // before this one, moves the next queued response onto the socket, so the answer always
    // waits for 'finish'. `writableFinished` cannot stand in for it: Node 20 reports it true as
    // soon as a response's bytes are in the socket, before its 'finish' has attached the
    // response queued behind it, and answering then ended the connection under the responses
    // still queued.
    let finished = false;
    pending.once('finish', () => {
      finished = true;
      answerAfterPending(socket, response);
    });
    pending.once('close', () => {
      if (!finished) socket.destroy();
    });
    return;
  }
  if (socket.writable) socket.end(response.raw);
  else socket.destroy();
}

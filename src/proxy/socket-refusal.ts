import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** How long a socket the proxy is done with may wait for the client's FIN before it is destroyed. */
export const LINGER_MS = 5000;

/**
 * Prepares a raw socket the proxy answers one last time (a refused upgrade or CONNECT, an
 * upgrade the target refused). Node's server sockets are half-open capable: once the proxy has
 * ended its side, the socket closes only when the client's FIN is read, and anything the client
 * sent meanwhile (a smuggled request, a TLS hello) would sit unread and keep it, and its fd,
 * open for ever. So input is discarded, and a client that never closes is cut after LINGER_MS.
 */
export function discardInput(socket: Duplex): void {
  socket.on('error', destroyQuietly);
  socket.resume();
  const timed = socket as Duplex & Partial<Pick<Socket, 'setTimeout'>>;
  timed.setTimeout?.(LINGER_MS, () => socket.destroy());
}

/** Ends a raw socket with a prebuilt answer, then lets it close (see discardInput). */
export function endWith(socket: Duplex, raw: Buffer): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  discardInput(socket);
  socket.end(raw);
}

function destroyQuietly(this: Duplex): void {
  this.destroy();
}

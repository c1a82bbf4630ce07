import type { Socket } from 'node:net';

/** What every HTTP/2 connection with prior knowledge opens with (RFC 9113 3.4). */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * Reads a plain connection's first bytes to tell HTTP/2 with prior knowledge (h2c) from
 * HTTP/1.x, puts them back, and says which it is. No HTTP/1.x request begins like the preface,
 * so the first bytes that differ from it decide; a client that sends nothing is closed after
 * `timeoutMs`, as HTTP/1.1's headersTimeout closes one that sends no head.
 */
export function sniffPreface(socket: Socket, timeoutMs: number, decided: (socket: Socket, http2: boolean) => void): void {
  let seen: Buffer | null = null;
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  const finish = (http2: boolean | null) => {
    clearTimeout(timer);
    socket.off('readable', onReadable);
    socket.off('close', onClose);
    if (http2 === null) return;
    if (seen !== null) socket.unshift(seen);
    decided(socket, http2);
  };
  const onClose = () => finish(null);
  const onReadable = () => {
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null) seen = seen === null ? chunk : Buffer.concat([seen, chunk]);
    if (seen === null) return;
    const n = Math.min(seen.length, PREFACE.length);
    const matches = seen.compare(PREFACE, 0, n, 0, n) === 0;
    if (matches && seen.length < PREFACE.length) return;
    finish(matches);
  };
  socket.on('error', onClose);
  socket.on('close', onClose);
  socket.on('readable', onReadable);
}

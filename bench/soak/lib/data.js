// Bytes for the big transfers and the pacing of a slow reader, shared by the client side and the
// upstream so both hash and throttle the same way.
import { randomBytes } from 'node:crypto';

export const CHUNK_BYTES = 64 * 1024;

const pattern = randomBytes(CHUNK_BYTES);

/**
 * The `index`-th chunk of a transfer: random bytes stamped with the chunk number, so every chunk
 * differs and a dropped, repeated or reordered chunk changes the sha256.
 */
export function numberedChunk(index, size = CHUNK_BYTES) {
  const chunk = Buffer.allocUnsafe(size);
  pattern.copy(chunk, 0, 0, size);
  if (size >= 8) chunk.writeBigUInt64BE(BigInt(index), 0);
  return chunk;
}

/**
 * A reader that may take at most `bytesPerSecond`: after each chunk it says how long to pause so
 * the running average stays at the rate (a burst is paid back, never saved up beyond it).
 */
export class Pace {
  constructor(bytesPerSecond) {
    this.rate = bytesPerSecond;
    this.startedAt = performance.now();
    this.bytes = 0;
  }

  /** Counts `n` bytes; returns the milliseconds to pause before reading more (0 for none). */
  take(n) {
    this.bytes += n;
    const due = this.startedAt + (this.bytes / this.rate) * 1000;
    return Math.max(0, due - performance.now());
  }
}

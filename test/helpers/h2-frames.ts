import { connect, type Socket } from 'node:net';

/**
 * Raw HTTP/2 frames, for inputs no well-behaved client sends (floods, resets, oversized frames).
 * Header blocks use HPACK's static table and literals without indexing, so no encoder state.
 */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, CONTINUATION: 9 } as const;
export const FLAG = { END_STREAM: 0x1, END_HEADERS: 0x4 } as const;

export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

function hpackInteger(value: number, prefixBits: number, first: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([first | value]);
  const out = [first | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Buffer.from(out);
}

/** A literal header field without indexing, new name (RFC 7541 6.2.2). */
export function literal(name: string, value: string): Buffer {
  const n = Buffer.from(name, 'latin1');
  const v = Buffer.from(value, 'latin1');
  return Buffer.concat([Buffer.from([0x00]), hpackInteger(n.length, 7, 0), n, hpackInteger(v.length, 7, 0), v]);
}

/** `GET /` over http with `authority`: :method GET, :scheme http, :path / from the static table. */
export function getRequestBlock(authority: string, path = '/'): Buffer {
  const pathField = path === '/' ? Buffer.from([0x84]) : Buffer.concat([Buffer.from([0x04]), hpackInteger(path.length, 7, 0), Buffer.from(path, 'latin1')]);
  return Buffer.concat([Buffer.from([0x82, 0x86]), pathField, Buffer.from([0x01]), hpackInteger(authority.length, 7, 0), Buffer.from(authority, 'latin1')]);
}

export function rstStream(stream: number, code = 8 /* CANCEL */): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(code);
  return frame(FRAME.RST_STREAM, 0, stream, payload);
}

export interface ParsedFrame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

export function parseFrames(bytes: Buffer): ParsedFrame[] {
  const frames: ParsedFrame[] = [];
  let at = 0;
  while (at + 9 <= bytes.length) {
    const length = bytes.readUIntBE(at, 3);
    if (at + 9 + length > bytes.length) break;
    frames.push({ type: bytes[at + 3] as number, flags: bytes[at + 4] as number, stream: bytes.readUInt32BE(at + 5) & 0x7fffffff, payload: bytes.subarray(at + 9, at + 9 + length) });
    at += 9 + length;
  }
  return frames;
}

/** A raw connection that has sent the preface and an empty SETTINGS, and keeps what the server sends. */
export class RawH2Connection {
  readonly socket: Socket;
  received = Buffer.alloc(0);
  readonly closed: Promise<void>;

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (chunk: Buffer) => (this.received = Buffer.concat([this.received, chunk])));
    this.socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
    this.socket.write(Buffer.concat([PREFACE, frame(FRAME.SETTINGS, 0, 0)]));
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  frames(): ParsedFrame[] {
    return parseFrames(this.received);
  }

  /** The error code of the GOAWAY the server sent, or undefined. */
  goawayCode(): number | undefined {
    const goaway = this.frames().find((f) => f.type === FRAME.GOAWAY);
    return goaway?.payload.readUInt32BE(4);
  }
}

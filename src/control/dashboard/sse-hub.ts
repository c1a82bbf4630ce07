import type { ServerResponse } from 'node:http';
import { SystemClock, type Clock, type TimerHandle } from '../../core/clock.js';
import { sseComment } from './sse-frame.js';

export interface SseHubOptions {
  /** Runs once per period while anyone listens; what it returns goes to every client. */
  tick: () => string | null;
  /** What a new client gets at once, so it need not wait for the next tick. */
  greeting: () => string;
  /** The first client arrived: prepare what the ticks read. */
  onActive?: () => void;
  /** The last client left (or the hub closed): release it. */
  onIdle?: () => void;
  onError?: (err: unknown) => void;
  intervalMs?: number;
  /** A client that got nothing for this long gets a comment, so idle intermediaries keep the stream. */
  heartbeatMs?: number;
  maxClients?: number;
  /** A client whose unsent backlog passes this is too slow to follow and is cut. */
  maxBufferedBytes?: number;
  /** Ticks and heartbeats run on it (tests inject a VirtualClock); the system clock by default. */
  clock?: Clock;
}

interface Client {
  readonly res: ServerResponse;
  lastWriteAt: number;
}

export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  // A buffering reverse proxy in front of the admin port would otherwise hold events back.
  'x-accel-buffering': 'no',
};

/**
 * Server-sent event streams sharing one timer: the work of a tick is done once and the same
 * text is written to every client, and the timer runs only while someone listens.
 */
export class SseHub {
  private readonly options: SseHubOptions;
  private readonly clock: Clock;
  private readonly clients = new Set<Client>();
  private timer: TimerHandle | null = null;
  private closed = false;

  constructor(options: SseHubOptions) {
    this.options = options;
    this.clock = options.clock ?? new SystemClock();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  get ticking(): boolean {
    return this.timer !== null;
  }

  /** Takes over a response for good; answers 503 when closed or full. */
  attach(res: ServerResponse): void {
    if (this.closed) return refuse(res, 'the admin server is shutting down');
    if (this.clients.size >= (this.options.maxClients ?? 64)) return refuse(res, 'too many open event streams');
    res.writeHead(200, SSE_HEADERS);
    if (res.req.method === 'HEAD') {
      res.end();
      return;
    }
    res.socket?.setNoDelay(true);
    const client: Client = { res, lastWriteAt: 0 };
    this.clients.add(client);
    res.on('close', () => this.detach(client));
    // A write racing the socket's end emits 'error' on the response; the 'close' that follows detaches it.
    res.on('error', () => this.detach(client));
    if (this.clients.size === 1) this.startTicking();
    let greeting: string;
    try {
      greeting = this.options.greeting();
    } catch (err) {
      this.options.onError?.(err);
      greeting = '';
    }
    this.write(client, sseComment('shiftproxy events') + greeting);
  }

  broadcast(frame: string): void {
    for (const client of [...this.clients]) this.write(client, frame);
  }

  /** Ends every stream and refuses new ones. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const clients = [...this.clients];
    this.clients.clear();
    this.stopTicking();
    for (const client of clients) client.res.end();
  }

  private write(client: Client, frame: string): void {
    const { res } = client;
    if (res.destroyed || res.writableEnded) return this.detach(client);
    if (res.writableLength > (this.options.maxBufferedBytes ?? 1 << 20)) {
      res.destroy();
      return this.detach(client);
    }
    res.write(frame);
    client.lastWriteAt = this.clock.now();
  }

  private detach(client: Client): void {
    if (this.clients.delete(client) && this.clients.size === 0) this.stopTicking();
  }

  private startTicking(): void {
    this.options.onActive?.();
    this.armTick();
  }

  /** The next tick is armed before this one runs, so a slow tick does not stretch the period. */
  private armTick(): void {
    this.timer = this.clock.setTimeout(() => {
      this.armTick();
      this.onTick();
    }, this.options.intervalMs ?? 1000);
  }

  private stopTicking(): void {
    if (!this.timer) return;
    this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.options.onIdle?.();
  }

  private onTick(): void {
    let frame: string | null = null;
    try {
      frame = this.options.tick();
    } catch (err) {
      this.options.onError?.(err);
    }
    if (frame) return this.broadcast(frame);
    const now = this.clock.now();
    const heartbeatMs = this.options.heartbeatMs ?? 15_000;
    for (const client of [...this.clients]) {
      if (now - client.lastWriteAt >= heartbeatMs) this.write(client, sseComment('keep-alive'));
    }
  }
}

function refuse(res: ServerResponse, error: string): void {
  const body = `${JSON.stringify({ error })}\n`;
  res.writeHead(503, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', 'retry-after': '5' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

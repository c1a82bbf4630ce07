import type { Socket } from 'node:net';
import { ScriptedUpstream, type ReceivedRequest } from './scripted-upstream.js';

/** How the backend answers its health path: a status, or a fault. */
export type HealthAnswer = number | 'hang' | 'garbage' | 'close' | 'reset';

/**
 * A backend for health tests (on the raw-TCP scripted upstream, so it can misbehave): the
 * health path answers as `health` says, every other path with `appStatus`. It counts probes
 * and the most probe connections it ever held open at once.
 */
export class HealthBackend {
  readonly upstream: ScriptedUpstream;
  health: HealthAnswer = 200;
  appStatus = 200;
  healthPath = '/healthz';
  healthRequests = 0;
  appRequests = 0;
  openProbeConnections = 0;
  maxOpenProbeConnections = 0;
  lastHealthRequest: ReceivedRequest | null = null;
  private readonly probeSockets = new WeakSet<Socket>();

  constructor() {
    this.upstream = new ScriptedUpstream((socket, request) => this.answer(socket, request));
  }

  start(): Promise<string> {
    return this.upstream.start();
  }

  get url(): string {
    return this.upstream.url;
  }

  stop(): Promise<void> {
    return this.upstream.stop();
  }

  private answer(socket: Socket, request: ReceivedRequest): void {
    const path = request.requestLine.split(' ')[1] ?? '';
    if (path !== this.healthPath) {
      this.appRequests += 1;
      const body = `app ${this.appStatus}`;
      socket.write(`HTTP/1.1 ${this.appStatus} X\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      return;
    }
    this.healthRequests += 1;
    this.lastHealthRequest = request;
    if (!this.probeSockets.has(socket)) {
      this.probeSockets.add(socket);
      this.openProbeConnections += 1;
      this.maxOpenProbeConnections = Math.max(this.maxOpenProbeConnections, this.openProbeConnections);
      socket.once('close', () => {
        this.openProbeConnections -= 1;
      });
    }
    const answer = this.health;
    if (typeof answer === 'number') {
      socket.write(`HTTP/1.1 ${answer} X\r\ncontent-length: 2\r\n\r\nok`);
    } else if (answer === 'garbage') {
      socket.end('this is not HTTP at all\r\n\r\n');
    } else if (answer === 'close') {
      socket.end();
    } else if (answer === 'reset') {
      socket.resetAndDestroy();
    }
    // 'hang': read the request, never answer.
  }
}

/** A started HealthBackend whose stop is queued on the test file's `cleanup` list. */
export async function startHealthBackend(cleanup: (() => Promise<unknown>)[]): Promise<HealthBackend> {
  const backend = new HealthBackend();
  await backend.start();
  cleanup.push(() => backend.stop());
  return backend;
}

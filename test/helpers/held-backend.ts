import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { listenOnLoopback } from './loopback-server.js';

/** An HTTP target that answers its name, holding requests until the test releases them. */
export interface HeldBackend {
  readonly url: string;
  readonly name: string;
  /** Paths of the requests received, in order. */
  readonly received: string[];
  /** Requests received and not answered yet. */
  inFlight: number;
  maxInFlight: number;
  /** Open client connections, and the most open at once. */
  readonly sockets: Set<Socket>;
  maxOpenSockets: number;
  /** Answers every request held so far, and from now on answers at once. */
  release(): void;
}

/**
 * A slow target whose slowness the test decides rather than a timer: with `hold` (the default)
 * every request waits for `release()`. Answers `200 <name>` with an `x-served-by: <name>` header.
 * The server stops with the test's cleanup.
 */
export async function heldBackend(name: string, cleanup: (() => Promise<unknown>)[], hold = true): Promise<HeldBackend> {
  const waiting: (() => void)[] = [];
  let holding = hold;
  const sockets = new Set<Socket>();
  const state = {
    url: '',
    name,
    received: [] as string[],
    inFlight: 0,
    maxInFlight: 0,
    sockets,
    maxOpenSockets: 0,
    release: () => {
      holding = false;
      for (const answer of waiting.splice(0)) answer();
    },
  };
  const server: Server = createServer((req, res) => {
    state.received.push(req.url ?? '');
    state.inFlight += 1;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    req.resume();
    const answer = () => {
      state.inFlight -= 1;
      res.writeHead(200, { 'content-type': 'text/plain', 'x-served-by': name });
      res.end(name);
    };
    if (holding) waiting.push(answer);
    else answer();
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    state.maxOpenSockets = Math.max(state.maxOpenSockets, sockets.size);
    socket.once('close', () => sockets.delete(socket));
  });
  state.url = await listenOnLoopback(server, cleanup);
  return state;
}

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Faults a fake backend injects; changeable while it runs. */
export interface BackendFaults {
  /** Share of requests (0..1) answered 500. */
  errorRate: number;
  /** Extra latency added to every answer, in milliseconds. */
  latencyMs: number;
  /** Share of requests (0..1) answered 200 with a different body (`answer: 43`): what a mirror comparison catches. */
  mismatchRate: number;
}

/**
 * A small HTTP backend for the demo and the simulator: answers `{ path, ok, answer: 42 }` on
 * every path (the same on every backend, so mirrored copies compare equal; which backend served
 * and its request count are the `x-served-by` and `x-request-number` headers) and `ok` on
 * /healthz, with injectable errors, latency and wrong answers. Randomness is injected so
 * simulations can be reproduced with a seed.
 */
export class FakeBackend {
  readonly name: string;
  readonly faults: BackendFaults = { errorRate: 0, latencyMs: 0, mismatchRate: 0 };
  /** Client requests answered (mirrored copies are counted apart: no client saw them). */
  requests = 0;
  errors = 0;
  /** Copies a mirror sent (marked with x-shiftproxy-mirror). */
  mirrored = 0;
  private readonly server: Server;
  private readonly random: () => number;

  constructor(name: string, random: () => number = Math.random) {
    this.name = name;
    this.random = random;
    this.server = createServer({ keepAliveTimeout: 10_000 }, (req, res) => {
      if (req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok\n');
        return;
      }
      if (req.headers['x-shiftproxy-mirror'] !== undefined) this.mirrored += 1;
      else this.requests += 1;
      const fail = this.faults.errorRate > 0 && this.random() < this.faults.errorRate;
      const wrong = !fail && this.faults.mismatchRate > 0 && this.random() < this.faults.mismatchRate;
      const n = this.requests;
      const answer = () => {
        if (fail) this.errors += 1;
        const body = JSON.stringify({ path: req.url, ok: !fail, answer: wrong ? 43 : 42 });
        res.writeHead(fail ? 500 : 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-served-by': this.name, 'x-request-number': String(n) });
        res.end(body);
      };
      req.resume();
      if (this.faults.latencyMs > 0) setTimeout(answer, this.faults.latencyMs);
      else answer();
    });
  }

  async start(host = '127.0.0.1', port = 0): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    return this.url;
  }

  get url(): string {
    const address = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${address.port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

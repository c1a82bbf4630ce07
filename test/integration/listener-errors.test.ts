import { Server } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeBackend } from '../../src/simulate/fake-backend.js';
import { startProxy } from '../helpers/proxy-harness.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

/** The proxy's listening server (with workers, the primary's, which accepts), found among the process's handles by its port. */
function listeningServer(port: number): Server {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  const server = handles.find((h): h is Server => h instanceof Server && (h.address() as { port?: number } | null)?.port === port);
  if (!server) throw new Error(`no server listening on ${port}`);
  return server;
}

describe('listener errors', () => {
  it('counts an error a listening server reports (an accept failure) and keeps serving', async () => {
    const blue = new FakeBackend('blue');
    await blue.start();
    cleanup.push(() => blue.stop());
    const proxy = await startProxy({ services: [{ name: 'shop', blue: [blue.url], green: [blue.url.replace('127.0.0.1', 'localhost')] }] });
    cleanup.push(() => proxy.stop());

    const server = listeningServer(proxy.port);
    for (let i = 0; i < 3; i++) server.emit('error', Object.assign(new Error('accept ENOBUFS'), { code: 'ENOBUFS', syscall: 'accept' }));

    const res = await request(proxy.url);
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    const metrics = await (await request(`${proxy.adminUrl}/metrics`)).body.text();
    expect(metrics).toMatch(/^shiftproxy_listener_errors_total 3$/m);
  });
});

import type { AddressInfo, Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { openRaw, parseRaw, rawRequest, statusLines } from '../../helpers/raw-client.js';
import type { ProxyUnderTest } from '../../helpers/proxy-harness.js';
import { echoRaw, respondOk, respondRaw } from '../../helpers/scripted-upstream.js';
import { head, oneService, onCleanup, proxy, UNUSED_GREEN, until, upstream, useCleanup, WAIT_MS } from './support.js';

// WebSocket tunnels through the proxy: byte-exact, torn down from
// either side, never opened on a refused upgrade, refused for other protocols, idle-limited.

useCleanup();

const H = 'Host: a.test';
const UPGRADE = (path = '/ws') =>
  `GET ${path} HTTP/1.1\r\n${H}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;

interface Backend {
  url: string;
  server: WebSocketServer;
  sockets: Set<WebSocket>;
}

async function wsBackend(onConnection: (ws: WebSocket) => void = (ws) => ws.on('message', (data, binary) => ws.send(data, { binary }))): Promise<Backend> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((r) => server.once('listening', () => r()));
  const sockets = new Set<WebSocket>();
  server.on('connection', (ws) => {
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    ws.on('error', () => undefined);
    onConnection(ws);
  });
  onCleanup(
    () =>
      new Promise<void>((r) => {
        for (const ws of server.clients) ws.terminate();
        server.close(() => r());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, sockets };
}

async function wsClient(p: ProxyUnderTest, path = '/ws'): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${p.port}${path}`, { headers: { host: 'a.test' } });
  ws.on('error', () => undefined);
  onCleanup(() => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
  return ws;
}

/** Every socket the proxy's listeners still hold, HTTP, upgraded or refused (with workers, as they report it). */
async function proxySockets(p: ProxyUnderTest): Promise<number> {
  const workers = p.running.workers;
  if (workers) {
    await p.settle();
    return workers.clientConnections();
  }
  const server = p.running.dataPlane.server;
  return Promise.all(server.listeners.map((l) => new Promise<number>((r) => l.http1.getConnections((_e, n) => r(n))))).then((ns) =>
    ns.reduce((a, b) => a + b, 0),
  );
}

async function expectNoProxySockets(p: ProxyUnderTest): Promise<void> {
  const deadline = performance.now() + WAIT_MS;
  while ((await proxySockets(p)) !== 0) {
    if (performance.now() > deadline) throw new Error(`the proxy still holds ${await proxySockets(p)} sockets`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Open tunnels of the proxy (what the drain would have to cut); with workers, as they report it. */
async function openTunnels(p: ProxyUnderTest): Promise<number> {
  await p.settle();
  return p.running.workers ? p.running.workers.openTunnels() : p.running.dataPlane.server.openTunnels();
}

describe('WebSocket', () => {
  it('an upgrade and 10,000 echoed messages, byte-exact', async () => {
    const sent: Buffer[] = [];
    for (let i = 0; i < 10_000; i++) {
      const size = i % 97 === 0 ? 70_000 : (i * 7919) % 300;
      const payload = Buffer.alloc(size);
      for (let k = 0; k < size; k++) payload[k] = (i + k * 31) & 0xff;
      sent.push(payload);
    }
    const backend = await wsBackend();
    // The test's own event loop is busy for a while sending (the tunnel reads nothing meanwhile):
    // the idle timeout is far away, so only a broken tunnel could end the exchange early.
    const p = await oneService(backend.url, { timeouts: { connect: 300, response: 500, idle: 60_000 } });
    const ws = await wsClient(p);
    const received: Buffer[] = [];
    const done = new Promise<void>((resolve, reject) => {
      ws.on('message', (data: Buffer) => {
        received.push(data);
        if (received.length === sent.length) resolve();
      });
      ws.once('close', (code) => reject(new Error(`the tunnel closed (${code}) after ${received.length} of ${sent.length} messages`)));
    });
    for (const payload of sent) ws.send(payload, { binary: true });
    await done;
    expect(received.every((r, i) => r.equals(sent[i] as Buffer))).toBe(true);
    ws.close();
    await until(async () => (await openTunnels(p)) === 0, 'the tunnel to be released');
  });

  it('the backend resets the tunnel: the client socket is closed and the proxy keeps serving', async () => {
    const backend = await wsBackend((ws) => ws.on('message', () => (ws as unknown as { _socket: Socket })._socket.resetAndDestroy()));
    const p = await oneService(backend.url);
    const ws = await wsClient(p);
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send('boom');
    expect(await closed).toBe(1006);
    await until(async () => (await openTunnels(p)) === 0, 'the tunnel to be released');
    const again = await wsClient(p);
    expect(again.readyState).toBe(WebSocket.OPEN);
  });

  it('the client resets: the backend socket is closed', async () => {
    let backendClosed = false;
    const backend = await wsBackend((ws) => ws.on('close', () => (backendClosed = true)));
    // The idle timeout is far away: only the reset travelling through the proxy can close the backend side.
    const p = await oneService(backend.url, { timeouts: { connect: 300, response: 500, idle: 60_000 } });
    const ws = await wsClient(p);
    await until(() => backend.sockets.size === 1, 'the backend to see the tunnel');
    (ws as unknown as { _socket: Socket })._socket.resetAndDestroy();
    await until(() => backendClosed, 'the backend socket to close');
    await until(async () => (await openTunnels(p)) === 0, 'the tunnel to be released');
  });

  it.each([
    ['426', 'HTTP/1.1 426 Upgrade Required\r\ncontent-length: 7\r\n\r\nupgrade'],
    ['200', 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'],
  ])('the backend answers the upgrade with %s: relayed as a plain answer, and no raw tunnel is opened', async (status, answer) => {
    const up = await upstream(respondRaw(answer));
    const p = await oneService(up.url);
    const conn = await openRaw(p.port);
    onCleanup(() => void conn.socket.destroy());
    conn.write(UPGRADE());
    await conn.waitFor(`HTTP/1.1 ${status}`);
    // What a smuggler sends next, hoping for a tunnel to an internal path.
    conn.write(`GET /internal HTTP/1.1\r\n${H}\r\n\r\n`);
    await conn.closed;
    // Those unread bytes must not keep the proxy's half-closed socket (and its fd) alive.
    await expectNoProxySockets(p);
    expect(statusLines(conn.text())).toEqual([Number(status)]);
    expect(conn.text()).toMatch(/connection: close/i);
    expect(up.bytesReceived().toString('latin1')).not.toContain('/internal');
    expect(up.received).toHaveLength(1);
    expect(await openTunnels(p)).toBe(0);
  });

  it.each([
    ['h2c', `GET / HTTP/1.1\r\n${H}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`],
    ['an unknown protocol', `GET / HTTP/1.1\r\n${H}\r\nConnection: Upgrade\r\nUpgrade: foo/1\r\n\r\n`],
    ['websocket over HTTP/1.0', `GET / HTTP/1.0\r\n${H}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`],
    ['websocket with a body', `POST / HTTP/1.1\r\n${H}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 2\r\n\r\nhi`],
  ])('%s: refused with 400, nothing reaches the upstream', async (_name, bytes) => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    // The client keeps talking after the refusal (an h2c preface, say) and only then closes.
    const conn = await openRaw(p.port);
    onCleanup(() => void conn.socket.destroy());
    conn.write(bytes);
    await conn.waitFor('\r\n\r\n{');
    conn.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    await conn.closed;
    const res = parseRaw(conn.text(), true);
    expect(res.status).toBe(400);
    expect(res.headers['connection']).toBe('close');
    expect(JSON.parse(res.body)).toEqual({ error: 'unsupported Upgrade protocol' });
    expect(up.connections).toBe(0);
    await expectNoProxySockets(p);
  });

  it('CONNECT followed at once by tunnel bytes: 405, and the socket is released', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    const conn = await openRaw(p.port);
    onCleanup(() => void conn.socket.destroy());
    conn.write(`CONNECT a.test:443 HTTP/1.1\r\n${H}\r\n\r\n\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03`);
    await conn.closed;
    expect(statusLines(conn.text())).toEqual([405]);
    await expectNoProxySockets(p);
  });

  it.each([
    ['no Host', UPGRADE().replace(`${H}\r\n`, ''), 'missing Host header'],
    ['two Hosts', UPGRADE().replace(`${H}\r\n`, `${H}\r\nHost: b.test\r\n`), 'more than one Host header'],
    ['a fragment', UPGRADE('/ws#x'), 'a request target must not carry a #fragment'],
    ['1,100 header fields', UPGRADE().replace(`${H}\r\n`, `${H}\r\n${Array.from({ length: 1100 }, (_, i) => `x${i}:1\r\n`).join('')}`), 'request headers too large'],
  ])('an upgrade with %s is refused like a plain request', async (_name, bytes, error) => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, bytes, { responses: Infinity });
    expect(JSON.parse(res.body)).toEqual({ error });
    expect(res.closed).toBe(true);
    expect(up.connections).toBe(0);
  });

  it('an upgrade pipelined behind a refused request never reaches the upstream', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, `POST / HTTP/1.1\r\n${H}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n${UPGRADE()}`, {
      responses: Infinity,
    });
    expect(statusLines(res.raw)).toEqual([501]);
    expect(res.closed).toBe(true);
    expect(up.connections).toBe(0);
    expect(await openTunnels(p)).toBe(0);
  });

  it('an Upgrade header on a plain request is dropped, the request forwarded as plain HTTP', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, head([H, 'Upgrade: h2c']));
    expect(res.status).toBe(200);
    expect(up.received[0]!.head.toLowerCase()).not.toContain('upgrade');
  });

  it('an idle tunnel is closed at timeouts.idle; a busy one is not', async () => {
    const idleMs = 1000;
    const backend = await wsBackend();
    const p = await oneService(backend.url, { timeouts: { connect: 300, response: 500, idle: idleMs } });
    const busy = await wsClient(p, '/busy');
    const upgradeSentAt = performance.now();
    const idle = await wsClient(p, '/idle');
    let idleClosedAt = 0;
    idle.once('close', () => (idleClosedAt = performance.now()));
    // The busy tunnel exchanges a message every 100 ms for as long as the idle one lives.
    let ticks = 0;
    while (idleClosedAt === 0) {
      if (ticks * 100 > WAIT_MS) throw new Error('the idle tunnel was never closed');
      busy.send(`tick ${ticks++}`);
      await new Promise((r) => busy.once('message', r));
      await new Promise((r) => setTimeout(r, 100));
    }
    // Not before the idle timeout, whose clock started after the upgrade was sent.
    expect(idleClosedAt - upgradeSentAt).toBeGreaterThanOrEqual(idleMs - 50);
    expect(busy.readyState).toBe(WebSocket.OPEN);
    busy.close();
  });

  it('plain requests keep flowing on the same proxy while a tunnel is open', async () => {
    const backend = await wsBackend();
    const plain = await upstream(respondOk('plain'));
    const p = await proxy({
      services: [
        { name: 'ws', match: { host: 'ws.test' }, blue: [backend.url], green: [UNUSED_GREEN] },
        { name: 'svc', match: { host: 'a.test' }, blue: [plain.url], green: [UNUSED_GREEN] },
      ],
    });
    const ws = new WebSocket(`ws://127.0.0.1:${p.port}/ws`, { headers: { host: 'ws.test' } });
    ws.on('error', () => undefined);
    onCleanup(() => ws.terminate());
    await new Promise((r) => ws.once('open', r));
    for (let i = 0; i < 5; i++) expect((await rawRequest(p.port, head([H]))).body).toBe('plain');
    ws.send('still here');
    expect(String(await new Promise((r) => ws.once('message', r)))).toBe('still here');
    expect(await openTunnels(p)).toBe(1);
  });
});

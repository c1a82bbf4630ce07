// The soak upstream: one node:http process listening on two ports (the "blue" and "green" slots)
// with the endpoints the scenarios need. Prints JSON lines on stdout: `{"event":"listening",
// "blue":port,"green":port}` first, then one line per transfer that asked to be reported, so the
// harness can compare what this side saw with what the client saw.
//
//   node bench/soak/upstream-server.js [--ports BLUE,GREEN]      (0,0 = free ports; fixed ports for restarts)
//
//   GET  /                   100-byte body
//   GET  /slow?ms=N          the same, after N ms (response headers held back)
//   GET  /download?bytes=N   N bytes as fast as the reader takes them; counts the writes that blocked
//   POST /upload?rate=B      reads the body at most B bytes/s, answers {bytes, sha256, headersAt, firstByteAt}
//   POST /sink               reads the body at full speed, answers its length
//   Upgrade: websocket       echoes every message
//   add &report=1 to /download or /upload to get a line on stdout when it finishes
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { CHUNK_BYTES, numberedChunk, Pace } from './lib/data.js';

const portsArg = process.argv.indexOf('--ports');
const [bluePort, greenPort] = (portsArg > 0 ? process.argv[portsArg + 1] : '0,0').split(',').map(Number);
const HELLO = Buffer.alloc(100, 'x');

const emit = (event, fields) => process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);

function handle(req, res) {
  const url = new URL(req.url, 'http://upstream');
  const report = url.searchParams.get('report') === '1';
  switch (url.pathname) {
    case '/download':
      return download(res, Number(url.searchParams.get('bytes')), report);
    case '/upload':
      return upload(req, res, Number(url.searchParams.get('rate') ?? 0), report);
    case '/sink':
      return sink(req, res);
    case '/slow':
      req.resume();
      return void setTimeout(hello, Number(url.searchParams.get('ms') ?? 100), res);
    default:
      req.resume();
      return hello(res);
  }
}

function hello(res) {
  if (res.destroyed) return;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': HELLO.length });
  res.end(HELLO);
}

/** Writes as fast as the socket drains; every `false` from write() is a write the reader held back. */
function download(res, bytes, report) {
  const hash = createHash('sha256');
  const startedAt = Date.now();
  let sent = 0;
  let index = 0;
  let blockedWrites = 0;
  let blockedMs = 0;
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes });
  const pump = () => {
    while (sent < bytes) {
      const chunk = numberedChunk(index++, Math.min(CHUNK_BYTES, bytes - sent));
      hash.update(chunk);
      sent += chunk.length;
      if (!res.write(chunk)) {
        if (res.destroyed) return;
        blockedWrites += 1;
        const since = performance.now();
        res.once('drain', () => {
          blockedMs += performance.now() - since;
          pump();
        });
        return;
      }
    }
    // The callback runs once the last byte is handed to the kernel: the upstream's view of "done".
    res.end(() => {
      if (report) emit('download', { bytes: sent, sha256: hash.digest('hex'), blockedWrites, blockedMs, startedAt, finishedAt: Date.now() });
    });
  };
  pump();
}

/** Reads at most `rate` bytes/s by pausing the request, so the back-pressure reaches the proxy through TCP. */
function upload(req, res, rate, report) {
  const headersAt = Date.now();
  const hash = createHash('sha256');
  const pace = rate > 0 ? new Pace(rate) : null;
  let bytes = 0;
  let firstByteAt = null;
  req.on('data', (chunk) => {
    if (firstByteAt === null) firstByteAt = Date.now();
    hash.update(chunk);
    bytes += chunk.length;
    const wait = pace ? pace.take(chunk.length) : 0;
    if (wait > 0) {
      req.pause();
      setTimeout(() => req.resume(), wait);
    }
  });
  req.on('end', () => {
    const result = { bytes, sha256: hash.digest('hex'), headersAt, firstByteAt, finishedAt: Date.now() };
    if (report) emit('upload', result);
    const body = JSON.stringify(result);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

function sink(req, res) {
  let bytes = 0;
  req.on('data', (chunk) => (bytes += chunk.length));
  req.on('end', () => {
    const body = String(bytes);
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
  });
}

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => ws.terminate());
});

function listen(port) {
  return new Promise((resolve, reject) => {
    const server = createServer({ keepAliveTimeout: 5000 }, handle);
    server.on('upgrade', (req, socket, head) => {
      socket.on('error', () => socket.destroy());
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    });
    server.on('clientError', (_err, socket) => socket.destroy());
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server.address().port));
  });
}

const [blue, green] = await Promise.all([listen(bluePort), listen(greenPort)]);
emit('listening', { blue, green });

// Clients the scenarios drive the proxy with: raw sockets where the test is about connections
// (counting them, holding them idle, cutting them), and autocannon for sustained load.
import { connect } from 'node:net';
import { LOAD_CPU, pinned, spawnChild } from './children.js';

const AUTOCANNON = new URL('../../../node_modules/autocannon/autocannon.js', import.meta.url).pathname;

/** Opens a TCP connection; resolves once connected (rejects on a refused connect or after `timeoutMs`). */
export function openSocket(host, port, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('connect timed out'));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * One request on a fresh connection with `Connection: close`, read to EOF: resolves with the
 * status (0 when the connection ended without a status line), rejects on a socket error.
 */
export function oneShotRequest(host, port, path = '/', timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true });
    let head = '';
    const timer = setTimeout(() => socket.destroy(new Error('request timed out')), timeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', (text) => {
      if (head.length < 64) head += text;
    });
    socket.once('end', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(statusOf(head));
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n`);
  });
}

function statusOf(text) {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  return match ? Number(match[1]) : 0;
}

/**
 * A kept-alive raw connection issuing one GET at a time, framing answers by Content-Length (the
 * upstream and the proxy's own answers always carry it). For the tests that need to know which
 * connection a request used.
 */
export class KeepAliveConnection {
  static async open(host, port, timeoutMs) {
    return new KeepAliveConnection(await openSocket(host, port, timeoutMs));
  }

  constructor(socket) {
    this.socket = socket;
    this.closed = false;
    this.buffer = Buffer.alloc(0);
    this.pending = null;
    socket.on('data', (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.tryComplete();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.pending?.reject(new Error('connection closed'));
      this.pending = null;
    });
  }

  /** Resolves with the status of `GET path` on this connection. */
  get(path = '/', timeoutMs = 10_000) {
    if (this.closed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.socket.destroy(), timeoutMs);
      this.pending = {
        resolve: (status) => (clearTimeout(timer), resolve(status)),
        reject: (err) => (clearTimeout(timer), reject(err)),
      };
      this.socket.write(`GET ${path} HTTP/1.1\r\nHost: soak\r\n\r\n`);
    });
  }

  tryComplete() {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0 || this.pending === null) return;
    const head = this.buffer.subarray(0, end).toString('latin1');
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    if (this.buffer.length < end + 4 + length) return;
    this.buffer = this.buffer.subarray(end + 4 + length);
    const pending = this.pending;
    this.pending = null;
    pending.resolve(statusOf(head));
  }

  close() {
    this.socket.destroy();
  }
}

/** Runs autocannon (JSON output) on the load CPU; resolves with its parsed result. */
export function autocannon(url, args) {
  return new Promise((resolve, reject) => {
    const [command, argv] = pinned(LOAD_CPU, process.execPath, [AUTOCANNON, ...args, '-j', url]);
    const child = spawnChild(command, argv);
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.once('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out));
      else reject(new Error(`autocannon exited with ${code}: ${err.slice(-500)}`));
    });
  });
}

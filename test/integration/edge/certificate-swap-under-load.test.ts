import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { listenOnLoopback } from '../../helpers/loopback-server.js';
import { startProxy } from '../../helpers/proxy-harness.js';
import { TestCa } from '../../helpers/tls-certs.js';
import { until } from '../../helpers/wait-for.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** Runs h2load (Debian's nghttp2-client) and parses its request summary. */
function h2load(args: string[]): { started: Promise<void>; done: Promise<{ total: number; succeeded: number; failed: number; errored: number; output: string }> } {
  const child = spawn('h2load', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanup.push(async () => child.kill('SIGKILL'));
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const started = new Promise<void>((resolve) => child.once('spawn', () => resolve()));
  const done = new Promise<{ total: number; succeeded: number; failed: number; errored: number; output: string }>((resolve) =>
    child.once('close', () => {
      const m = /requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(output);
      resolve({ total: Number(m?.[1] ?? -1), succeeded: Number(m?.[2] ?? -1), failed: Number(m?.[3] ?? -1), errored: Number(m?.[4] ?? -1), output });
    }),
  );
  return { started, done };
}

function servedSerial(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ port, host: '127.0.0.1', servername: 'load.test', ca: readFileSync(ca) });
    socket.once('secureConnect', () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.end();
    });
    socket.once('error', reject);
  });
}

describe('a certificate swap under load', () => {
  it('h2load over TLS while the certificate is replaced three times: zero failed requests, and every new connection gets the newest certificate', async () => {
    const ca = new TestCa();
    const files = { cert: join(ca.dir, 'load.pem'), key: join(ca.dir, 'load.key') };
    ca.install(ca.issue(['load.test']), files);
    let answered = 0;
    const url = await listenOnLoopback(
      createServer((_req, res) => {
        answered += 1;
        res.end('ok');
      }),
      cleanup,
    );
    const p = await startProxy({ listeners: [{ address: '127.0.0.1:0', tls: { certs: [files] } }], services: [{ blue: [url], green: [url.replace('127.0.0.1', 'localhost')] }] });
    cleanup.push(() => p.stop());

    for (let round = 0; round < 3; round++) {
      const before = answered;
      // New connections each round (h2load connects at its start), so each round's handshakes meet the certificate of the moment.
      const load = h2load(['-n', '6000', '-c', '4', '-m', '10', `https://127.0.0.1:${p.port}/`]);
      await load.started;
      await until(() => answered > before + 100, 'the load to be flowing');
      ca.install(ca.issue(['load.test']), files);
      const serial = new X509Certificate(readFileSync(files.cert)).serialNumber;
      await until(async () => (await servedSerial(p.port, ca.caFile)) === serial, 'the new certificate to be served');
      const result = await load.done;
      expect({ failed: result.failed, errored: result.errored, succeeded: result.succeeded }, result.output).toEqual({ failed: 0, errored: 0, succeeded: 6000 });
    }
  });
});

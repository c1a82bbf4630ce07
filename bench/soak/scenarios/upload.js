// Big upload through a slow upstream. The proxy must stream the body with back-pressure: its
// memory stays flat however big the body is, the bytes arrive intact, and the upstream gets the
// first body byte as soon as the client sends it (a buffering proxy would hold it back).
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { stopAndCheckClean } from '../lib/invariants.js';
import { CHUNK_BYTES, numberedChunk } from '../lib/data.js';
import { measureTransfer, MB, reportTransfer } from '../lib/probes.js';
import { startProxy } from '../lib/proxy.js';
import { startUpstream } from '../lib/upstream.js';

const FIRST_BYTE_LIMIT_MS = 100;
// The client sends the head, then waits this long before the first body byte, so "the upstream
// saw the head" and "the upstream saw the first body byte" are two distinct moments.
const HEAD_TO_BODY_GAP_MS = 300;

export default {
  name: 'upload',
  description: 'a big upload through an upstream reading at 10 MB/s: streamed, intact, flat proxy memory',
  defaults: { mib: 1024, rate: 10, rssGrowth: 64 },
  quick: { mib: 64 },

  async run({ report, dir, options }) {
    const bytes = options.mib * MB;
    const rate = options.rate * 1e6;
    const upstream = await startUpstream({ dir });
    // Room for a slow transfer: the client side may take bytes / rate seconds to send the body.
    const proxy = await startProxy({ dir, name: 'upload', upstream, server: { requestTimeout: '2h' }, inspect: true });
    try {
      await proxy.settle();
      const measured = await measureTransfer(proxy, () => sendUpload(`${proxy.url}/upload?rate=${rate}&report=1`, bytes));
      const sent = measured.result;
      writeFileSync(join(dir, 'upload-rss.json'), JSON.stringify(measured.samples));
      const seen = await upstream.nextEvent('upload', 10_000);

      reportTransfer(report, 'upload', bytes, measured, options.rssGrowth);
      report.check('upload answered 200', sent.status === 200, sent.status, 200);
      report.check('upstream received every byte, sha256 matches', seen.bytes === bytes && seen.sha256 === sent.sha256, `${seen.bytes} bytes, ${seen.sha256.slice(0, 16)}… vs sent ${sent.sha256.slice(0, 16)}…`, `${bytes} bytes, same sha256`);
      // Not a threshold: undici writes a streamed request's head together with its first body chunk.
      report.info(`the upstream saw the request head ${seen.headersAt - sent.headSentAt} ms after the client sent it (the first body byte followed ${HEAD_TO_BODY_GAP_MS} ms later)`);
      const firstByteDelay = seen.firstByteAt - sent.firstByteSentAt;
      report.check('first body byte reaches the upstream (no request buffering)', firstByteDelay < FIRST_BYTE_LIMIT_MS, `${firstByteDelay} ms after the client sent it`, `< ${FIRST_BYTE_LIMIT_MS} ms`);
      await stopAndCheckClean(report, proxy);
    } finally {
      await proxy.stop('SIGKILL');
      await upstream.stop();
    }
  },
};

/**
 * POSTs `bytes` of numbered chunks with Content-Length, honouring back-pressure (the client never
 * has more than a socket buffer in flight). Resolves with the status, the sha256 of what was
 * sent and when (wall clock, comparable with the upstream's) the first body byte was written.
 */
function sendUpload(url, bytes) {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let firstByteSentAt = 0;
    let headSentAt = 0;
    const req = request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/octet-stream', 'content-length': bytes } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, sha256: hash.digest('hex'), headSentAt, firstByteSentAt }));
    });
    req.on('error', reject);
    req.flushHeaders();
    headSentAt = Date.now();
    let sent = 0;
    let index = 0;
    const pump = () => {
      while (sent < bytes) {
        const chunk = numberedChunk(index++, Math.min(CHUNK_BYTES, bytes - sent));
        hash.update(chunk);
        if (sent === 0) firstByteSentAt = Date.now();
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    setTimeout(pump, HEAD_TO_BODY_GAP_MS);
  });
}

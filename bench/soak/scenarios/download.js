// Big download to a slow client. The proxy must pass the client's slowness back to the
// upstream (its writes block) instead of reading the whole response into memory: flat proxy
// memory, intact bytes, and an upstream that finishes only about when the client does.
import { createHash } from 'node:crypto';
import { get } from 'node:http';
import { Pace } from '../lib/data.js';
import { stopAndCheckClean } from '../lib/invariants.js';
import { measureTransfer, MB, mib, reportTransfer } from '../lib/probes.js';
import { startProxy } from '../lib/proxy.js';
import { startUpstream } from '../lib/upstream.js';

// Loopback socket buffers (sender's and receiver's, on both hops) legitimately hold a few MB each
// with autotuning; a proxy that buffered the response would hold (nearly) all of it.
const IN_FLIGHT_LIMIT = 32 * MB;
// The upstream must have spent most of its sending time waiting on a full socket.
const BLOCKED_SHARE_LIMIT = 0.5;

export default {
  name: 'download',
  description: 'a big download to a client reading at 10 MB/s: back-pressure to the upstream, intact, flat proxy memory',
  defaults: { mib: 1024, rate: 10, rssGrowth: 64 },
  quick: { mib: 64 },

  async run({ report, dir, options }) {
    const bytes = options.mib * MB;
    const rate = options.rate * 1e6;
    const upstream = await startUpstream({ dir });
    // The body idle timeout is per read, so a steady slow reader never trips it; the request timeout does not apply to responses.
    const proxy = await startProxy({ dir, name: 'download', upstream, inspect: true });
    try {
      await proxy.settle();
      const measured = await measureTransfer(proxy, () => slowDownload(`${proxy.url}/download?bytes=${bytes}&report=1`, rate));
      const got = measured.result;
      const sent = await upstream.nextEvent('download', 10_000);

      reportTransfer(report, 'download', got.bytes, measured, options.rssGrowth);
      report.check('download answered 200', got.status === 200, got.status, 200);
      report.check('client received every byte, sha256 matches', got.bytes === bytes && got.sha256 === sent.sha256, `${got.bytes} bytes, ${got.sha256.slice(0, 16)}… vs sent ${sent.sha256.slice(0, 16)}…`, `${bytes} bytes, same sha256`);
      const sendingMs = sent.finishedAt - sent.startedAt;
      const blockedShare = sent.blockedMs / sendingMs;
      report.check(
        "upstream's writes blocked (socket paused by back-pressure)",
        sent.blockedWrites > 0 && blockedShare >= BLOCKED_SHARE_LIMIT,
        `${sent.blockedWrites} blocked writes, ${(blockedShare * 100).toFixed(0)}% of ${(sendingMs / 1000).toFixed(1)} s spent blocked`,
        `>= ${BLOCKED_SHARE_LIMIT * 100}% of the sending time`,
      );
      // What was between the two ends when the upstream finished: at the client's rate, the time
      // the client still needed after that.
      const inFlight = Math.max(0, ((got.finishedAt - sent.finishedAt) / 1000) * rate);
      report.check('bytes held between upstream and client when the upstream finished', inFlight < IN_FLIGHT_LIMIT, `${mib(inFlight)} MB (client finished ${got.finishedAt - sent.finishedAt} ms later)`, `< ${mib(IN_FLIGHT_LIMIT)} MB`);
      await stopAndCheckClean(report, proxy);
    } finally {
      await proxy.stop('SIGKILL');
      await upstream.stop();
    }
  },
};

/** GETs `url` reading at most `rate` bytes/s (pausing the response); resolves with status, length, sha256 and the end time. */
function slowDownload(url, rate) {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false }, (res) => {
      const hash = createHash('sha256');
      const pace = new Pace(rate);
      let bytes = 0;
      res.on('data', (chunk) => {
        hash.update(chunk);
        bytes += chunk.length;
        const wait = pace.take(chunk.length);
        if (wait > 0) {
          res.pause();
          setTimeout(() => res.resume(), wait);
        }
      });
      res.on('end', () => resolve({ status: res.statusCode, bytes, sha256: hash.digest('hex'), finishedAt: Date.now() }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

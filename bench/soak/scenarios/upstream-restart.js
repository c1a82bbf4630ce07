// Upstream churn: the upstream process is killed and started again on the same ports every few
// seconds under steady load. Only the requests that were in flight at the kill (or that arrived
// while nothing listened) may fail; once the upstream listens again the proxy's pool must
// recover at once, never keep handing out dead connections (http-proxy #1618).
import { Agent, request } from 'node:http';
import { stopAndCheckClean } from '../lib/invariants.js';
import { sleep } from '../lib/probes.js';
import { startProxy } from '../lib/proxy.js';
import { startUpstream } from '../lib/upstream.js';

const RECOVERY_LIMIT_MS = 1000;

export default {
  name: 'upstream-restart',
  description: 'upstream killed and restarted every 10 s under load: failures only at the restarts, recovery within 1 s',
  // latency: ms the upstream holds each response, so that rate x latency requests are in flight at any kill.
  defaults: { seconds: 60, every: 10, rate: 400, concurrency: 40, latency: 50 },
  quick: { seconds: 25 },

  async run({ report, dir, options }) {
    let upstream = await startUpstream({ dir });
    const ports = { blue: upstream.blue, green: upstream.green };
    const proxy = await startProxy({ dir, name: 'upstream-restart', upstream: ports });
    try {
      await sleep(300);
      const records = [];
      const restarts = [];
      const loadDone = pacedLoad(`${proxy.url}/slow?ms=${options.latency}`, options, records);
      for (let at = options.every; at < options.seconds; at += options.every) {
        await sleep(options.every * 1000);
        // SIGKILL: a crash, the worst case for the proxy (in-flight responses cut, no FIN on idle sockets until the kernel closes them).
        const killAt = performance.now();
        await upstream.stop('SIGKILL');
        upstream = await startUpstream({ dir, ports });
        restarts.push({ killAt, readyAt: performance.now() });
      }
      await loadDone;

      const failures = records.filter((r) => !r.ok);
      report.info(`${records.length} requests at ${options.rate}/s, ${options.concurrency} at a time; ${restarts.length} restarts; ${failures.length} failed in total`);
      report.check('restarts happened', restarts.length > 0, restarts.length, '>= 1');
      // Each failure is put down to one restart: in flight at its kill, sent while nothing
      // listened, or sent after the upstream was back (which should not fail); or to none.
      const perRestart = restarts.map(() => ({ inFlight: [], whileDown: [], after: [] }));
      const stray = [];
      for (const r of failures) {
        const killed = restarts.findIndex((x) => r.start < x.killAt && r.end >= x.killAt);
        const down = restarts.findIndex((x) => r.start >= x.killAt && r.start <= x.readyAt);
        const back = restarts.findLastIndex((x) => r.start > x.readyAt);
        if (killed >= 0) perRestart[killed].inFlight.push(r);
        else if (down >= 0) perRestart[down].whileDown.push(r);
        else if (back >= 0) perRestart[back].after.push(r);
        else stray.push(r);
      }
      let worstRecovery = 0;
      restarts.forEach((restart, i) => {
        const { inFlight, whileDown, after } = perRestart[i];
        const wasInFlight = records.filter((r) => r.start < restart.killAt && r.end >= restart.killAt).length;
        // Recovered once the last failure of a request sent after the upstream was back has ended.
        const recovery = after.reduce((latest, r) => Math.max(latest, r.end - restart.readyAt), 0);
        worstRecovery = Math.max(worstRecovery, recovery);
        const kinds = countBy([...inFlight, ...whileDown, ...after], (r) => r.outcome);
        report.check(
          `restart ${i + 1}: failures beyond those in flight at the kill or sent while down`,
          after.length === 0,
          `${inFlight.length} of ${wasInFlight} in flight failed, ${whileDown.length} sent during the ${(restart.readyAt - restart.killAt).toFixed(0)} ms down failed, ` +
            `${after.length} after it was back ${JSON.stringify(kinds)}`,
          '0 after it was back',
        );
      });
      report.check('failures before the first restart', stray.length === 0, `${stray.length}${stray.length ? ` ${JSON.stringify(countBy(stray, (r) => r.outcome))}` : ''}`, '0');
      report.check('recovery after each restart', worstRecovery < RECOVERY_LIMIT_MS, `worst ${worstRecovery.toFixed(0)} ms after the upstream listened again`, `< ${RECOVERY_LIMIT_MS} ms`);

      // The pool is not left broken: a fresh run of requests after the last restart all succeed.
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      let ok = 0;
      for (let i = 0; i < 100; i++) if ((await get(`${proxy.url}/`, agent)).ok) ok += 1;
      agent.destroy();
      report.check('requests after the last restart', ok === 100, `${ok}/100 ok`, '100/100');
      await stopAndCheckClean(report, proxy);
    } finally {
      await proxy.stop('SIGKILL');
      await upstream.stop();
    }
  },
};

/**
 * `concurrency` workers on kept-alive connections, together at `rate` requests/s, for `seconds`;
 * every request is recorded with its start and end (performance.now()) and outcome.
 */
async function pacedLoad(url, { seconds, rate, concurrency }, records) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const endAt = performance.now() + seconds * 1000;
  const interval = (1000 * concurrency) / rate;
  const worker = async (i) => {
    // Staggered starts spread the workers evenly over one interval.
    let due = performance.now() + (interval * i) / concurrency;
    while (due < endAt) {
      await sleep(Math.max(0, due - performance.now()));
      due += interval;
      records.push(await get(url, agent));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
  agent.destroy();
}

function get(url, agent) {
  const start = performance.now();
  return new Promise((resolve) => {
    const done = (outcome) => resolve({ start, end: performance.now(), ok: outcome === 200, outcome });
    const req = request(url, { agent, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode));
      res.on('error', (err) => done(err.code ?? err.message));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (err) => done(err.code ?? err.message));
    req.end();
  });
}

function countBy(items, key) {
  const counts = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

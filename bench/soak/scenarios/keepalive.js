// Sustained keep-alive: many kept-alive clients at a moderate fixed rate for a long time. A
// leak per request or per connection shows up as a memory slope; a leaked socket as descriptors
// that stay after the load; a blocking code path as event-loop delay.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROXY_CPU } from '../lib/children.js';
import { autocannon } from '../lib/clients.js';
import { checkFdsBack, proxyOutcomes, stopAndCheckClean } from '../lib/invariants.js';
import { cpuShare, describeProcessMemory, max, MB, mib, percentile, sleep, slopePerMinute, startSampler } from '../lib/probes.js';
import { startProxy } from '../lib/proxy.js';
import { startUpstream } from '../lib/upstream.js';

// prom-client samples the loop every 10 ms, so an idle loop already reads ~10 ms.
const LAG_P99_LIMIT_S = 0.1;
// This machine is shared: a second in which other processes used more than this share of the
// proxy's CPU says more about them than about the proxy.
const CONTENDED_WINDOW_PCT = 25;
const SLOPE_LIMIT_MB_PER_MIN = 1;
// A slope of 1 MB/min is 0.5 MB over 30 s, less than what one burst of pooled connections or one
// GC cycle moves RSS by: below this steady window the slope is printed, not asserted.
const MIN_SLOPE_WINDOW_S = 120;

export default {
  name: 'keepalive',
  description: 'kept-alive connections at a fixed rate: no errors, flat memory, descriptors back, bounded event-loop delay',
  // slices: autocannon runs as this many staggered processes (see loadInSlices).
  // gcEvery: seconds between forced full GCs in the proxy (see run), 0 for none.
  defaults: { seconds: 600, connections: 1000, rate: 2000, slices: 10, gcEvery: 10 },
  quick: { seconds: 60, gcEvery: 5 },

  async run({ report, dir, options }) {
    const upstream = await startUpstream({ dir });
    // The client keep-alive timeout outlives the gaps between one connection's requests (connections / rate seconds).
    const proxy = await startProxy({ dir, name: 'keepalive', upstream, server: { keepAliveTimeout: '60s' }, inspect: options.gcEvery > 0 });
    try {
      await sleep(500);
      const fdBaseline = proxy.fds();
      const started = performance.now();
      const since = (at) => (at - started) / 1000;
      let cpuWindow = cpuShare(PROXY_CPU, proxy.pids());
      const sampler = startSampler(async () => {
        const sample = await sampleProxy(proxy);
        const { others } = cpuWindow.stop();
        cpuWindow = cpuShare(PROXY_CPU, proxy.pids());
        return { ...sample, others };
      }, 1000);
      // Heap used at random moments is mostly garbage waiting for the next GC: a sawtooth of tens
      // of MB over tens of seconds that a regression over minutes cannot tell from a leak, and
      // RSS follows it. A full GC forced every `gcEvery` s measures the live heap itself and
      // shortens the sawtooth to a known period, which the RSS figure then averages out.
      const gcs = [];
      const gcTimer =
        options.gcEvery > 0 &&
        setInterval(async () => {
          const at = performance.now();
          try {
            const heap = await proxy.heapAfterGc();
            gcs.push({ t: since(at), until: since(performance.now()), heap });
          } catch {
            // The proxy is gone; the checks below say so.
          }
        }, options.gcEvery * 1000);
      const cpu = cpuShare(PROXY_CPU, proxy.pids());
      let result;
      let samples;
      try {
        result = await loadInSlices(`${proxy.url}/`, options);
      } finally {
        clearInterval(gcTimer);
        samples = sampler.stop();
      }
      const share = cpu.stop();
      writeFileSync(join(dir, 'keepalive-samples.json'), JSON.stringify({ samples, gcs }));

      const expected = options.rate * options.seconds;
      const failed = result.non2xx + result.errors + result.timeouts;
      report.info(`${result.total} requests, ${(result.total / options.seconds).toFixed(0)} req/s on ${options.connections} connections`);
      report.info(
        `CPU ${PROXY_CPU} during the load: proxy ${share.process.toFixed(0)}%, other processes ${share.others.toFixed(0)}%` +
          (share.others > 10 ? ' (the proxy shared its CPU: delay and memory figures include that contention)' : ''),
      );
      report.check('load delivered', result.total >= expected * 0.9, `${result.total} requests`, `>= 90% of ${expected}`);
      const outcomes = await proxyOutcomes(proxy);
      report.info(`the proxy counted responses ${JSON.stringify(outcomes.codes)}, upstream errors ${JSON.stringify(outcomes.upstreamErrors)}`);
      report.check(
        'non-2xx responses and errors',
        failed === 0,
        `${result.non2xx} non-2xx ${JSON.stringify(result.statusCodes)}, ${result.errors} errors, ${result.timeouts} timeouts`,
        '0',
      );

      // After warm-up: the second half of the run.
      const half = options.seconds / 2;
      const steady = samples.filter((s) => s.t >= half && s.t <= options.seconds);
      report.info(
        `${steady.length} steady samples: RSS ${mib(Math.min(...steady.map((s) => s.rss)))}-${mib(max(steady.map((s) => s.rss)))} MB, ` +
          `heap ${mib(Math.min(...steady.map((s) => s.heap)))}-${mib(max(steady.map((s) => s.heap)))} MB, fds up to ${max(steady.map((s) => s.fds))}`,
      );
      report.info(`memory per process at the end of the load: ${describeProcessMemory(proxy.pid, proxy.workerPids)}`);
      const steadyGcs = gcs.filter((g) => g.t >= half && g.t <= options.seconds);
      const rssSeries = options.gcEvery > 0 ? meanPerCycle(steady, steadyGcs, 'rss') : steady;
      const heapSeries = options.gcEvery > 0 ? steadyGcs : steady;
      const assertSlopes = options.seconds - half >= MIN_SLOPE_WINDOW_S;
      checkSlope(report, assertSlopes, 'RSS', rssSeries, options.gcEvery > 0 ? `1 s samples averaged over ${rssSeries.length} GC cycles` : `${steady.length} samples of 1 s`);
      checkSlope(report, assertSlopes, 'heap', heapSeries, options.gcEvery > 0 ? `live heap after ${heapSeries.length} forced GCs` : `${steady.length} samples of 1 s`);

      // A window that contains a forced GC measures that GC, and one in which other processes
      // took a good part of the proxy's CPU measures them: both are left out, and counted. A
      // forced GC stalls the proxy (with workers, every process on its CPU, while each in turn
      // collects), and at this load (about half the CPU) the requests that queued meanwhile take
      // about as long again to clear: the loop is late through that catch-up too, so it counts
      // as the GC's. `--gcEvery 0` measures every window, with no forced GC at all.
      const withoutGc = steady.filter((s) => !gcs.some((g) => g.t < s.t && g.until + (g.until - g.t) > s.t - 1.05));
      const windows = withoutGc.filter((s) => s.others <= CONTENDED_WINDOW_PCT);
      const lags = windows.map((s) => s.lagP99);
      report.check(
        'event-loop delay p99 (worst 1 s window after warm-up)',
        windows.length > 0 && max(lags) < LAG_P99_LIMIT_S,
        windows.length === 0
          ? 'no window without contention to measure'
          : `${(max(lags) * 1000).toFixed(1)} ms (median window ${(percentile(lags, 50) * 1000).toFixed(1)} ms; ${windows.length} windows, ` +
              `left out ${steady.length - withoutGc.length} with a forced GC or its catch-up and ${withoutGc.length - windows.length} with other processes over ${CONTENDED_WINDOW_PCT}% of CPU ${PROXY_CPU}, ` +
              `worst of all ${(max(withoutGc.map((s) => s.lagP99)) * 1000).toFixed(1)} ms)`,
        `< ${LAG_P99_LIMIT_S * 1000} ms`,
      );
      await checkFdsBack(report, proxy, fdBaseline, 15_000);
      await stopAndCheckClean(report, proxy);
    } finally {
      await proxy.stop('SIGKILL');
      await upstream.stop();
    }
  },
};

async function sampleProxy(proxy) {
  // With workers the traffic, and so the heap and the event-loop delay that matter, are theirs.
  const runtime = proxy.workerPids.length > 0 ? await proxy.runtimeStats() : null;
  const metrics = runtime ? null : await proxy.metrics();
  return {
    rss: proxy.rss(),
    heap: runtime ? runtime.heap : metrics.value('nodejs_heap_size_used_bytes'),
    lagP99: runtime ? runtime.lagP99 : metrics.value('nodejs_eventloop_lag_p99_seconds'),
    fds: proxy.fds(),
  };
}

function checkSlope(report, assert, what, series, basis) {
  const key = what === 'RSS' ? 'rss' : 'heap';
  const slope = slopePerMinute(series, key) / MB;
  const span = series.length ? ` (${mib(series[0][key])} -> ${mib(series.at(-1)[key])} MB)` : '';
  const measured = Number.isFinite(slope) ? `${slope.toFixed(2)} MB/min${span}` : 'too few points';
  if (!assert) {
    report.info(`${what} slope after warm-up ${measured}: not asserted, the steady window is under ${MIN_SLOPE_WINDOW_S} s (use --seconds ${2 * MIN_SLOPE_WINDOW_S} or more)`);
    return;
  }
  report.check(
    `${what} slope after warm-up, ${basis}`,
    Math.abs(slope) < SLOPE_LIMIT_MB_PER_MIN,
    measured,
    `|slope| < ${SLOPE_LIMIT_MB_PER_MIN} MB/min`,
  );
}

/** The mean of `key` over the 1 s samples between consecutive forced GCs, one point per whole cycle. */
function meanPerCycle(samples, gcs, key) {
  const points = [];
  for (let i = 0; i + 1 < gcs.length; i++) {
    const inCycle = samples.filter((s) => s.t > gcs[i].t && s.t <= gcs[i + 1].t);
    if (inCycle.length === 0) continue;
    points.push({ t: (gcs[i].t + gcs[i + 1].t) / 2, [key]: inCycle.reduce((a, s) => a + s[key], 0) / inCycle.length });
  }
  return points;
}

/**
 * autocannon's rate limit lets each connection send its share at the start of every second, on
 * timers that all start together: `-c 1000 -R 2000` is 2000 requests in one burst per second, not
 * a fixed rate. Splitting it into `slices` processes started 1/slices s apart spreads those
 * bursts over the second while keeping the totals (connections, rate) the same.
 */
async function loadInSlices(url, { connections, rate, seconds, slices }) {
  // autocannon quietly lowers its connections to its rate when the rate is smaller.
  if (rate < connections) throw new Error(`--rate ${rate} is below --connections ${connections}: autocannon would open only ${rate} connections`);
  const runs = [];
  for (let i = 0; i < slices; i++) {
    const share = (total) => Math.floor(total / slices) + (i < total % slices ? 1 : 0);
    runs.push(autocannon(url, ['-c', String(share(connections)), '-R', String(share(rate)), '-d', String(seconds)]));
    await sleep(1000 / slices);
  }
  const results = await Promise.all(runs);
  const sum = (pick) => results.reduce((a, r) => a + pick(r), 0);
  const statusCodes = {};
  for (const r of results) {
    for (const [code, { count }] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = (statusCodes[code] ?? 0) + count;
  }
  return {
    statusCodes,
    total: sum((r) => r.requests.total),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
  };
}

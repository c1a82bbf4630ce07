// What the soak checks measure: RSS and open descriptors from /proc, the proxy's own numbers from
// its admin /metrics, and the small statistics the thresholds are stated in.
import { readdirSync, readFileSync } from 'node:fs';
import { get } from 'node:http';

export const MB = 1024 * 1024;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A `Name:  N kB` field of /proc/<pid>/<file>, in bytes, or NaN once the process is gone. */
function procBytes(pid, file, field) {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/${file}`, 'utf8'));
    return match ? Number(match[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Resident set size in bytes (VmRSS), or NaN once the process is gone. */
export function rssBytes(pid) {
  return procBytes(pid, 'status', 'VmRSS');
}

/** VmRSS split into anonymous memory (heap, buffers) and file-backed pages (the node binary, libraries), in bytes. */
export function rssParts(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
  } catch {
    return { rss: NaN, anon: NaN, file: NaN };
  }
}

/**
 * Proportional set size in bytes: the process's own pages plus its share of the pages it shares
 * (the node binary's, mapped by the primary and every worker alike), or NaN once it is gone.
 * What one more worker costs the machine is its PSS, not its RSS.
 */
export function pssBytes(pid) {
  return procBytes(pid, 'smaps_rollup', 'Pss');
}

/** Each of the proxy's processes by its RSS and PSS now, e.g. "primary 103 MB (PSS 68 MB), worker 81 MB (PSS 46 MB)". */
export function describeProcessMemory(pid, workerPids) {
  const one = (label, p) => `${label} ${mib(rssBytes(p))} MB (PSS ${mib(pssBytes(p))} MB)`;
  return [one(workerPids.length > 0 ? 'primary' : 'the proxy', pid), ...workerPids.map((w) => one(`worker ${w}`, w))].join(', ');
}

/** The sample with the highest RSS among rssParts() samples. */
export function rssPeak(samples) {
  return samples.reduce((peak, s) => (s.rss > peak.rss ? s : peak), { rss: -Infinity, anon: NaN, file: NaN });
}

/** A peak with its parts and the idle figure: tells buffers apart from the node binary's own pages. */
export function describeRssPeak(peak, idle) {
  return `${mib(peak.rss)} MB at peak (anon ${mib(peak.anon)} MB, file-backed ${mib(peak.file)} MB; ${mib(idle)} MB idle before)`;
}

/**
 * Runs one big transfer through the proxy while sampling the RSS of each of its processes every
 * 250 ms; resolves with what `transfer()` resolved, its duration, the largest process's idle RSS
 * before, every sample (the largest process's RSS and parts, and the most any process had grown
 * over its own idle RSS) and the peaks of both.
 */
export async function measureTransfer(proxy, transfer) {
  // With workers the transfer runs in one of them: growth is each process's over its own idle figure.
  const idle = new Map(proxy.pids().map((pid) => [pid, rssBytes(pid)]));
  const rssBefore = Math.max(...idle.values());
  const sampler = startSampler(async () => {
    const parts = proxy.pids().map((pid) => ({ pid, ...rssParts(pid) }));
    const growth = Math.max(...parts.map((p) => p.rss - (idle.get(p.pid) ?? p.rss)));
    const { rss, anon, file } = rssPeak(parts);
    return { rss, anon, file, growth };
  }, 250);
  const began = performance.now();
  const result = await transfer();
  const seconds = (performance.now() - began) / 1000;
  const samples = sampler.stop();
  return { result, seconds, rssBefore, samples, peak: rssPeak(samples), growth: Math.max(...samples.map((s) => s.growth)) };
}

/**
 * The lines every big-transfer scenario reports: its throughput, its RSS peak, and the check:
 * how far the proxy's memory grew over its idle figure, which a proxy that streams keeps well
 * below the size of the transfer. (The idle figure is Node's own: its binary's pages alone are
 * about 55 MB on Node 24, so a limit on the absolute RSS would measure the runtime.)
 */
export function reportTransfer(report, what, bytes, measured, rssGrowthMb) {
  const { seconds, peak, rssBefore, growth } = measured;
  report.info(`${mib(bytes)} MiB in ${seconds.toFixed(1)} s (${(bytes / seconds / 1e6).toFixed(1)} MB/s)`);
  report.check(
    `proxy memory growth during the ${what}`,
    growth < rssGrowthMb * MB,
    `+${mib(growth)} MB over idle at most; ${describeRssPeak(peak, rssBefore)}`,
    `< +${rssGrowthMb} MB`,
  );
}

/** Open file descriptors, or NaN once the process is gone. */
export function openFds(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

/**
 * Starts measuring how busy one CPU is and how much of that is the processes `pids` (one PID or
 * a list: a proxy and its workers); `stop()` returns both in percent of the CPU. The rest is other processes on the machine: a proxy that shares
 * its CPU shows event-loop delays that are not its own.
 */
export function cpuShare(cpu, pids) {
  const list = Array.isArray(pids) ? pids : [pids];
  const busy = () => {
    const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `));
    const [user, nice, system] = line.trim().split(/\s+/).slice(1, 4).map(Number);
    return user + nice + system;
  };
  const own = () => {
    let ticks = 0;
    for (const pid of list) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ticks += Number(fields[11]) + Number(fields[12]);
      } catch {
        return NaN;
      }
    }
    return ticks;
  };
  const t0 = performance.now();
  const busy0 = busy();
  const own0 = own();
  return {
    stop() {
      // /proc counts in clock ticks of 1/100 s (CLK_TCK 100 on Linux).
      const ticks = ((performance.now() - t0) / 1000) * 100;
      const process = ((own() - own0) / ticks) * 100;
      const total = ((busy() - busy0) / ticks) * 100;
      return { process, others: Math.max(0, total - process) };
    },
  };
}

/** The 1-minute load average: how busy the machine was, for reading the timing figures. */
export function loadAverage() {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/**
 * Scrapes Prometheus text from `url` and returns `value(name, labels?)`: the sum over every
 * series of that name whose labels include the given ones. A fresh connection each time
 * (`agent: false`), so the scrape itself never holds a descriptor in the proxy between samples.
 */
export function scrapeMetrics(url) {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(parseMetrics(text)) : reject(new Error(`${url}: ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out`)));
    req.on('error', reject);
  });
}

function parseMetrics(text) {
  const series = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    series.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return {
    value(name, want = {}) {
      let sum = 0;
      for (const s of series) {
        if (s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v)) sum += s.value;
      }
      return sum;
    },
    series: (name) => series.filter((s) => s.name === name),
  };
}

/** Polls `probe` every `everyMs` until `done(value)` or `timeoutMs`; resolves with the last value and whether it got there. */
export async function pollUntil(probe, done, timeoutMs, everyMs = 250) {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!done(value) && Date.now() < deadline) {
    await sleep(everyMs);
    value = await probe();
  }
  return { value, reached: done(value) };
}

/**
 * Calls `sample()` every `everyMs` and keeps `{ t, ...sample }` (t in seconds since start) until
 * stopped. A slow or failed sample is skipped, never queued behind the next.
 */
export function startSampler(sample, everyMs = 1000) {
  const samples = [];
  const t0 = performance.now();
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      samples.push({ t: (performance.now() - t0) / 1000, ...(await sample()) });
    } catch {
      // A scrape that fails under load is a missing point, not a failed run.
    } finally {
      busy = false;
    }
  }, everyMs);
  return {
    samples,
    stop() {
      clearInterval(timer);
      return samples;
    },
  };
}

/** Least-squares slope of `key` against time, in units per minute. */
export function slopePerMinute(samples, key) {
  const points = samples.filter((s) => Number.isFinite(s[key]));
  const n = points.length;
  if (n < 3) return NaN;
  const meanT = points.reduce((a, s) => a + s.t, 0) / n;
  const meanV = points.reduce((a, s) => a + s[key], 0) / n;
  let num = 0;
  let den = 0;
  for (const s of points) {
    num += (s.t - meanT) * (s[key] - meanV);
    den += (s.t - meanT) ** 2;
  }
  return (num / den) * 60;
}

export function percentile(values, p) {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function max(values) {
  return values.reduce((m, v) => (Number.isFinite(v) && v > m ? v : m), -Infinity);
}

export const mib = (bytes) => (bytes / MB).toFixed(1);

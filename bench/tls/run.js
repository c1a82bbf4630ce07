// TLS and HTTP/2 benchmark: shiftproxy and nginx, each terminating TLS on one core in front of
// the same two upstreams (90/10), measured in the same run, in interleaved rounds: HTTPS/1.1
// with wrk and HTTP/2 over TLS with h2load (Debian's nghttp2-client), after a 2 s warm-up of
// each. Reports req/s, CPU time per request of the server's processes (from /proc, handshakes
// included: the connections are opened at the start of each run) and the ratio to nginx, round by round.
//
//   npm run bench:tls -- [--duration 8] [--rounds 3] [--connections 50] [--streams 10] [--canary 10]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLoad } from '../macro/load-generator.js';
import { nginxBinary, nginxConfig } from '../macro/nginx-subject.js';
import { cpuMicros, loadAverage, processTree } from '../macro/process-stats.js';
import { parseOptions } from '../lib/cli-options.js';
import { startJsonProcess } from '../lib/json-process.js';
import { freePort, waitForPort } from '../lib/loopback-ports.js';
import { median } from '../lib/round-stats.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const options = parseOptions(process.argv.slice(2), { duration: 8, rounds: 3, connections: 50, streams: 10, canary: 10 });
const LOAD_CPU = '0';
const SERVER_CPU = '1';
for (const [tool, pkg] of [['wrk', 'wrk'], ['h2load', 'nghttp2-client'], ['openssl', 'openssl']]) {
  if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).error !== undefined && spawnSync(tool, ['version'], { stdio: 'ignore' }).error !== undefined) {
    console.error(`${tool} is missing: apt-get install ${pkg}`);
    process.exit(1);
  }
}
if (!existsSync(join(root, 'dist', 'main.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'shiftproxy-bench-tls-'));
const cert = join(dir, 'bench.pem');
const key = join(dir, 'bench.key');
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=bench.test', '-addext', 'subjectAltName=DNS:bench.test'], { stdio: 'ignore' });

const children = [];
process.on('exit', () => children.forEach((c) => c.exitCode === null && c.kill('SIGTERM')));

const upstream = await startJsonProcess(join(here, '..', 'macro', 'upstream.js'), [], { cpu: SERVER_CPU, children });
const { blue, green } = upstream.info;
const subjects = [];
const sp = await startJsonProcess(join(here, 'shiftproxy-tls.js'), [String(blue), String(green), String(options.canary), cert, key], { cpu: SERVER_CPU, children });
subjects.push({ name: 'shiftproxy', port: sp.info.port, pid: sp.child.pid });
const nginx = nginxBinary();
if (nginx === null) console.error('nginx is not installed (apt-get install nginx): shiftproxy alone');
else subjects.push(await startNginx(nginx, blue, green));

const loads = [
  { name: 'HTTPS/1.1 (wrk)', run: (s) => runLoad({ tool: 'wrk', url: `https://127.0.0.1:${s.port}/`, seconds: s.warmup ? 2 : options.duration, connections: options.connections, threads: 1, cpus: LOAD_CPU }) },
  { name: `h2 over TLS (h2load, ${options.connections} connections x ${options.streams} streams)`, run: (s) => runH2load(`https://127.0.0.1:${s.port}/`, s.warmup ? 2 : options.duration) },
];

// Warm-up, not measured: JIT, pools to the upstream, session caches.
for (const load of loads) for (const subject of subjects) await load.run({ ...subject, warmup: true });

const results = new Map();
for (let round = 0; round < options.rounds; round++) {
  for (const load of loads) {
    // Interleaved, the order turning each round: each subject meets the machine's moods alike.
    const order = round % 2 === 0 ? subjects : [...subjects].reverse();
    for (const subject of order) {
      const pids = processTree(subject.pid);
      const cpuBefore = cpuMicros(pids);
      const outcome = await load.run(subject);
      const cpu = cpuMicros(pids) - cpuBefore;
      const key = `${load.name}\u0000${subject.name}`;
      if (!results.has(key)) results.set(key, []);
      results.get(key).push({ rps: outcome.rps, cpuPerRequestUs: outcome.requests > 0 ? cpu / outcome.requests : NaN, errors: outcome.errors, non2xx: outcome.non2xx });
      console.error(`round ${round + 1} ${load.name} ${subject.name}: ${Math.round(outcome.rps)} req/s, ${(cpu / outcome.requests).toFixed(1)} us CPU/request`);
    }
  }
}

const lines = [
  `TLS benchmark: ${options.rounds} rounds of ${options.duration}s, load generator on CPU ${LOAD_CPU}, servers and upstream on CPU ${SERVER_CPU}, load average ${loadAverage().join(' ')}`,
  '',
  '| load | subject | req/s | x nginx (req/s) | CPU per request | x nginx (CPU) | errors |',
  '| --- | --- | --- | --- | --- | --- | --- |',
];
for (const load of loads) {
  const base = results.get(`${load.name}\u0000nginx`);
  for (const subject of subjects) {
    const runs = results.get(`${load.name}\u0000${subject.name}`);
    const rpsRatio = base ? median(runs.map((r, i) => r.rps / base[i].rps)) : NaN;
    const cpuRatio = base ? median(runs.map((r, i) => r.cpuPerRequestUs / base[i].cpuPerRequestUs)) : NaN;
    const errors = runs.reduce((sum, r) => sum + r.errors + r.non2xx, 0);
    lines.push(
      `| ${load.name} | ${subject.name} | ${Math.round(median(runs.map((r) => r.rps))).toLocaleString('en')} | ${rpsRatio.toFixed(2)}x | ${median(runs.map((r) => r.cpuPerRequestUs)).toFixed(0)} us | ${cpuRatio.toFixed(2)}x | ${errors} |`,
    );
  }
}
console.log(lines.join('\n'));
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', `tls-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify({ options, results: Object.fromEntries(results) }, null, 2));
process.exit(0);

function pinned(command, args) {
  return ['taskset', ['-c', SERVER_CPU, command, ...args]];
}

async function startNginx(binary, bluePort, greenPort) {
  const port = await freePort();
  const { args } = nginxConfig({ port, bluePort, greenPort, canaryPercent: options.canary, workers: 1, tls: { cert, key } });
  const [command, full] = pinned(binary, args);
  const child = spawn(command, full, { stdio: 'inherit' });
  children.push(child);
  await waitForPort(port, child, 'nginx');
  return { name: 'nginx', port, pid: child.pid };
}

async function runH2load(url, seconds) {
  const args = ['-c', String(options.connections), '-m', String(options.streams), '-D', String(seconds), '-t', '1', url];
  const out = await new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-c', LOAD_CPU, 'h2load', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (c) => (text += c));
    child.stderr.on('data', (c) => (text += c));
    child.once('error', reject);
    child.once('exit', () => resolve(text));
  });
  const done = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  const rate = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out);
  if (!done || !rate) throw new Error(`h2load printed no summary:\n${out}`);
  const negotiated = /Application protocol: (\S+)/.exec(out)?.[1];
  if (negotiated !== 'h2') throw new Error(`h2load negotiated ${negotiated}, not h2`);
  return { requests: Number(done[1]), rps: Number(rate[1]), errors: Number(done[2]) + Number(done[3]), non2xx: 0 };
}

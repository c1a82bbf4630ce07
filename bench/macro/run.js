// Macro benchmark: direct-to-upstream vs shiftproxy vs an http-proxy baseline, interleaved, in
// separate processes. The load generator (autocannon) is pinned to CPU 0 and everything it loads
// (proxy and upstream) to CPU 1, so each proxy gets the same single core. Reports req/s, p50,
// p99, CPU time per request of the process under test, and ratios to the direct run measured in
// the same invocation.
//
//   npm run bench -- [--duration 10] [--warmup 2] [--connections 50] [--rounds 3] [--canary 10] [--profile]
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summariseProfile } from './profile-summary.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const options = parseArgs(process.argv.slice(2), {
  duration: 10,
  warmup: 2,
  connections: 50,
  rounds: 3,
  canary: 10,
  profile: false,
});
const LOAD_CPU = 0;
const SERVER_CPU = 1;
const CLOCK_TICK_US = 10_000; // /proc/<pid>/stat counts in 1/100 s on Linux (CLK_TCK 100)

if (!existsSync(join(root, 'dist', 'main.js'))) {
  console.error('dist/ is missing: run `npm run build` (npm ci does it) first');
  process.exit(1);
}

const children = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

const upstream = await startJsonProcess(SERVER_CPU, join(here, 'upstream.js'), []);
const proxyArgs = [String(upstream.info.blue), String(upstream.info.green), String(options.canary)];
const shiftproxy = await startJsonProcess(SERVER_CPU, join(here, 'shiftproxy-server.js'), proxyArgs);
const baseline = await startJsonProcess(SERVER_CPU, join(here, 'http-proxy-baseline.js'), proxyArgs);

const subjects = [
  { name: 'direct', url: `http://127.0.0.1:${upstream.info.blue}/`, cpuOf: upstream.child.pid },
  { name: 'shiftproxy', url: `http://127.0.0.1:${shiftproxy.info.port}/`, cpuOf: shiftproxy.child.pid },
  { name: 'http-proxy', url: `http://127.0.0.1:${baseline.info.port}/`, cpuOf: baseline.child.pid },
];

console.log(
  `macro bench: ${options.rounds} interleaved rounds x ${options.duration}s (+${options.warmup}s warm-up), ` +
    `${options.connections} connections, canary ${options.canary}%, load on CPU ${LOAD_CPU}, servers on CPU ${SERVER_CPU}`,
);
const runs = Object.fromEntries(subjects.map((s) => [s.name, []]));
for (let round = 1; round <= options.rounds; round++) {
  for (const subject of subjects) {
    if (options.warmup > 0) await autocannon(subject.url, options.warmup);
    const before = cpuTicks(subject.cpuOf);
    const result = await autocannon(subject.url, options.duration);
    const ticks = cpuTicks(subject.cpuOf) - before;
    const total = result.requests.total;
    const run = {
      rps: result.requests.average,
      p50: result.latency.p50,
      p99: result.latency.p99,
      cpuUsPerRequest: total > 0 ? (ticks * CLOCK_TICK_US) / total : NaN,
      non2xx: result.non2xx,
      errors: result.errors + result.timeouts,
    };
    runs[subject.name].push(run);
    console.log(
      `  round ${round} ${subject.name.padEnd(10)} ${fmt(run.rps, 0).padStart(7)} req/s  p50 ${fmt(run.p50, 2)} ms  p99 ${fmt(run.p99, 2)} ms  ` +
        `CPU ${fmt(run.cpuUsPerRequest, 1)} us/req${run.non2xx || run.errors ? `  non-2xx ${run.non2xx} errors ${run.errors}` : ''}`,
    );
  }
}

const summary = Object.fromEntries(
  subjects.map((s) => {
    const list = runs[s.name];
    return [s.name, { rps: median(list.map((r) => r.rps)), p50: median(list.map((r) => r.p50)), p99: median(list.map((r) => r.p99)), cpuUsPerRequest: median(list.map((r) => r.cpuUsPerRequest)) }];
  }),
);
const direct = summary.direct.rps;
console.log('\nmedian of rounds');
console.log('  subject       req/s   x direct   p50 ms   p99 ms   CPU us/req');
for (const s of subjects) {
  const m = summary[s.name];
  console.log(
    `  ${s.name.padEnd(10)} ${fmt(m.rps, 0).padStart(8)}   ${fmt(m.rps / direct, 3).padStart(7)}x  ${fmt(m.p50, 2).padStart(7)}  ${fmt(m.p99, 2).padStart(7)}   ${fmt(m.cpuUsPerRequest, 1).padStart(9)}`,
  );
}
const speedup = summary.shiftproxy.rps / summary['http-proxy'].rps;
console.log(
  `\nshiftproxy vs http-proxy: ${fmt(speedup, 2)}x req/s, p99 ${fmt(summary.shiftproxy.p99, 2)} vs ${fmt(summary['http-proxy'].p99, 2)} ms, ` +
    `CPU ${fmt(summary.shiftproxy.cpuUsPerRequest, 1)} vs ${fmt(summary['http-proxy'].cpuUsPerRequest, 1)} us/req`,
);

const resultsDir = join(root, 'bench', 'results');
mkdirSync(resultsDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
writeFileSync(join(resultsDir, `macro-${stamp}.json`), JSON.stringify({ options, runs, summary, node: process.version }, null, 2));

for (const p of [shiftproxy, baseline]) p.child.kill('SIGTERM');

if (options.profile) await profileShiftproxy();
upstream.child.kill('SIGTERM');
process.exit(0);

/** Runs shiftproxy once more under --cpu-prof and prints where its time goes. */
async function profileShiftproxy() {
  const dir = join(resultsDir, `profile-${stamp}`);
  mkdirSync(dir, { recursive: true });
  const profiled = await startJsonProcess(SERVER_CPU, join(here, 'shiftproxy-server.js'), proxyArgs, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  const url = `http://127.0.0.1:${profiled.info.port}/`;
  await autocannon(url, options.warmup);
  await autocannon(url, options.duration);
  await new Promise((resolve) => {
    profiled.child.once('exit', resolve);
    profiled.child.kill('SIGTERM');
  });
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) {
    console.log('no CPU profile was written');
    return;
  }
  console.log(`\nCPU profile of shiftproxy under load (${join(dir, file)})`);
  console.log(summariseProfile(JSON.parse(readFileSync(join(dir, file), 'utf8'))));
}

function startJsonProcess(cpu, script, args, nodeArgs = []) {
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-c', String(cpu), process.execPath, ...nodeArgs, script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      const newline = buffered.indexOf('\n');
      if (newline >= 0) resolve({ child, info: JSON.parse(buffered.slice(0, newline)) });
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before it was ready`)));
  });
}

function autocannon(url, seconds) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'taskset',
      ['-c', String(LOAD_CPU), process.execPath, join(root, 'node_modules', 'autocannon', 'autocannon.js'), '-c', String(options.connections), '-d', String(seconds), '-j', url],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.resume();
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`autocannon exited with ${code}`))));
  });
}

function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function fmt(value, digits) {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

function parseArgs(argv, defaults) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in defaults)) throw new Error(`unknown option --${key}`);
    if (typeof defaults[key] === 'boolean') out[key] = true;
    else out[key] = Number(argv[++i]);
  }
  return out;
}

// Macro benchmark: direct to the backend, shiftproxy, an http-proxy baseline and nginx (when
// installed), in separate processes, in interleaved rounds, in one invocation. The load
// generator is wrk when installed (autocannon otherwise) pinned to one CPU; every server under
// test and the backend share the other, so each proxy gets the same single core. Reports req/s,
// CPU time per request of the process under test, p50/p99 and RSS, with ratios to direct,
// http-proxy and nginx taken round by round (paired) and given as medians.
//
//   npm run bench -- [--duration 10] [--warmup 2] [--connections 50] [--rounds 3] [--canary 10]
//                    [--tool wrk|autocannon] [--compare DIR] [--compareNodeArgs ARGS] [--profile]
//                    [--workers N|auto]
//
// --compare DIR adds DIR's shiftproxy (another checkout, built) as one more subject, so a
// change is measured against its base in the same run. --compareNodeArgs starts that subject
// with node options (space-separated), so `--compare . --compareNodeArgs --max-semi-space-size=4`
// measures a V8 setting against the same build. --workers compares shiftproxy with
// `workers: N` against nginx with `worker_processes N`, both unpinned (every core), with wrk
// using as many threads as there are cores.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLoad, wrkInstalled } from './load-generator.js';
import { nginxBinary, nginxConfig } from './nginx-subject.js';
import { cpuMicros, loadAverage, processTree, rssBytes } from './process-stats.js';
import { summariseProfile } from './profile-summary.js';
import { benchConfigText } from '../lib/bench-config-text.js';
import { parseOptions } from '../lib/cli-options.js';
import { startJsonProcess } from '../lib/json-process.js';
import { freePort, waitForPort } from '../lib/loopback-ports.js';
import { fmt, median } from '../lib/round-stats.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const options = parseArgs(process.argv.slice(2), {
  duration: 10,
  warmup: 2,
  connections: 50,
  rounds: 3,
  canary: 10,
  profile: false,
  tool: wrkInstalled() ? 'wrk' : 'autocannon',
  compare: '',
  compareNodeArgs: '',
  workers: '',
});
const LOAD_CPU = '0';
const SERVER_CPU = '1';
const multi = options.workers !== '';
const workerCount = options.workers === 'auto' ? availableParallelism() : Number(options.workers);
if (multi && !(Number.isInteger(workerCount) && workerCount > 0)) throw new Error('--workers takes a positive number or auto');

if (!existsSync(join(root, 'dist', 'main.js'))) {
  console.error('dist/ is missing: run `npm run build` (npm ci does it) first');
  process.exit(1);
}
if (options.compare !== '' && !existsSync(join(resolve(options.compare), 'dist', 'main.js'))) {
  console.error(`--compare ${options.compare}: no dist/main.js there (run npm ci in that checkout)`);
  process.exit(1);
}

const children = [];
// SIGTERM, not SIGKILL: nginx's master stops its workers on it, a killed master would orphan them.
process.on('exit', () => children.forEach((c) => c.exitCode === null && c.kill('SIGTERM')));
const serverCpu = multi ? null : SERVER_CPU;
const loadCpu = multi ? null : LOAD_CPU;

const upstream = await startJsonProcess(join(here, 'upstream.js'), [], { cpu: serverCpu, children });
const { blue: bluePort, green: greenPort } = upstream.info;
const proxyArgs = [String(bluePort), String(greenPort), String(options.canary)];
const subjects = [{ name: 'direct', url: `http://127.0.0.1:${bluePort}/`, pid: upstream.child.pid }];
const notes = [];

if (multi) {
  const sp = await startShiftproxyWorkers(workerCount);
  if (sp.ok) subjects.push({ name: `shiftproxy x${workerCount}`, key: 'shiftproxy', url: sp.url, pid: sp.pid });
  else notes.push(`shiftproxy: ${sp.reason}`);
} else {
  const sp = await startJsonProcess(join(here, 'shiftproxy-server.js'), proxyArgs, { cpu: serverCpu, children });
  subjects.push({ name: 'shiftproxy', url: `http://127.0.0.1:${sp.info.port}/`, pid: sp.child.pid });
  if (options.compare !== '') {
    const other = resolve(options.compare);
    const nodeArgs = options.compareNodeArgs.split(' ').filter((arg) => arg !== '');
    const cmp = await startJsonProcess(join(other, 'bench', 'macro', 'shiftproxy-server.js'), proxyArgs, { cpu: serverCpu, nodeArgs, children });
    const variant = nodeArgs.length > 0 ? ` ${nodeArgs.join(' ')}` : '';
    subjects.push({ name: `shiftproxy@${basename(other)}${variant}`, url: `http://127.0.0.1:${cmp.info.port}/`, pid: cmp.child.pid });
  }
  // http-proxy calls the deprecated util._extend: keep its warning out of the report.
  const baseline = await startJsonProcess(join(here, 'http-proxy-baseline.js'), proxyArgs, { cpu: serverCpu, nodeArgs: ['--no-deprecation'], children });
  subjects.push({ name: 'http-proxy', url: `http://127.0.0.1:${baseline.info.port}/`, pid: baseline.child.pid });
}
const nginx = nginxBinary();
if (nginx !== null) {
  const port = await freePort();
  const { args } = nginxConfig({ port, bluePort, greenPort, canaryPercent: options.canary, workers: multi ? workerCount : 1 });
  const child = spawnPinned(serverCpu, nginx, args, 'inherit');
  await waitForPort(port, child, 'nginx');
  subjects.push({ name: multi ? `nginx x${workerCount}` : 'nginx', key: 'nginx', url: `http://127.0.0.1:${port}/`, pid: child.pid });
} else {
  notes.push('nginx: not installed (apt-get install nginx), left out');
}

// Wide enough for the longest subject name (a --compare subject carries its node options).
const nameWidth = Math.max(22, ...subjects.map((s) => s.name.length));
const threads = multi ? availableParallelism() : 1;
const connections = multi ? options.connections * threads : options.connections;
const loadBefore = loadAverage();
console.log(
  `macro bench: ${options.tool}, ${options.rounds} interleaved rounds x ${options.duration}s (+${options.warmup}s warm-up), ` +
    `${connections} connections, ${threads} load thread(s), canary ${options.canary}%, ` +
    (multi ? `${workerCount} workers, nothing pinned` : `load on CPU ${LOAD_CPU}, servers on CPU ${SERVER_CPU}`) +
    `; load average ${loadBefore.join(' ')}`,
);
for (const note of notes) console.log(`  note: ${note}`);

const runs = Object.fromEntries(subjects.map((s) => [s.name, []]));
for (let round = 1; round <= options.rounds; round++) {
  // Every other round runs the subjects in reverse, so none always follows the same neighbour.
  const order = round % 2 === 1 ? subjects : [...subjects].reverse();
  for (const subject of order) {
    const load = { tool: options.tool, url: subject.url, connections, threads, cpus: loadCpu };
    if (options.warmup > 0) await runLoad({ ...load, seconds: options.warmup });
    const tree = processTree(subject.pid);
    const before = cpuMicros(tree);
    const result = await runLoad({ ...load, seconds: options.duration });
    const cpu = cpuMicros(tree) - before;
    const run = { ...result, cpuUsPerRequest: result.requests > 0 ? cpu / result.requests : NaN, rssMiB: rssBytes(processTree(subject.pid)) / 1048576 };
    runs[subject.name].push(run);
    console.log(
      `  round ${round} ${subject.name.padEnd(nameWidth)} ${fmt(run.rps, 0).padStart(7)} req/s  p50 ${fmt(run.p50, 2)} ms  p99 ${fmt(run.p99, 2)} ms  ` +
        `CPU ${fmt(run.cpuUsPerRequest, 1)} us/req  RSS ${fmt(run.rssMiB, 0)} MiB` +
        (run.non2xx || run.errors ? `  non-2xx ${run.non2xx} errors ${run.errors}` : ''),
    );
  }
}
const loadAfter = loadAverage();

const byKey = (key) => subjects.find((s) => (s.key ?? s.name) === key);
const references = [['direct', byKey('direct')], ['http-proxy', byKey('http-proxy')], ['nginx', byKey('nginx')]].filter(([, s]) => s !== undefined);
const summary = Object.fromEntries(
  subjects.map((s) => {
    const list = runs[s.name];
    const rps = list.map((r) => r.rps);
    const ratios = Object.fromEntries(references.map(([label, ref]) => [label, median(list.map((r, i) => r.rps / runs[ref.name][i].rps))]));
    return [
      s.name,
      {
        rps: median(rps),
        spread: (Math.max(...rps) - Math.min(...rps)) / median(rps),
        p50: median(list.map((r) => r.p50)),
        p99: median(list.map((r) => r.p99)),
        cpuUsPerRequest: median(list.map((r) => r.cpuUsPerRequest)),
        rssMiB: median(list.map((r) => r.rssMiB)),
        ratios,
      },
    ];
  }),
);

console.log('\nmedians of rounds (ratios: median of the per-round ratios; spread: req/s max-min over the median)');
const head = ['subject'.padEnd(nameWidth), 'req/s'.padStart(8), ...references.map(([l]) => `x ${l}`.padStart(12)), 'p50 ms'.padStart(8), 'p99 ms'.padStart(8), 'CPU us/req'.padStart(11), 'RSS MiB'.padStart(8), 'spread'.padStart(7)];
console.log(`  ${head.join(' ')}`);
for (const s of subjects) {
  const m = summary[s.name];
  const cells = [
    s.name.padEnd(nameWidth),
    fmt(m.rps, 0).padStart(8),
    ...references.map(([l]) => `${fmt(m.ratios[l], 3)}x`.padStart(12)),
    fmt(m.p50, 2).padStart(8),
    fmt(m.p99, 2).padStart(8),
    fmt(m.cpuUsPerRequest, 1).padStart(11),
    fmt(m.rssMiB, 0).padStart(8),
    `${fmt(m.spread * 100, 0)}%`.padStart(7),
  ];
  console.log(`  ${cells.join(' ')}`);
}
const sp = summary[byKey('shiftproxy')?.name];
const hp = summary['http-proxy'];
if (sp && hp) {
  console.log(
    `\nshiftproxy vs http-proxy: ${fmt(sp.ratios['http-proxy'], 2)}x req/s, p99 ${fmt(sp.p99, 2)} vs ${fmt(hp.p99, 2)} ms, ` +
      `CPU ${fmt(sp.cpuUsPerRequest, 1)} vs ${fmt(hp.cpuUsPerRequest, 1)} us/req (${fmt(sp.cpuUsPerRequest / hp.cpuUsPerRequest, 2)}x)`,
  );
}
console.log(`load average before ${loadBefore.join(' ')}, after ${loadAfter.join(' ')} (the machine's other work shows here)`);

const resultsDir = join(root, 'bench', 'results');
mkdirSync(resultsDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const record = { options, subjects: subjects.map((s) => s.name), runs, summary, notes, loadBefore, loadAfter, node: process.version };
writeFileSync(join(resultsDir, `macro-${multi ? 'workers-' : ''}${stamp}.json`), JSON.stringify(record, null, 2));

if (options.profile && !multi) await profileShiftproxy();
process.exit(0);

/** Runs shiftproxy once more under --cpu-prof and prints where its time goes. */
async function profileShiftproxy() {
  const dir = join(resultsDir, `profile-${stamp}`);
  mkdirSync(dir, { recursive: true });
  const profiled = await startJsonProcess(join(here, 'shiftproxy-server.js'), proxyArgs, { cpu: serverCpu, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`], children });
  const load = { tool: options.tool, url: `http://127.0.0.1:${profiled.info.port}/`, connections, threads, cpus: loadCpu };
  await runLoad({ ...load, seconds: options.warmup });
  await runLoad({ ...load, seconds: options.duration });
  await new Promise((done) => {
    profiled.child.once('exit', done);
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

/**
 * shiftproxy as a user runs it (`shiftproxy run`), with `workers: N` in the file and `--workers N`
 * on the command line, the canary held at the benchmark's weight by a manual step. A build
 * whose config or command line does not know `workers` is reported, not benchmarked.
 */
async function startShiftproxyWorkers(count) {
  const dir = mkdtempSync(join(tmpdir(), 'shiftproxy-bench-'));
  const port = await freePort();
  const adminPort = await freePort();
  const file = join(dir, 'shiftproxy.yaml');
  writeFileSync(
    file,
    benchConfigText({
      bluePort,
      greenPort,
      head: [`listen: 127.0.0.1:${port}`, `admin: { listen: 127.0.0.1:${adminPort} }`, `state: { path: ${join(dir, 'state.json')} }`, `workers: ${count}`],
      service: [`rollout: { strategy: steps, steps: [ { weight: ${options.canary}, pause: manual }, { weight: 100 } ] }`],
    }),
  );
  const cli = join(root, 'bin', 'shiftproxy.js');
  const validated = spawnSync(process.execPath, [cli, 'validate', '-c', file], { encoding: 'utf8' });
  if (validated.status !== 0) {
    return { ok: false, reason: `this build does not support \`workers\` yet (validate: ${(validated.stderr || validated.stdout).trim().replace(/\s+/g, ' ')})` };
  }
  const child = spawn(process.execPath, [cli, 'run', '-c', file, '--workers', String(count)], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  try {
    await waitForPort(port, child, 'shiftproxy run');
  } catch (err) {
    return { ok: false, reason: `this build does not run with --workers ${count} (${(stderr || String(err)).trim().replace(/\s+/g, ' ').slice(0, 300)})` };
  }
  const admin = `http://127.0.0.1:${adminPort}/api/v1/services/bench/rollout`;
  if (options.canary > 0) {
    const started = await fetch(admin, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    if (started.status !== 202) return { ok: false, reason: `the rollout to ${options.canary}% did not start (${started.status})` };
    for (let i = 0; i < 200; i++) {
      const view = await (await fetch(admin)).json();
      if (view.state === 'paused' || view.canaryWeight === options.canary) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { ok: true, url: `http://127.0.0.1:${port}/`, pid: child.pid };
}

function spawnPinned(cpu, command, args, stdout) {
  const child =
    cpu === null ? spawn(command, args, { stdio: ['ignore', stdout, 'inherit'] }) : spawn('taskset', ['-c', cpu, command, ...args], { stdio: ['ignore', stdout, 'inherit'] });
  children.push(child);
  return child;
}

function parseArgs(argv, defaults) {
  const out = parseOptions(argv, defaults);
  if (out.tool !== 'wrk' && out.tool !== 'autocannon') throw new Error('--tool is wrk or autocannon');
  return out;
}

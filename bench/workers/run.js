// Workers benchmark: how the data-plane processes should share the listening socket.
// Subjects, each serving the same data plane (dist/) in front of the bench upstream:
//   single      shiftproxy, workers: 1
//   handoff     shiftproxy, workers: N (its primary accepts and hands each connection to a worker)
//   node-cluster  node:cluster round-robin, N workers (the same scheme, through the cluster module)
//   reuse-port  N processes listening on one port with SO_REUSEPORT (the kernel spreads connections)
// Scenarios: keep-alive (wrk holds its connections) and churn (Connection: close, a new
// connection per request, where the acceptor matters most). Rounds are interleaved (paired), and
// with `--layout pinned` wrk and the upstream run on CPU 0 and the subject's processes on CPU 1;
// `--layout spread` pins nothing (every process may use every core). Reports req/s, p50/p99 and
// the CPU time per request of all the subject's processes.
//
//   npm run bench:workers -- [--duration 8] [--rounds 3] [--connections 50] [--workers 2] [--canary 10] [--layout pinned|spread]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOptions } from '../lib/cli-options.js';
import { startJsonProcess } from '../lib/json-process.js';
import { fmt, median } from '../lib/round-stats.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const options = parseOptions(process.argv.slice(2), { duration: 8, rounds: 3, connections: 50, workers: 2, canary: 10, layout: 'pinned' });
const CLOCK_TICK_US = 10_000;
const pinned = options.layout === 'pinned';

if (!existsSync(join(root, 'dist', 'main.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}
if (spawnSync('wrk', ['--version']).error) {
  console.error('wrk is not installed (apt-get install wrk)');
  process.exit(1);
}

const children = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

const upstream = await startJsonProcess(join(root, 'bench', 'macro', 'upstream.js'), [], { cpu: pinned ? 0 : null, children });
const args = [upstream.info.blue, upstream.info.green, options.canary].map(String);
const subjects = [
  { name: 'single', script: 'shiftproxy-workers.js', args: [...args, '1'] },
  { name: 'handoff', script: 'shiftproxy-workers.js', args: [...args, String(options.workers)] },
  { name: 'node-cluster', script: 'node-cluster.js', args: [...args, String(options.workers)] },
  { name: 'reuse-port', script: 'reuse-port.js', args: [...args, String(options.workers)] },
];
for (const subject of subjects) subject.process = await startJsonProcess(join(here, subject.script), subject.args, { cpu: pinned ? 1 : null, children });

const scenarios = [
  { name: 'keep-alive', headers: [] },
  { name: 'churn', headers: ['-H', 'Connection: close'] },
];
console.log(
  `workers bench: ${options.rounds} interleaved rounds x ${options.duration}s, ${options.connections} connections, ` +
    `${options.workers} workers, canary ${options.canary}%, layout ${options.layout}` +
    (pinned ? ' (wrk and upstream on CPU 0, the subject on CPU 1)' : ' (nothing pinned)'),
);
const runs = {};
for (let round = 1; round <= options.rounds; round++) {
  for (const scenario of scenarios) {
    for (const subject of subjects) {
      const url = `http://127.0.0.1:${subject.process.info.port}/`;
      await wrk(url, scenario.headers, 1);
      const before = cpuTicks(subject.process.info.pids);
      const result = await wrk(url, scenario.headers, options.duration);
      const ticks = cpuTicks(subject.process.info.pids) - before;
      const run = { ...result, cpuUsPerRequest: result.requests > 0 ? (ticks * CLOCK_TICK_US) / result.requests : NaN };
      (runs[`${scenario.name}/${subject.name}`] ??= []).push(run);
      console.log(
        `  round ${round} ${scenario.name.padEnd(10)} ${subject.name.padEnd(12)} ${fmt(run.rps, 0).padStart(7)} req/s  p50 ${fmt(run.p50, 2)} ms  ` +
          `p99 ${fmt(run.p99, 2)} ms  CPU ${fmt(run.cpuUsPerRequest, 1)} us/req${run.errors ? `  errors ${run.errors}` : ''}`,
      );
    }
  }
}

console.log('\nmedian of rounds');
console.log('  scenario    subject         req/s   x single   p50 ms   p99 ms   CPU us/req   errors');
const summary = {};
for (const scenario of scenarios) {
  for (const subject of subjects) {
    const list = runs[`${scenario.name}/${subject.name}`];
    summary[`${scenario.name}/${subject.name}`] = {
      rps: median(list.map((r) => r.rps)),
      p50: median(list.map((r) => r.p50)),
      p99: median(list.map((r) => r.p99)),
      cpuUsPerRequest: median(list.map((r) => r.cpuUsPerRequest)),
      errors: list.reduce((sum, r) => sum + r.errors, 0),
    };
  }
  const single = summary[`${scenario.name}/single`].rps;
  for (const subject of subjects) {
    const m = summary[`${scenario.name}/${subject.name}`];
    console.log(
      `  ${scenario.name.padEnd(10)}  ${subject.name.padEnd(12)} ${fmt(m.rps, 0).padStart(8)}   ${fmt(m.rps / single, 2).padStart(6)}x  ${fmt(m.p50, 2).padStart(7)}  ${fmt(m.p99, 2).padStart(7)}   ${fmt(m.cpuUsPerRequest, 1).padStart(9)}   ${String(m.errors).padStart(6)}`,
    );
  }
}

const resultsDir = join(root, 'bench', 'results');
mkdirSync(resultsDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
writeFileSync(join(resultsDir, `workers-${stamp}.json`), JSON.stringify({ options, runs, summary, node: process.version }, null, 2));
// Each subject gets to stop its own processes (the SO_REUSEPORT primary kills its forks on
// SIGTERM) before the exit handler SIGKILLs whatever is left: a primary killed first would leave
// its forks running.
const exited = (child) => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve)));
const stopping = [...subjects.map((subject) => subject.process.child), upstream.child];
for (const child of stopping) child.kill('SIGTERM');
await Promise.race([Promise.all(stopping.map(exited)), new Promise((resolve) => setTimeout(resolve, 5000))]);
process.exit(0);

function pin(cpu, command, commandArgs) {
  return pinned ? ['taskset', ['-c', String(cpu), command, ...commandArgs]] : [command, commandArgs];
}

function wrk(url, headers, seconds) {
  return new Promise((resolve, reject) => {
    const [command, commandArgs] = pin(0, 'wrk', ['-t', '1', '-c', String(options.connections), '-d', `${seconds}s`, '--latency', ...headers, url]);
    const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.once('exit', (code) => (code === 0 ? resolve(parseWrk(out)) : reject(new Error(`wrk exited with ${code}: ${out}`))));
  });
}

/** Requests, req/s, p50/p99 (ms) and errors from wrk's text output. */
function parseWrk(text) {
  const percentile = (p) => {
    const match = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(text);
    if (!match) return NaN;
    const value = Number(match[1]);
    return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
  };
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  return {
    requests: Number(/(\d+) requests in/.exec(text)?.[1] ?? 0),
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN),
    p50: percentile(50),
    p99: percentile(99),
    // wrk counts a server's close after a Connection: close answer as a read error; only the others are failures.
    errors: (socketErrors ? Number(socketErrors[1]) + Number(socketErrors[3]) + Number(socketErrors[4]) : 0) + Number(non2xx?.[1] ?? 0),
  };
}

function cpuTicks(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // exited
    }
  }
  return ticks;
}

// The load generator: wrk when it is installed (a C load generator that a single Node proxy
// cannot outrun), autocannon otherwise (a Node one: it saturates first, at about half the rate
// wrk reaches direct to the backend, and so flatters every proxy measured with it).
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

export function wrkInstalled() {
  return spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined;
}

/**
 * Runs one load for `seconds` and resolves with { requests, rps, p50, p99 (ms), non2xx, errors }.
 * `cpus` pins the generator (taskset -c), or leaves it to the scheduler when null.
 */
export function runLoad({ tool, url, seconds, connections, threads, cpus }) {
  return tool === 'wrk' ? runWrk(url, seconds, connections, threads, cpus) : runAutocannon(url, seconds, connections, cpus);
}

function pinned(cpus, command, args) {
  return cpus === null ? [command, args] : ['taskset', ['-c', cpus, command, ...args]];
}

function collect(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited with ${code}: ${err.trim()}`))));
  });
}

async function runWrk(url, seconds, connections, threads, cpus) {
  const script = join(here, 'wrk-report.lua');
  const [command, args] = pinned(cpus, 'wrk', ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '-s', script, url]);
  const out = await collect(command, args);
  const line = out.split('\n').find((l) => l.startsWith('{"wrk"'));
  if (!line) throw new Error(`wrk printed no report:\n${out}`);
  const report = JSON.parse(line).wrk;
  return {
    requests: report.requests,
    rps: report.requests / (report.durationUs / 1e6),
    p50: report.p50Us / 1000,
    p99: report.p99Us / 1000,
    non2xx: report.status,
    errors: report.connect + report.read + report.write + report.timeout,
  };
}

async function runAutocannon(url, seconds, connections, cpus) {
  const cannon = join(root, 'node_modules', 'autocannon', 'autocannon.js');
  const [command, args] = pinned(cpus, process.execPath, [cannon, '-c', String(connections), '-d', String(seconds), '-j', url]);
  const result = JSON.parse(await collect(command, args));
  return {
    requests: result.requests.total,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

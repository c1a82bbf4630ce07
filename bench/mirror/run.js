// What a dark launch costs the clients of the live slot: the same shiftproxy build serving blue
// at a fixed request rate with no mirror, and with every request copied to a green that answers
// differently (a dark launch that is failing), in interleaved rounds. Reports blue's p50/p99 as
// the clients saw it, req/s, the proxy's CPU per request and the copies' results.
//
//   npm run bench:mirror -- [--rate 1000] [--duration 10] [--rounds 5] [--connections 20] [--green-delay-ms 0]
//
// The load is autocannon at a fixed overall rate (latency under saturation would measure only
// the extra CPU). The proxies and the backends share CPU 1, the load runs on CPU 0.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuMicros, processTree } from '../macro/process-stats.js';
import { parseOptions } from '../lib/cli-options.js';
import { startJsonProcess } from '../lib/json-process.js';
import { median } from '../lib/round-stats.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const options = parseOptions(process.argv.slice(2), { rate: 1000, duration: 10, rounds: 5, connections: 20, 'green-delay-ms': 0 });

const children = [];
process.on('exit', () => children.forEach((c) => c.exitCode === null && c.kill('SIGTERM')));

const backends = await startJsonProcess(join(here, 'backends.js'), [String(options['green-delay-ms'])], { cpu: 1, children });
const subjects = [];
for (const mirror of [0, 100]) {
  const proxy = await startJsonProcess(join(here, 'mirror-server.js'), [String(backends.info.blue), String(backends.info.green), String(mirror)], { cpu: 1, children });
  subjects.push({ name: mirror === 0 ? 'no mirror' : 'mirror 100% (green differs)', ...proxy.info, pid: proxy.child.pid });
}
console.log(`mirror bench: autocannon at ${options.rate} req/s, ${options.connections} connections, ${options.rounds} interleaved rounds x ${options.duration}s`);
const runs = Object.fromEntries(subjects.map((s) => [s.name, []]));
for (let round = 1; round <= options.rounds; round++) {
  const order = round % 2 === 1 ? subjects : [...subjects].reverse();
  for (const subject of order) {
    await load(subject.port, 2);
    const tree = processTree(subject.pid);
    const before = cpuMicros(tree);
    const result = await load(subject.port, options.duration);
    const cpu = cpuMicros(tree) - before;
    const run = { ...result, cpuUsPerRequest: cpu / result.requests };
    runs[subject.name].push(run);
    console.log(`  round ${round} ${subject.name.padEnd(28)} ${run.rps.toFixed(0).padStart(6)} req/s  p50 ${run.p50.toFixed(2)} ms  p99 ${run.p99.toFixed(2)} ms  CPU ${run.cpuUsPerRequest.toFixed(1)} us/req  non-2xx ${run.non2xx}`);
  }
}
console.log('\nmedians of rounds');
for (const subject of subjects) {
  const list = runs[subject.name];
  const metrics = await (await fetch(`http://127.0.0.1:${subject.adminPort}/metrics`)).text();
  const copies = metrics.split('\n').filter((l) => l.startsWith('shiftproxy_mirror_requests_total')).map((l) => l.replace(/^.*result="(\w+)"} /, '$1 ')).join(', ');
  console.log(
    `  ${subject.name.padEnd(28)} p50 ${median(list.map((r) => r.p50)).toFixed(2)} ms  p99 ${median(list.map((r) => r.p99)).toFixed(2)} ms  ` +
      `p99 range ${Math.min(...list.map((r) => r.p99)).toFixed(2)}-${Math.max(...list.map((r) => r.p99)).toFixed(2)} ms  ` +
      `CPU ${median(list.map((r) => r.cpuUsPerRequest)).toFixed(1)} us/req${copies ? `  copies: ${copies}` : ''}`,
  );
}
process.exit(0);

function load(port, seconds) {
  const cannon = join(root, 'node_modules', 'autocannon', 'autocannon.js');
  const args = ['-c', '0', process.execPath, cannon, '-c', String(options.connections), '-R', String(options.rate), '-d', String(seconds), '-j', `http://127.0.0.1:${port}/`];
  return new Promise((done, fail) => {
    const child = spawn('taskset', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.once('exit', (code) => {
      if (code !== 0) return fail(new Error(`autocannon exited with ${code}`));
      const r = JSON.parse(out);
      done({ requests: r.requests.total, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx });
    });
  });
}

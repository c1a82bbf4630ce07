// TLS and HTTP/2 benchmark: shiftproxy and nginx, each terminating TLS on one core in front of
// the same two upstreams (90/10), measured in the same run, in interleaved rounds: HTTPS/1.1
// with wrk and HTTP/2 over TLS with h2load (Debian's nghttp2-client), after a 2 s warm-up of
// each. Reports req/s, CPU time per request of the server's processes (from /proc, handshakes
// included: the connections are opened at the start of each run) and the ratio to nginx, round by round.
//
//   npm run bench:tls -- [--duration 8] [--rounds 3] [--connections 50] [--streams 10] [--canary 10]
//
// nginx 1.22 (Debian 12) spells HTTP/2 `listen ... ssl http2`; from 1.25.1 it is `http2 on`.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLoad } from '../macro/load-generator.js';
import { nginxBinary } from '../macro/nginx-subject.js';
import { cpuMicros, loadAverage, processTree } from '../macro/process-stats.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const options = { duration: 8, rounds: 3, connections: 50, streams: 10, canary: 10 };
for (let i = 2; i < process.argv.length; i += 2) {
  const key = process.argv[i].replace(/^--/, '');
  if (!(key in options)) throw new Error(`unknown option --${key}`);
  options[key] = Number(process.argv[i + 1]);
}
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

const upstream = await startJson(join(here, '..', 'macro', 'upstream.js'), []);
const { blue, green } = upstream.info;
const subjects = [];
const sp = await startJson(join(here, 'shiftproxy-tls.js'), [String(blue), String(green), String(options.canary), cert, key]);
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

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
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

function startJson(script, args) {
  const [command, full] = pinned(process.execPath, [script, ...args]);
  const child = spawn(command, full, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve({ child, info: JSON.parse(line) });
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

async function startNginx(binary, bluePort, greenPort) {
  const port = await freePort();
  const canary = Math.round(options.canary);
  const conf = `
worker_processes 1;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_timeout 60s;
  keepalive_requests 1000000;
  upstream backends {
    server 127.0.0.1:${bluePort} weight=${100 - canary};
    server 127.0.0.1:${greenPort} weight=${canary};
    keepalive 256;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://backends;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
    }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const [command, args] = pinned(binary, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')]);
  const child = spawn(command, args, { stdio: 'inherit' });
  children.push(child);
  for (let i = 0; i < 200; i++) {
    if (await canConnect(port)) return { name: 'nginx', port, pid: child.pid };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('nginx did not start');
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

function freePort() {
  return new Promise((resolve) => {
    import('node:net').then(({ createServer }) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address();
        server.close(() => resolve(port));
      });
    });
  });
}

function canConnect(port) {
  return import('node:net').then(
    ({ connect }) =>
      new Promise((resolve) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      }),
  );
}

// Load and soak suite: each scenario runs the built proxy as a child process against
// bench/soak/upstream-server.js, drives it, and prints one PASS/FAIL line per check with the
// measured value and its threshold. Exit code 1 when any check failed.
// Thresholds are asserted only here, never in `npm test`: a full run takes minutes.
//
//   npm run soak -- <scenario> [--seconds N] [--mib N] ...     (`npm run soak -- help` lists them)
//   npm run soak -- all                                        every scenario with short defaults
//
// The proxy runs on CPU 1; this process, autocannon and the upstreams on CPU 0. Configs, proxy
// logs and a summary land in bench/results/soak-<time>/.
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pinSelf, stopAll } from './lib/children.js';
import { loadAverage } from './lib/probes.js';
import { crashedProxies, setProxyWorkers } from './lib/proxy.js';
import { Report } from './lib/report.js';
import aborts from './scenarios/aborts.js';
import churn from './scenarios/churn.js';
import connLimit from './scenarios/conn-limit.js';
import download from './scenarios/download.js';
import keepalive from './scenarios/keepalive.js';
import upload from './scenarios/upload.js';
import upstreamRestart from './scenarios/upstream-restart.js';
import websockets from './scenarios/websockets.js';

const SCENARIOS = [keepalive, churn, upload, download, aborts, upstreamRestart, connLimit, websockets];
const root = new URL('../..', import.meta.url).pathname;

const [name, ...givenOptions] = process.argv.slice(2);
// `--workers N` applies to every scenario: each proxy runs N data-plane processes.
const workersAt = givenOptions.indexOf('--workers');
const workers = workersAt >= 0 ? Number(givenOptions[workersAt + 1]) : 1;
const rest = workersAt >= 0 ? givenOptions.filter((_, i) => i !== workersAt && i !== workersAt + 1) : givenOptions;
if (!Number.isInteger(workers) || workers < 1) {
  console.error('--workers needs a whole number of processes');
  process.exit(2);
}
setProxyWorkers(workers);
const selected = name === 'all' ? SCENARIOS : SCENARIOS.filter((s) => s.name === name);
if (selected.length === 0) {
  printUsage();
  process.exit(name === undefined || name === 'help' ? 0 : 2);
}
if (!existsSync(join(root, 'dist', 'main.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(2);
}
let overrides;
try {
  overrides = parseOptions(rest, name === 'all' ? {} : selected[0].defaults);
} catch (err) {
  console.error(err.message);
  printUsage();
  process.exit(2);
}

pinSelf();
// dist/ is what runs: say which build, since a rebuild between runs changes the subject.
console.log(`soak ${name}: dist/ built ${statSync(join(root, 'dist', 'main.js')).mtime.toISOString()}, node ${process.version}, workers ${workers}`);
const dir = join(root, 'bench', 'results', `soak-${new Date().toISOString().replace(/[:.]/g, '-')}`);
mkdirSync(dir, { recursive: true });
const report = new Report();
const startedAt = performance.now();
const timings = [];

for (const scenario of selected) {
  // `all` is a health check of the suite: every scenario with its short settings.
  const options = { ...scenario.defaults, ...(name === 'all' ? scenario.quick : {}), ...overrides };
  report.section(scenario.name, scenario.description);
  report.info(`options: ${Object.entries(options).map(([k, v]) => `--${k} ${v}`).join(' ')}; machine load average ${loadAverage()}`);
  const began = performance.now();
  try {
    await scenario.run({ report, dir, options });
  } catch (err) {
    report.check('scenario ran to completion', false, err.stack ?? String(err), 'no error');
    // A dead proxy is the usual reason a scenario breaks off: say so plainly.
    for (const proxy of crashedProxies()) {
      const { exitCode, signalCode } = proxy.child;
      report.check('proxy stayed up', false, `exited (code ${exitCode}, signal ${signalCode}); log ${proxy.logPath}`, 'alive');
    }
  } finally {
    await stopAll();
  }
  const seconds = (performance.now() - began) / 1000;
  timings.push({ scenario: scenario.name, seconds });
  report.info(`${scenario.name} took ${seconds.toFixed(1)} s`);
}

const total = (performance.now() - startedAt) / 1000;
const failed = report.failed;
writeFileSync(join(dir, 'summary.json'), JSON.stringify({ scenario: name, overrides, node: process.version, timings, results: report.results, notes: report.notes }, null, 2));
console.log(`\n${report.results.length - failed.length}/${report.results.length} checks passed in ${total.toFixed(1)} s; logs and configs in ${dir}`);
for (const f of failed) console.log(`  FAIL ${f.scenario}: ${f.label}: ${f.measured} (threshold: ${f.threshold})`);
process.exit(failed.length > 0 ? 1 : 0);

function parseOptions(argv, defaults) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    if (!argv[i].startsWith('--') || !(key in defaults)) throw new Error(`unknown option ${argv[i]} for "${name}"`);
    const value = Number(argv[++i]);
    if (!Number.isFinite(value) || value < 0) throw new Error(`--${key} needs a number`);
    out[key] = value;
  }
  return out;
}

function printUsage() {
  console.log('usage: npm run soak -- <scenario> [--option N ...] [--workers N]\n');
  for (const s of SCENARIOS) {
    console.log(`  ${s.name.padEnd(17)} ${s.description}`);
    console.log(`  ${''.padEnd(17)} ${Object.entries(s.defaults).map(([k, v]) => `--${k} ${v}`).join(' ')}`);
  }
  console.log(`  ${'all'.padEnd(17)} every scenario with short settings (a few minutes)`);
  console.log('\n  --workers N runs every proxy with N data-plane processes (memory, descriptors and CPU are then those of all of them)');
}

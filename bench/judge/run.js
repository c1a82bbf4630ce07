// The judge benchmark: false rollbacks per rollout, detection and exposure, and healthy rollout
// durations, for the sequential judge against the fixed one, from seeded count simulations (the
// real controller, analysis and judge on a virtual clock, fed seeded counts; see
// src/simulate/count-simulation.ts). Every table of the README's "Sequential judge: measured"
// section comes from one run of this script.
//
//   npm run bench:judge -- [--runs 1000] [--detect-runs 200] [--workers 2] [--parts aa,detect,duration] [--seed 1]
//
// `--runs` seeded rollouts for each A/A cell (false rollbacks per rollout), `--detect-runs` for
// each bad-canary and healthy-duration cell. Rollouts are spread over worker threads; results are
// the same whatever the number of workers (each rollout's seed fixes it). The defaults take about
// half an hour on two cores.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOptions } from '../lib/cli-options.js';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

if (!isMainThread) {
  await runWorker();
} else {
  await main();
}

async function main() {
  const options = parseOptions(process.argv.slice(2), { runs: 1000, 'detect-runs': 200, workers: Math.min(2, availableParallelism()), parts: 'aa,detect,duration', seed: 1 });
  const parts = new Set(String(options.parts).split(','));
  const cells = [];
  const RPS = [13.3, 50, 200];
  const judges = (level) => [
    { judge: 'sequential', level, label: `sequential, falseRollbackRate ${level}` },
    { judge: 'fixed', level, label: `fixed, confidence ${1 - level}` },
  ];
  const healthy = { canary: { errorRate: 0.02 }, stable: { errorRate: 0.02 } };
  if (parts.has('aa')) {
    for (const intervalMs of [5000, 10000, 30000]) {
      for (const rps of RPS) {
        for (const level of [0.01, 0.05]) {
          // The fixed judge at 99% per check only at the middle interval: it is there for comparison, and time is short.
          for (const j of judges(level)) if (j.judge === 'sequential' || level === 0.05 || intervalMs === 10000) cells.push({ part: 'aa', file: 'canary-bake.yaml', ...j, intervalMs, rps, faults: healthy, runs: options.runs });
        }
      }
    }
  }
  if (parts.has('detect')) {
    const faults = [
      { name: 'errors 2% vs 1%', canary: { errorRate: 0.02 }, stable: { errorRate: 0.01 } },
      { name: 'errors 5% vs 1%', canary: { errorRate: 0.05 }, stable: { errorRate: 0.01 } },
      { name: 'errors 20% vs 1%', canary: { errorRate: 0.2 }, stable: { errorRate: 0.01 } },
      { name: 'latency 1.2x', canary: { errorRate: 0.01, latencyFactor: 1.2 }, stable: { errorRate: 0.01 } },
      { name: 'latency 1.5x', canary: { errorRate: 0.01, latencyFactor: 1.5 }, stable: { errorRate: 0.01 } },
      { name: 'latency 3x', canary: { errorRate: 0.01, latencyFactor: 3 }, stable: { errorRate: 0.01 } },
    ];
    for (const fault of faults) {
      for (const rps of RPS) {
        for (const j of judges(0.05)) cells.push({ part: 'detect', file: 'canary-bake.yaml', ...j, intervalMs: 10000, rps, fault: fault.name, faults: fault, runs: options['detect-runs'] });
      }
    }
  }
  if (parts.has('duration')) {
    for (const rps of RPS) {
      cells.push({ part: 'duration', file: 'adaptive.yaml', judge: 'sequential', level: 0.05, label: 'adaptive, pause { min: 1m, max: 5m }', intervalMs: 10000, rps, faults: healthy, runs: options['detect-runs'] });
      cells.push({ part: 'duration', file: 'adaptive.yaml', judge: 'sequential', level: 0.05, label: 'fixed, pause 5m', fixedPauseMs: 300000, intervalMs: 10000, rps, faults: healthy, runs: options['detect-runs'] });
    }
  }

  const chunk = 50;
  const tasks = [];
  cells.forEach((cell, index) => {
    cell.results = [];
    for (let first = 0; first < cell.runs; first += chunk) {
      tasks.push({ index, cell: { ...cell, results: undefined }, seeds: [options.seed + first, options.seed + Math.min(cell.runs, first + chunk)] });
    }
  });
  const started = performance.now();
  const remaining = cells.map((cell) => Math.ceil(cell.runs / chunk));
  const total = cells.reduce((sum, cell) => sum + cell.runs, 0);
  console.log(`${cells.length} cells, ${total} rollouts on ${options.workers} worker threads`);
  await new Promise((resolve, reject) => {
    let next = 0;
    let busy = 0;
    const startWorker = () => {
      const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { root } });
      const feed = () => {
        if (next >= tasks.length) {
          worker.terminate();
          if (busy === 0) resolve();
          return;
        }
        busy++;
        worker.postMessage(tasks[next++]);
      };
      worker.on('message', ({ index, results }) => {
        busy--;
        cells[index].results.push(...results);
        if (--remaining[index] === 0) console.log(`  ${describe(cells[index])} [${((performance.now() - started) / 1000).toFixed(0)} s]`);
        feed();
        if (next >= tasks.length && busy === 0) resolve();
      });
      worker.on('error', reject);
      feed();
    };
    for (let w = 0; w < options.workers; w++) startWorker();
  });
  const seconds = (performance.now() - started) / 1000;

  const report = [];
  const aa = cells.filter((c) => c.part === 'aa');
  if (aa.length > 0) report.push(aaTable(aa, RPS, options.runs));
  const detect = cells.filter((c) => c.part === 'detect');
  if (detect.length > 0) report.push(detectTable(detect, RPS, options['detect-runs']));
  const duration = cells.filter((c) => c.part === 'duration');
  if (duration.length > 0) report.push(durationTable(duration, RPS, options['detect-runs']));
  const text = report.join('\n\n');
  console.log(`\n${text}\n\n${total} rollouts in ${seconds.toFixed(0)} s`);
  const out = join(root, 'bench', 'results', `judge-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ options, seconds, cells: cells.map(({ results, ...cell }) => ({ ...cell, summary: summarise(cell, results) })), tables: text }, null, 2)}\n`);
  console.log(`results: ${out}`);
}

function describe(cell) {
  return `${cell.part} ${cell.fault ?? ''} ${cell.label} rps ${cell.rps} every ${cell.intervalMs / 1000}s: ${JSON.stringify(summarise(cell, cell.results))}`;
}

function summarise(cell, results) {
  const rolledBack = results.filter((r) => r.outcome === 'rolled_back');
  const caught = rolledBack.filter((r) => r.cause === 'alarm');
  const causes = {};
  for (const r of rolledBack) causes[`${r.cause}${r.alarm ? `:${r.alarm}` : ''}`] = (causes[`${r.cause}${r.alarm ? `:${r.alarm}` : ''}`] ?? 0) + 1;
  const promoted = results.filter((r) => r.outcome === 'promoted');
  return {
    runs: results.length,
    rolledBack: rolledBack.length,
    caught: caught.length,
    causes,
    medianRollbackS: median(caught.map((r) => r.decidedAtMs)) / 1000,
    medianCanaryRequests: median(results.map((r) => r.canaryRequests)),
    medianCanaryFailures: median(results.map((r) => r.canaryFailures)),
    medianDurationS: median(promoted.map((r) => r.decidedAtMs)) / 1000,
    p90DurationS: quantile(promoted.map((r) => r.decidedAtMs), 0.9) / 1000,
  };
}

function aaTable(cells, rpsLevels, runs) {
  const lines = [
    `A/A, both slots failing 2% with the same latency: rollouts rolled back, of ${runs} (exact 95% interval for the highest)`,
    '',
    `| judge | check every | ${rpsLevels.map((r) => `${r} rps`).join(' | ')} |`,
    `| --- | --- | ${rpsLevels.map(() => '---').join(' | ')} |`,
  ];
  // One row per judge and interval, the judges grouped.
  const labels = [...new Set(cells.map((c) => c.label))];
  const keys = [...new Set(cells.map((c) => `${c.label}|${c.intervalMs}`))].sort((a, b) => labels.indexOf(a.split('|')[0]) - labels.indexOf(b.split('|')[0]) || Number(a.split('|')[1]) - Number(b.split('|')[1]));
  for (const key of keys) {
    const [label, interval] = key.split('|');
    const row = rpsLevels.map((rps) => {
      const cell = cells.find((c) => c.label === label && String(c.intervalMs) === interval && c.rps === rps);
      const s = summarise(cell, cell.results);
      const [, high] = clopperPearson(s.rolledBack, s.runs);
      const causes = Object.entries(s.causes).map(([k, v]) => `${v} ${k}`).join(', ');
      return `${pct(s.rolledBack / s.runs)} (<= ${pct(high)})${causes ? ` ${causes}` : ''}`;
    });
    lines.push(`| ${label} | ${Number(interval) / 1000} s | ${row.join(' | ')} |`);
  }
  return lines.join('\n');
}

function detectTable(cells, rpsLevels, runs) {
  const lines = [
    `Bad canaries from the start, a check every 10 s: caught by an alarm, of ${runs}; median time to rollback; median canary requests (failed) served before the decision`,
    '',
    `| canary | judge | ${rpsLevels.map((r) => `${r} rps`).join(' | ')} |`,
    `| --- | --- | ${rpsLevels.map(() => '---').join(' | ')} |`,
  ];
  const keys = [...new Set(cells.map((c) => `${c.fault}|${c.label}`))];
  for (const key of keys) {
    const [fault, label] = key.split('|');
    const row = rpsLevels.map((rps) => {
      const cell = cells.find((c) => c.fault === fault && c.label === label && c.rps === rps);
      const s = summarise(cell, cell.results);
      const when = s.caught > 0 ? `, ${s.medianRollbackS.toFixed(0)} s` : '';
      const other = s.rolledBack - s.caught;
      const inconclusive = other > 0 ? ` (and ${pct(other / s.runs)} rolled back as inconclusive)` : '';
      return `${pct(s.caught / s.runs)}${when}${inconclusive}, ${fmt(s.medianCanaryRequests)} (${fmt(s.medianCanaryFailures)})`;
    });
    lines.push(`| ${fault} | ${label} | ${row.join(' | ')} |`);
  }
  return lines.join('\n');
}

function durationTable(cells, rpsLevels, runs) {
  const lines = [
    `Healthy rollouts (A/A at 2%), 10% then 50% then a 5m bake, sequential judge at falseRollbackRate 0.05: median (90th percentile) time to promotion; rolled back, of ${runs}`,
    '',
    `| steps | ${rpsLevels.map((r) => `${r} rps`).join(' | ')} |`,
    `| --- | ${rpsLevels.map(() => '---').join(' | ')} |`,
  ];
  for (const label of [...new Set(cells.map((c) => c.label))]) {
    const row = rpsLevels.map((rps) => {
      const cell = cells.find((c) => c.label === label && c.rps === rps);
      const s = summarise(cell, cell.results);
      return `${minutes(s.medianDurationS)} (${minutes(s.p90DurationS)}); ${s.rolledBack}`;
    });
    lines.push(`| ${label} | ${row.join(' | ')} |`);
  }
  return lines.join('\n');
}

async function runWorker() {
  const { loadConfigFile } = await import(join(workerData.root, 'dist', 'config', 'load-config.js'));
  const { runCountSimulation } = await import(join(workerData.root, 'dist', 'simulate', 'count-simulation.js'));
  const configs = new Map();
  const configFor = (cell) => {
    const key = JSON.stringify([cell.file, cell.judge, cell.level, cell.intervalMs, cell.fixedPauseMs]);
    if (!configs.has(key)) {
      // The loaded config is frozen; a copy takes the cell's settings.
      const config = structuredClone(loadConfigFile(join(here, cell.file)));
      const rollout = config.services[0].rollout;
      const analysis = rollout.analysis;
      analysis.judge = cell.judge;
      analysis.intervalMs = cell.intervalMs;
      analysis.falseRollbackRate = cell.level;
      // The fixed judge tests each check at the alarm's confidence.
      for (const alarm of analysis.alarms) alarm.confidence = 1 - cell.level;
      if (cell.fixedPauseMs) rollout.steps = rollout.steps.map((s) => (typeof s.pause === 'object' ? { weight: s.weight, pause: cell.fixedPauseMs } : s));
      configs.set(key, config);
    }
    return configs.get(key);
  };
  const fault = (f) => (f ? { errorRate: f.errorRate ?? 0, latencyMs: 0, afterMs: 0, ...(f.latencyFactor ? { latencyFactor: f.latencyFactor } : {}) } : undefined);
  parentPort.on('message', async ({ index, cell, seeds }) => {
    const config = configFor(cell);
    const results = [];
    for (let seed = seeds[0]; seed < seeds[1]; seed++) {
      const r = await runCountSimulation({ config, rps: cell.rps, seed, failCanary: fault(cell.faults.canary), failStable: fault(cell.faults.stable) });
      results.push({ outcome: r.outcome, cause: r.cause, alarm: r.alarm, decidedAtMs: r.decidedAtMs, canaryRequests: r.requests.canary, canaryFailures: r.failures.canary });
    }
    parentPort.postMessage({ index, results });
  });
}

/** Exact (Clopper-Pearson) 95% interval for k of n, by bisection on the binomial tails. */
function clopperPearson(k, n) {
  const tail = (kk, p) => {
    // P(X >= kk) for X ~ Binomial(n, p), summed in logs.
    let sum = 0;
    for (let x = kk; x <= n; x++) sum += Math.exp(logChoose(n, x) + x * Math.log(p) + (n - x) * Math.log1p(-p));
    return sum;
  };
  const solve = (f) => {
    let lo = 0;
    let hi = 1;
    for (let i = 0; i < 50; i++) {
      const mid = (lo + hi) / 2;
      if (f(mid)) hi = mid;
      else lo = mid;
    }
    return (lo + hi) / 2;
  };
  const low = k === 0 ? 0 : solve((p) => tail(k, p) >= 0.025);
  const high = k === n ? 1 : solve((p) => 1 - tail(k + 1, p) <= 0.025);
  return [low, high];
}

function logChoose(n, k) {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log((n - k + i) / i);
  return s;
}

function median(values) {
  return quantile(values, 0.5);
}

function quantile(values, q) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
}

function pct(x) {
  const v = x * 100;
  return `${v === 0 ? '0' : v < 1 ? v.toFixed(2) : v.toFixed(1)}%`;
}

function fmt(n) {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-';
}

function minutes(seconds) {
  if (!Number.isFinite(seconds)) return '-';
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds - 60 * m);
  return s === 0 ? `${m}m` : `${m}m${String(s).padStart(2, '0')}s`;
}

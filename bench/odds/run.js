// Rollout odds: how often a healthy canary is rolled back, and how often a bad one is caught,
// per rollout, over many seeded rollouts. Each rollout is decided by the real controller,
// analysis and judge on a virtual clock, fed seeded synthetic counts (src/simulate/count-simulation.ts),
// so a 10-minute rollout takes tens of milliseconds.
//
//   npm run bench:odds -- [--runs 300] [--rps 13.3,50,200] [--scenario NAME,...] [--seed 1] [--list]
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOptions } from '../lib/cli-options.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const { loadConfigFile } = await import(join(root, 'dist', 'config', 'load-config.js')).catch(() => {
  console.error('dist/ is missing: run `npm run build` (npm ci does it) first');
  process.exit(1);
});
const { runCountSimulation } = await import(join(root, 'dist', 'simulate', 'count-simulation.js'));
const { binomialUpperTail } = await import(join(root, 'dist', 'analysis', 'statistics.js'));

const fault = (errorRate) => ({ errorRate, latencyMs: 0, afterMs: 0 });
/** Each scenario: a config, the faults of each slot, and what a rollout "should" end as. */
const SCENARIOS = {
  'headline-aa': { config: 'checkout.yaml', failCanary: fault(0.02), failStable: fault(0.02), healthy: true, about: 'README headline config (canary 10% 5m, bake 5m, three alarms), both slots failing 2%' },
  'headline-bad': { config: 'checkout.yaml', failCanary: fault(0.05), failStable: fault(0.01), healthy: false, about: 'README headline config, canary failing 5% against stable 1%' },
  'linear-bake-aa': { config: 'linear-bake.yaml', failCanary: fault(0.02), failStable: fault(0.02), healthy: true, about: 'linear 20%/1m, bake 1m, worse-than-stable only, both slots failing 2%' },
  'linear-bake-bad': { config: 'linear-bake.yaml', failCanary: fault(0.05), failStable: fault(0.01), healthy: false, about: 'linear 20%/1m, bake 1m, worse-than-stable only, canary 5% against stable 1%' },
};

const options = parseOptions(process.argv.slice(2), { runs: 300, rps: '13.3,50,200', scenario: Object.keys(SCENARIOS).join(','), seed: 1, list: false });
if (options.list) {
  for (const [name, s] of Object.entries(SCENARIOS)) console.log(`${name.padEnd(16)} ${s.about}`);
  process.exit(0);
}

const rows = [];
for (const name of String(options.scenario).split(',')) {
  const scenario = SCENARIOS[name];
  if (!scenario) throw new Error(`unknown scenario "${name}" (--list shows them)`);
  const config = loadConfigFile(join(here, scenario.config));
  for (const rps of String(options.rps).split(',').map(Number)) {
    const started = performance.now();
    const tally = { promoted: 0, rolledBack: 0, byAlarm: 0, causes: {}, decidedAtMs: [] };
    for (let run = 0; run < options.runs; run++) {
      const result = await runCountSimulation({ config, rps, seed: Number(options.seed) + run, failCanary: scenario.failCanary, failStable: scenario.failStable });
      if (result.outcome === 'promoted') tally.promoted++;
      else {
        tally.rolledBack++;
        if (result.cause === 'alarm') tally.byAlarm++;
        const key = `${result.cause}${result.alarm ? `:${result.alarm}` : ''}`;
        tally.causes[key] = (tally.causes[key] ?? 0) + 1;
        tally.decidedAtMs.push(result.decidedAtMs);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const counted = scenario.healthy ? tally.rolledBack : tally.byAlarm;
    const [low, high] = clopperPearson(counted, options.runs);
    const row = {
      scenario: name,
      rps,
      runs: options.runs,
      measure: scenario.healthy ? 'false rollbacks per rollout' : 'caught by an alarm per rollout',
      count: counted,
      rate: counted / options.runs,
      ci95: [low, high],
      rolledBack: tally.rolledBack,
      causes: tally.causes,
      medianDecisionS: median(tally.decidedAtMs) / 1000,
      seconds,
    };
    rows.push(row);
    console.log(
      `${name.padEnd(16)} rps ${String(rps).padStart(5)}  ${row.measure}: ${counted}/${options.runs} = ${pct(row.rate)} (95% CI ${pct(low)}-${pct(high)})` +
        `  rolled back ${tally.rolledBack} ${JSON.stringify(tally.causes)}${tally.decidedAtMs.length ? `, median at ${row.medianDecisionS.toFixed(0)}s` : ''}  [${seconds.toFixed(1)} s]`,
    );
  }
}

const out = join(root, 'bench', 'results', `odds-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ options, rows }, null, 2)}\n`);
console.log(`results: ${out}`);

/** Exact (Clopper-Pearson) 95% interval for k successes in n trials, by bisection on the binomial tails. */
function clopperPearson(k, n) {
  const solve = (f) => {
    let lo = 0;
    let hi = 1;
    for (let i = 0; i < 60; i++) {
      const mid = (lo + hi) / 2;
      if (f(mid)) hi = mid;
      else lo = mid;
    }
    return (lo + hi) / 2;
  };
  // Lower: P(X >= k | p) = 0.025; upper: P(X <= k | p) = 0.025.
  const low = k === 0 ? 0 : solve((p) => binomialUpperTail(k, n, p) >= 0.025);
  const high = k === n ? 1 : solve((p) => 1 - binomialUpperTail(k + 1, n, p) <= 0.025);
  return [low, high];
}

function median(values) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function pct(x) {
  return `${(x * 100).toFixed(2)}%`;
}

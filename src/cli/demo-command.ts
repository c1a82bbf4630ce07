import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { parseConfigText } from '../config/load-config.js';
import { silentLogger } from '../core/logger.js';
import { startShiftproxy } from '../main.js';
import type { RolloutRecord } from '../rollout/rollout-record.js';
import { FakeBackend } from '../simulate/fake-backend.js';
import { AdminClient } from './admin-client.js';

/**
 * `shiftproxy demo`: two fake backends, the real proxy on loopback with health checks, steady
 * traffic, and a real rollout started through the admin API, printed step by step as the
 * controller moves it, with the share of requests each slot actually served.
 */
export async function demoCommand(out: NodeJS.WriteStream = process.stdout): Promise<void> {
  const blue = new FakeBackend('blue');
  const green = new FakeBackend('green');
  await Promise.all([blue.start(), green.start()]);
  const config = parseConfigText(
    [
      'listen: 127.0.0.1:0',
      'admin: { listen: 127.0.0.1:0 }',
      `state: { path: ${join(mkdtempSync(join(tmpdir(), 'shiftproxy-demo-')), 'state.json')} }`,
      'services:',
      '  - name: demo',
      '    live: blue',
      `    blue: { targets: [ { url: "${blue.url}" } ] }`,
      `    green: { targets: [ { url: "${green.url}" } ] }`,
      '    healthCheck: { path: /healthz, interval: 1s, timeout: 500ms }',
      '    rollout:',
      '      strategy: steps',
      '      steps: [ { weight: 10, pause: 2s }, { weight: 25, pause: 2s }, { weight: 50, pause: 2s }, { weight: 100 } ]',
      '      bakeTime: 2s',
    ].join('\n'),
    { env: {} },
  );
  const running = await startShiftproxy(config, { logger: silentLogger(), processMetrics: false });
  const proxyUrl = `http://127.0.0.1:${running.proxyAddresses[0]?.port}`;
  const adminUrl = `http://127.0.0.1:${running.adminAddress.port}`;
  out.write(
    `shiftproxy demo: a real rollout on loopback\n` +
      `  blue (live)  ${blue.url}\n  green (new)  ${green.url}\n  proxy        ${proxyUrl}\n  admin        ${adminUrl}/api/v1/services   metrics ${adminUrl}/metrics\n\n`,
  );

  const client = new Pool(proxyUrl, { connections: 4 });
  const seen = { blue: 0, green: 0, failed: 0 };
  let stop = false;
  const worker = async () => {
    while (!stop) {
      try {
        const { headers, body } = await client.request({ path: '/', method: 'GET' });
        await body.dump();
        const slot = headers['x-served-by'];
        if (slot === 'blue' || slot === 'green') seen[slot] += 1;
      } catch {
        seen.failed += 1;
      }
      await new Promise((resolve) => setTimeout(resolve, 4));
    }
  };
  const workers = Array.from({ length: 4 }, worker);

  // Each printed line describes one phase once it is over: the weight that was set and what the traffic actually did.
  let phase = { label: 'before', weight: 0, startedAt: performance.now() };
  const endPhase = () => {
    out.write(`${phaseLine(phase.label, phase.weight, performance.now() - phase.startedAt, seen)}\n`);
    seen.blue = 0;
    seen.green = 0;
  };
  const finished = new Promise<RolloutRecord>((resolve) => {
    running.controller.onTransition((_service, previous, current) => {
      if (previous?.state === current.state && previous.canaryWeight === current.canaryWeight) return;
      endPhase();
      const step = current.stepIndex >= 0 ? ` ${current.stepIndex + 1}/${current.plan.steps.length}` : '';
      phase = { label: `${current.state}${current.state === 'progressing' ? step : ''}`, weight: weightServed(current), startedAt: performance.now() };
      if (current.state === 'promoted' || current.state === 'rolled_back') resolve(current);
    });
  });

  try {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await new AdminClient(adminUrl, undefined).post('/api/v1/services/demo/rollout', {});
    const outcome = await finished;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    endPhase();
    out.write(
      `\n${outcome.state === 'promoted' ? 'promoted: green is live' : 'rolled back: blue kept all traffic'}; ` +
        `${seen.failed === 0 ? 'no request failed along the way' : `${seen.failed} requests failed`}.\n`,
    );
  } finally {
    stop = true;
    await Promise.allSettled(workers);
    await client.close();
    await running.stop(1000);
    await Promise.all([blue.stop(), green.stop()]);
  }
}

/** The share of traffic green gets in this state (after promotion green is live: 100%). */
function weightServed(rollout: RolloutRecord): number {
  if (rollout.state === 'promoted') return 100;
  if (rollout.state === 'rolled_back' || rollout.state === 'pending') return 0;
  return rollout.canaryWeight;
}

function phaseLine(label: string, weight: number, ms: number, seen: { blue: number; green: number }): string {
  const total = seen.blue + seen.green;
  const greenShare = total === 0 ? 0 : seen.green / total;
  const width = 24;
  const greenCells = Math.round(greenShare * width);
  const bar = `${'\u2588'.repeat(width - greenCells)}${'\u2591'.repeat(greenCells)}`;
  return (
    `  ${label.padEnd(15)} green ${String(weight).padStart(3)}% for ${(ms / 1000).toFixed(1)}s  ${bar}  ` +
    `blue ${String(seen.blue).padStart(4)}  green ${String(seen.green).padStart(4)}  (${(greenShare * 100).toFixed(1)}% green)`
  );
}

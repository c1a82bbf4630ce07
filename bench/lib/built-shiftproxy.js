// The built product (dist/) as the benchmarks' server scripts run it: the bench config parsed as
// `shiftproxy run` would, started without logs or process metrics (neither is under test), stopped
// cleanly on SIGTERM, and ready announced as one JSON line on stdout for startJsonProcess.
import { parseConfigText } from '../../dist/config/load-config.js';
import { silentLogger } from '../../dist/core/logger.js';
import { startShiftproxy } from '../../dist/main.js';
import { benchConfigText } from './bench-config-text.js';

export function benchConfig(textOptions) {
  return parseConfigText(benchConfigText(textOptions), { env: {} });
}

export async function startBuiltShiftproxy(config, options = {}) {
  const running = await startShiftproxy(config, { logger: silentLogger(), processMetrics: false, ...options });
  process.on('SIGTERM', () => running.stop(0).then(() => process.exit(0)));
  return running;
}

export function announceReady(info) {
  process.stdout.write(`${JSON.stringify(info)}\n`);
}

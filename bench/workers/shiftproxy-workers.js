// shiftproxy itself with `workers` processes (the primary hands each connection to a worker).
// Prints `{"port":n,"pids":[...]}` once listening: the primary and its workers, whose CPU counts.
import { silentLogger } from '../../dist/core/logger.js';
import { startShiftproxy } from '../../dist/main.js';
import { benchConfig } from './data-plane-config.js';

const [bluePort, greenPort, canaryPercent, workers] = process.argv.slice(2).map(Number);
const running = await startShiftproxy(benchConfig(bluePort, greenPort, 0), { logger: silentLogger(), processMetrics: false, workers });
await running.routing.setRouting('bench', { live: 'blue', canaryWeight: canaryPercent });
const pids = [process.pid, ...(running.workers?.list().map((w) => w.pid) ?? [])];
process.stdout.write(`${JSON.stringify({ port: running.proxyAddresses[0].port, pids })}\n`);
process.on('SIGTERM', () => running.stop(0).then(() => process.exit(0)));

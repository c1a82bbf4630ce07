// shiftproxy itself with `workers` processes (the primary hands each connection to a worker).
// Prints `{"port":n,"pids":[...]}` once listening: the primary and its workers, whose CPU counts.
import { announceReady, startBuiltShiftproxy } from '../lib/built-shiftproxy.js';
import { benchConfig } from './data-plane-config.js';

const [bluePort, greenPort, canaryPercent, workers] = process.argv.slice(2).map(Number);
const running = await startBuiltShiftproxy(benchConfig(bluePort, greenPort, 0), { workers });
await running.routing.setRouting('bench', { live: 'blue', canaryWeight: canaryPercent });
const pids = [process.pid, ...(running.workers?.list().map((w) => w.pid) ?? [])];
announceReady({ port: running.proxyAddresses[0].port, pids });

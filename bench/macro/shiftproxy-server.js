// shiftproxy as benchmarked: the built product (dist/), started from a config like a user's,
// with the canary weight set to the split under test. Prints `{"port":n}` once listening.
import { announceReady, benchConfig, startBuiltShiftproxy } from '../lib/built-shiftproxy.js';

const [bluePort, greenPort, canaryPercent] = process.argv.slice(2).map(Number);
const running = await startBuiltShiftproxy(benchConfig({ bluePort, greenPort }));
running.dataPlane.setCanaryWeight('bench', canaryPercent);
announceReady({ port: running.proxyAddresses[0].port });

// shiftproxy as benchmarked: the built product (dist/), started from a config like a user's,
// with the canary weight set to the split under test. Prints `{"port":n}` once listening.
import { parseConfigText } from '../../dist/config/load-config.js';
import { silentLogger } from '../../dist/core/logger.js';
import { startShiftproxy } from '../../dist/main.js';

const [bluePort, greenPort, canaryPercent] = process.argv.slice(2).map(Number);
const config = parseConfigText(
  [
    'listen: 127.0.0.1:0',
    'admin: { listen: 127.0.0.1:0 }',
    'server: { keepAliveTimeout: 60s }',
    'services:',
    '  - name: bench',
    `    blue: { targets: [ { url: "http://127.0.0.1:${bluePort}" } ] }`,
    `    green: { targets: [ { url: "http://127.0.0.1:${greenPort}" } ] }`,
  ].join('\n'),
  { env: {} },
);
const running = await startShiftproxy(config, { logger: silentLogger(), processMetrics: false });
running.dataPlane.setCanaryWeight('bench', canaryPercent);
process.stdout.write(`${JSON.stringify({ port: running.proxyAddresses[0].port })}\n`);
process.on('SIGTERM', () => running.stop(0).then(() => process.exit(0)));

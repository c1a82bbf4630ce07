// shiftproxy as benchmarked over TLS: the built product (dist/) with one TLS listener offering
// h2 and http/1.1, in front of the two benchmark upstreams. Prints `{"port":n}` once listening.
import { parseConfigText } from '../../dist/config/load-config.js';
import { silentLogger } from '../../dist/core/logger.js';
import { startShiftproxy } from '../../dist/main.js';

const [bluePort, greenPort, canaryPercent, cert, key] = process.argv.slice(2);
const config = parseConfigText(
  [
    'listeners:',
    `  - { address: 127.0.0.1:0, tls: { certs: [ { cert: "${cert}", key: "${key}" } ] } }`,
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
running.dataPlane.setCanaryWeight('bench', Number(canaryPercent));
process.stdout.write(`${JSON.stringify({ port: running.proxyAddresses[0].port })}\n`);
process.on('SIGTERM', () => running.stop(0).then(() => process.exit(0)));

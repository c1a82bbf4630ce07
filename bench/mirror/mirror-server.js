// shiftproxy for the mirror benchmark: the built product, blue live at weight 0, copying
// `mirror` percent of its requests to green. Prints `{"port":n,"adminPort":n}` once listening.
import { parseConfigText } from '../../dist/config/load-config.js';
import { silentLogger } from '../../dist/core/logger.js';
import { startShiftproxy } from '../../dist/main.js';

const [bluePort, greenPort, mirror] = process.argv.slice(2).map(Number);
const config = parseConfigText(
  [
    'listen: 127.0.0.1:0',
    'admin: { listen: 127.0.0.1:0 }',
    'server: { keepAliveTimeout: 60s }',
    'services:',
    '  - name: bench',
    `    blue: { targets: [ { url: "http://127.0.0.1:${bluePort}" } ] }`,
    `    green: { targets: [ { url: "http://127.0.0.1:${greenPort}" } ] }`,
    ...(mirror > 0 ? [`    mirror: { percent: ${mirror} }`] : []),
  ].join('\n'),
  { env: {} },
);
const running = await startShiftproxy(config, { logger: silentLogger(), processMetrics: false });
process.stdout.write(`${JSON.stringify({ port: running.proxyAddresses[0].port, adminPort: running.adminAddress.port })}\n`);
process.on('SIGTERM', () => running.stop(0).then(() => process.exit(0)));

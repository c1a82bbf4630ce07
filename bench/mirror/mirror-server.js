// shiftproxy for the mirror benchmark: the built product, blue live at weight 0, copying
// `mirror` percent of its requests to green. Prints `{"port":n,"adminPort":n}` once listening.
import { announceReady, benchConfig, startBuiltShiftproxy } from '../lib/built-shiftproxy.js';

const [bluePort, greenPort, mirror] = process.argv.slice(2).map(Number);
const running = await startBuiltShiftproxy(benchConfig({ bluePort, greenPort, service: mirror > 0 ? [`mirror: { percent: ${mirror} }`] : [] }));
announceReady({ port: running.proxyAddresses[0].port, adminPort: running.adminAddress.port });

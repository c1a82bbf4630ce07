// shiftproxy as benchmarked over TLS: the built product (dist/) with one TLS listener offering
// h2 and http/1.1, in front of the two benchmark upstreams. Prints `{"port":n}` once listening.
import { announceReady, benchConfig, startBuiltShiftproxy } from '../lib/built-shiftproxy.js';

const [bluePort, greenPort, canaryPercent, cert, key] = process.argv.slice(2);
const head = ['listeners:', `  - { address: 127.0.0.1:0, tls: { certs: [ { cert: "${cert}", key: "${key}" } ] } }`, 'admin: { listen: 127.0.0.1:0 }'];
const running = await startBuiltShiftproxy(benchConfig({ bluePort, greenPort, head }));
running.dataPlane.setCanaryWeight('bench', Number(canaryPercent));
announceReady({ port: running.proxyAddresses[0].port });

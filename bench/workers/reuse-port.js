// The alternative not taken: `workers` processes that each listen on the same port with
// SO_REUSEPORT (Node >= 22.12 `reusePort`), so the kernel spreads connections and no primary
// is involved. Each runs the same data plane as a shiftproxy worker, with static routing.
// Prints `{"port":n,"pids":[...]}` once every process listens.
import { fork } from 'node:child_process';
import { createServer } from 'node:net';
import { DataPlane } from '../../dist/proxy/data-plane.js';
import { benchConfig } from './data-plane-config.js';

const [bluePort, greenPort, canaryPercent, workers, port] = process.argv.slice(2).map(Number);
if (port === undefined) {
  const probe = createServer();
  const free = await new Promise((resolve) => probe.listen(0, '127.0.0.1', () => resolve(probe.address().port)));
  await new Promise((resolve) => probe.close(resolve));
  const children = Array.from({ length: workers }, () => fork(new URL(import.meta.url).pathname, [bluePort, greenPort, canaryPercent, workers, free].map(String)));
  await Promise.all(children.map((c) => new Promise((resolve) => c.once('message', resolve))));
  process.stdout.write(`${JSON.stringify({ port: free, pids: children.map((c) => c.pid) })}\n`);
  process.on('SIGTERM', () => {
    for (const c of children) c.kill('SIGKILL');
    process.exit(0);
  });
} else {
  // The data plane listens with its own options; reusePort is added to them here, for this bench only.
  const { Server } = await import('node:net');
  const listen = Server.prototype.listen;
  Server.prototype.listen = function (options, ...rest) {
    return listen.call(this, typeof options === 'object' ? { ...options, reusePort: true } : options, ...rest);
  };
  const dataPlane = new DataPlane(benchConfig(bluePort, greenPort, port));
  dataPlane.setCanaryWeight('bench', canaryPercent);
  await dataPlane.listen();
  process.send({ listening: true });
}

// The other alternative: node:cluster's round-robin scheduler (the primary accepts and passes
// each connection to a worker, as shiftproxy does, but through the process-wide cluster module).
// Each worker runs the same data plane, with static routing. Prints `{"port":n,"pids":[...]}`.
import cluster from 'node:cluster';
import { createServer } from 'node:net';
import { DataPlane } from '../../dist/proxy/data-plane.js';
import { benchConfig } from './data-plane-config.js';

const [bluePort, greenPort, canaryPercent, workers] = process.argv.slice(2).map(Number);
cluster.schedulingPolicy = cluster.SCHED_RR;
if (cluster.isPrimary) {
  const probe = createServer();
  const port = await new Promise((resolve) => probe.listen(0, '127.0.0.1', () => resolve(probe.address().port)));
  await new Promise((resolve) => probe.close(resolve));
  const forked = Array.from({ length: workers }, () => cluster.fork({ BENCH_PORT: String(port) }));
  await Promise.all(forked.map((w) => new Promise((resolve) => w.once('listening', resolve))));
  process.stdout.write(`${JSON.stringify({ port, pids: [process.pid, ...forked.map((w) => w.process.pid)] })}\n`);
  process.on('SIGTERM', () => {
    for (const w of forked) w.process.kill('SIGKILL');
    process.exit(0);
  });
} else {
  const dataPlane = new DataPlane(benchConfig(bluePort, greenPort, Number(process.env.BENCH_PORT)));
  dataPlane.setCanaryWeight('bench', canaryPercent);
  await dataPlane.listen();
}

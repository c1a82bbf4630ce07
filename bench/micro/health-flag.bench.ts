import { afterAll, test } from 'vitest';
import { parseConfigText } from '../../src/config/load-config.js';
import { VirtualClock } from '../../src/core/clock.js';
import { HealthFlag } from '../../src/core/health-flags.js';
import { silentLogger } from '../../src/core/logger.js';
import type { HealthProbe } from '../../src/health/http-probe.js';
import { HealthRegistry } from '../../src/health/health-registry.js';
import { DataPlane } from '../../src/proxy/data-plane.js';
import type { Target } from '../../src/proxy/target.js';

// What health costs the hot path: the picker reads `target.flags` and nothing else; the health
// subsystem never runs per request. Compare the pick over a service with no health config, over
// a service with active checks and outlier detection running (all healthy), and a plain
// rotation that ignores flags altogether. Each iteration runs BATCH operations, so ns per
// operation = mean (ms) / BATCH * 1e6.
const BATCH = 1000;
const config = parseConfigText(
  `
listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
services:
  - name: plain
    match: { host: plain.example.com }
    blue: { targets: [ { url: "http://127.0.0.1:9001" }, { url: "http://127.0.0.1:9002" }, { url: "http://127.0.0.1:9003" } ] }
    green: { targets: [ { url: "http://127.0.0.1:9004" } ] }
  - name: checked
    match: { host: checked.example.com }
    healthCheck: { path: /healthz, interval: 5s, timeout: 2s }
    outlierDetection: { consecutiveErrors: 5, ejectionTime: 30s, maxEjectionPercent: 50 }
    blue: { targets: [ { url: "http://127.0.0.1:9011" }, { url: "http://127.0.0.1:9012" }, { url: "http://127.0.0.1:9013" } ] }
    green: { targets: [ { url: "http://127.0.0.1:9014" } ] }
  - name: degraded
    healthCheck: { path: /healthz, interval: 5s, timeout: 2s }
    outlierDetection: { consecutiveErrors: 5, ejectionTime: 30s, maxEjectionPercent: 50 }
    blue: { targets: [ { url: "http://127.0.0.1:9021" }, { url: "http://127.0.0.1:9022" }, { url: "http://127.0.0.1:9023" } ] }
    green: { targets: [ { url: "http://127.0.0.1:9024" } ] }
`,
  { env: {} },
);

const dataPlane = new DataPlane(config);
// A real registry whose probes always pass without touching the network.
const passing: HealthProbe = {
  run: async () => ({ healthy: true, status: 200, error: null, durationMs: 0 }),
  abort: () => undefined,
  close: async () => undefined,
};
const health = new HealthRegistry(dataPlane, { clock: new VirtualClock(), logger: silentLogger(), probeFactory: () => passing });
await health.start();
const degradedTarget = dataPlane.runtime('degraded').slot('blue').targets[1] as Target;
for (let i = 0; i < 5; i++) degradedTarget.recordFailure();
if ((degradedTarget.flags & HealthFlag.OUTLIER_EJECTED) === 0) throw new Error('bench setup: target was not ejected');

const plain = dataPlane.snapshot.get('plain')!;
const checked = dataPlane.snapshot.get('checked')!;
const degraded = dataPlane.snapshot.get('degraded')!;
const plainTargets = plain.stable.targets;
let rotation = 0;
const plainTarget = plainTargets[0] as Target;
const checkedTarget = checked.stable.targets[0] as Target;

afterAll(async () => {
  await health.stop();
  await dataPlane.close();
});

test('target pick with and without health', async ({ bench }) => {
  await bench.compare(
    bench(`${BATCH}x pick, service without health config`, () => {
      for (let i = 0; i < BATCH; i++) plain.stable.pick();
    }),
    bench(`${BATCH}x pick, service with active checks and outlier detection, all healthy`, () => {
      for (let i = 0; i < BATCH; i++) checked.stable.pick();
    }),
    bench(`${BATCH}x pick, one of three targets ejected (skipped by its flag)`, () => {
      for (let i = 0; i < BATCH; i++) degraded.stable.pick();
    }),
    bench(`${BATCH}x rotation that ignores health (floor: no flag read at all)`, () => {
      for (let i = 0; i < BATCH; i++) {
        const t = plainTargets[rotation] as Target;
        rotation = rotation + 1 === plainTargets.length ? 0 : rotation + 1;
        if (t === undefined) throw new Error('unreachable');
      }
    }),
  );
});

test('reporting an outcome (what the hot path calls after each response)', async ({ bench }) => {
  await bench.compare(
    bench(`${BATCH}x recordSuccess, no outlier detection`, () => {
      for (let i = 0; i < BATCH; i++) plainTarget.recordSuccess();
    }),
    bench(`${BATCH}x recordSuccess, outlier detection installed`, () => {
      for (let i = 0; i < BATCH; i++) checkedTarget.recordSuccess();
    }),
  );
});

import type { IncomingMessage } from 'node:http';
import { afterAll, test } from 'vitest';
import { parseConfigText } from '../../src/config/load-config.js';
import { DataPlane } from '../../src/proxy/data-plane.js';
import { RequestHeaderScan } from '../../src/proxy/request-headers.js';
import { adoptAbsoluteForm } from '../../src/proxy/request-target.js';
import { forwardableResponseHeaders } from '../../src/proxy/response-headers.js';
import { SlotSplit } from '../../src/proxy/slot-split.js';
import { chooseTarget } from '../../src/proxy/target-choice.js';

// The per-request decisions of the hot path, each measured alone: route match, slot split,
// target pick, and the header passes. Each iteration runs the operation BATCH times so the
// harness's own per-call cost (tens of ns) does not swamp it: ns per operation = mean / BATCH
// (the "mean" column is in ms, so 0.05 ms per batch is 50 ns per operation). Target: under
// 100 ns per route match and per pick.
const BATCH = 1000;
const config = parseConfigText(
  `
listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
services:
  - name: api
    match: { host: api.example.com, pathPrefix: /v1 }
    blue: { targets: [ { url: "http://127.0.0.1:9001" }, { url: "http://127.0.0.1:9002" } ] }
    green: { targets: [ { url: "http://127.0.0.1:9003" } ] }
  - name: shop
    match: { host: shop.example.com }
    balance: least-request
    blue: { targets: [ { url: "http://127.0.0.1:9011", weight: 3 }, { url: "http://127.0.0.1:9012" } ] }
    green: { targets: [ { url: "http://127.0.0.1:9013" } ] }
  - name: web
    blue: { targets: [ { url: "http://127.0.0.1:9021" }, { url: "http://127.0.0.1:9022", weight: 2 } ] }
    green: { targets: [ { url: "http://127.0.0.1:9023" } ] }
  - name: ruled
    match: { host: ruled.example.com }
    routes:
      - { name: beta, match: { header: { name: x-beta, value: "1" } }, to: canary }
      - { match: { cookie: { name: plan, value: { regex: "^enterprise" } }, method: POST, pathPrefix: /cart }, to: stable }
      - { match: { query: { name: preview, value: "yes" } }, to: green }
    blue: { targets: [ { url: "http://127.0.0.1:9031" } ] }
    green: { targets: [ { url: "http://127.0.0.1:9032" } ] }
  - name: cohort
    match: { host: cohort.example.com }
    cohort: { header: x-user-id }
    blue: { targets: [ { url: "http://127.0.0.1:9041" } ] }
    green: { targets: [ { url: "http://127.0.0.1:9042" } ] }
`,
  { env: {} },
);
const dataPlane = new DataPlane(config);
dataPlane.setCanaryWeight('api', 10);
const snapshot = dataPlane.snapshot;
const web = snapshot.get('web')!;
const shop = snapshot.get('shop')!;
const split = new SlotSplit(1000);
dataPlane.setCanaryWeight('ruled', 10);
dataPlane.setCanaryWeight('cohort', 10);
const ruled = dataPlane.snapshot.get('ruled')!;
const cohort = dataPlane.snapshot.get('cohort')!;
const plainWeb = dataPlane.snapshot.get('web')!;
afterAll(() => dataPlane.close());

const rawHeaders = [
  'Host', 'shop.example.com',
  'User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36',
  'Accept', 'text/html,application/xhtml+xml',
  'Accept-Encoding', 'gzip, deflate, br',
  'Cookie', 'session=abc123; theme=dark',
  'Connection', 'keep-alive',
];
const cohortHeaders = [...rawHeaders, 'X-User-Id', 'u-1234567'];
const scan = new RequestHeaderScan();
const upstreamHeaders = ['Content-Type', 'application/json', 'Content-Length', '100', 'Date', 'Sun, 22 Nov 2026 05:00:00 GMT', 'Connection', 'keep-alive', 'Keep-Alive', 'timeout=5'].map((s) =>
  Buffer.from(s, 'latin1'),
);

test('routing decisions', async ({ bench }) => {
  await bench.compare(
    bench(`${BATCH}x route match: third service (falls through two host rules)`, () => {
      for (let i = 0; i < BATCH; i++) snapshot.match('www.example.net', '/index.html');
    }),
    bench(`${BATCH}x route match: first service (host + path prefix)`, () => {
      for (let i = 0; i < BATCH; i++) snapshot.match('api.example.com', '/v1/orders');
    }),
    bench(`${BATCH}x slot split (smooth weighted round robin, 10% canary)`, () => {
      for (let i = 0; i < BATCH; i++) split.nextIsCanary();
    }),
    bench(`${BATCH}x target pick: weighted round robin over 2 targets`, () => {
      for (let i = 0; i < BATCH; i++) web.stable.pick();
    }),
    bench(`${BATCH}x target pick: least-request over 2 weighted targets`, () => {
      for (let i = 0; i < BATCH; i++) shop.stable.pick();
    }),
  );
});

// The slot decision as the handler makes it (chooseTarget: rules, cohort, split, then the pick).
// "no rule set" is what every service without routes pays; the rules case falls through three
// rules (header, cookie + method + prefix, query) to the split, the worst case for a request.
test('slot decision', async ({ bench }) => {
  await bench.compare(
    bench(`${BATCH}x choose target: no rule set (split + pick)`, () => {
      for (let i = 0; i < BATCH; i++) chooseTarget(plainWeb, 'GET', '/cart?item=42', rawHeaders, 'session=abc123; theme=dark', false);
    }),
    bench(`${BATCH}x choose target: 3 rules, none matching (then split + pick)`, () => {
      for (let i = 0; i < BATCH; i++) chooseTarget(ruled, 'GET', '/cart?item=42', rawHeaders, 'session=abc123; theme=dark', false);
    }),
    bench(`${BATCH}x choose target: cohort header hashed (then pick)`, () => {
      for (let i = 0; i < BATCH; i++) chooseTarget(cohort, 'GET', '/cart?item=42', cohortHeaders, undefined, false);
    }),
  );
});

test('header passes', async ({ bench }) => {
  await bench.compare(
    bench(`${BATCH}x request headers: scan 6 client headers, drop hop-by-hop, append X-Forwarded-*`, () => {
      for (let i = 0; i < BATCH; i++) {
        scan.scan(rawHeaders);
        scan.appendForwarded('10.0.0.1', 'http');
      }
    }),
    bench(`${BATCH}x response headers: filter 5 upstream headers`, () => {
      for (let i = 0; i < BATCH; i++) forwardableResponseHeaders(upstreamHeaders, false);
    }),
  );
});

// Origin-form targets (nearly every request) pay one character check; only an absolute-form
// target takes this path: parse, compare with Host, rewrite the request to origin-form.
test('request target', async ({ bench }) => {
  await bench(`${BATCH}x absolute form: parse, check Host, rewrite to origin-form`, () => {
    for (let i = 0; i < BATCH; i++) {
      adoptAbsoluteForm({ url: 'http://shop.example.com/cart?item=42', rawHeaders, httpVersionMinor: 1 } as IncomingMessage);
    }
  }).run();
});

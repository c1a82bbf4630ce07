import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBackend } from '../../src/simulate/fake-backend.js';
import { CHROMIUM, chromiumMissing, launchChromium, type Browser } from '../helpers/chromium.js';
import { get } from '../helpers/http-client.js';
import { startProxy, type ProxyUnderTest } from '../helpers/proxy-harness.js';
import { openSse } from '../helpers/sse-client.js';
import { WAIT_MS } from '../helpers/wait-for.js';

/**
 * The dashboard in a real browser: Debian's Chromium (installed by .ci/run), driven by
 * playwright-core, against a real shiftproxy with real backends and real traffic. A person's
 * path: open the page, give the token, start a rollout, watch the weight move, abort, see it
 * rolled back. Screenshots of each stage are written to test-output/dashboard/ (the test prints
 * the folder).
 */

const missing = chromiumMissing;
if (missing) console.warn(`test/e2e/dashboard.test.ts skipped: ${CHROMIUM} is not installed (apt-get install -y chromium)`);

const TOKEN = 'e2e-dashboard-token-51c3';
const VIEWER_TOKEN = 'e2e-dashboard-viewer-7d20aa';
const SHOTS = resolve(__dirname, '../../test-output/dashboard');

/** Real traffic at roughly `rps` until stopped. */
function load(url: string, rps: number): () => Promise<void> {
  const pool = new Pool(url, { connections: 4 });
  let running = true;
  const workers = Array.from({ length: 4 }, async () => {
    while (running) {
      try {
        await (await pool.request({ path: '/', method: 'GET' })).body.dump();
      } catch {
        // The page shows what the proxy counted; a failed request here changes nothing.
      }
      await new Promise((r) => setTimeout(r, 4000 / rps));
    }
  });
  return async () => {
    running = false;
    await Promise.all(workers);
    await pool.close();
  };
}

describe.skipIf(missing)('the dashboard in Chromium', () => {
  let blue: FakeBackend;
  let green: FakeBackend;
  /** A blue target that passes its health checks and answers every request with 500. */
  let failing: FakeBackend;
  let proxy: ProxyUnderTest;
  let stopLoad: () => Promise<void>;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const requested: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    blue = new FakeBackend('blue');
    green = new FakeBackend('green');
    failing = new FakeBackend('blue-failing');
    failing.faults.errorRate = 1;
    await Promise.all([blue.start(), green.start(), failing.start()]);
    green.faults.latencyMs = 5;
    proxy = await startProxy({
      admin: { listen: '127.0.0.1:0', token: TOKEN, tokens: [{ name: 'vera', token: VIEWER_TOKEN, role: 'viewer' }] },
      services: [
        {
          name: 'web',
          blue: [blue.url, failing.url],
          green: [green.url],
          // A probe on a busy machine may be slow; three slow ones must not take green down mid-test.
          healthCheck: { path: '/healthz', interval: '1s', timeout: '5s' },
          rollout: {
            // Twenty steps: 5% more every second up to 50%, a long hold at 55% (so the rollout
            // is still progressing when the test aborts it, however slowly the page is driven),
            // then the rest.
            strategy: 'steps',
            steps: [
              ...Array.from({ length: 10 }, (_, i) => ({ weight: 5 * (i + 1), pause: '1s' })),
              { weight: 55, pause: '10m' },
              ...Array.from({ length: 8 }, (_, i) => ({ weight: 60 + 5 * i, pause: '1s' })),
              { weight: 100 },
            ],
            analysis: {
              interval: '1s',
              failureLimit: 3,
              inconclusiveLimit: 100,
              alarms: [{ name: 'canary-errors', metric: 'error_rate', window: '5s', max: 0.5, minRequests: 1 }],
            },
          },
        },
      ],
    });
    stopLoad = load(proxy.url, 60);
    mkdirSync(SHOTS, { recursive: true });
    console.log(`dashboard screenshots: ${SHOTS}`);
    browser = await launchChromium();
    context = browser.context;
    context.on('request', (request) => void requested.push(request.url()));
    page = await context.newPage();
    page.on('pageerror', (err) => void pageErrors.push(err.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
  });

  afterAll(async () => {
    await browser?.close();
    await stopLoad?.();
    await proxy?.stop();
    await Promise.all([blue?.stop(), green?.stop(), failing?.stop()]);
  });

  const field = (name: string) => page.locator(`[data-service="web"] [data-field="${name}"]`);

  /** Polls the page until `read` gives a value `accept` likes; returns that value. `timeoutMs` only fails a wait that never ends. */
  /** How many samples of service web the dashboard feed would send a page opening now. */
  async function serverHistoryPoints(): Promise<number> {
    const stream = await openSse(`${proxy.adminUrl}/api/v1/events`, { authorization: `Bearer ${TOKEN}` });
    try {
      const history = JSON.parse((await stream.next('history')).data) as { services: { name: string; at: number[] }[] };
      return history.services.find((service) => service.name === 'web')?.at.length ?? 0;
    } finally {
      stream.close();
    }
  }

  async function waitFor<T>(read: () => Promise<T>, accept: (value: T) => boolean, what: string, timeoutMs = WAIT_MS): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    let last: T | undefined;
    while (performance.now() < deadline) {
      last = await read();
      if (accept(last)) return last;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${what}: still ${JSON.stringify(last)} after ${timeoutMs} ms`);
  }

  const text = (locator: ReturnType<Page['locator']>) => async () => ((await locator.textContent()) ?? '').trim();
  const shoot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const percent = (value: string) => Number(/([\d.]+) %/.exec(value)?.[1] ?? Number.NaN);

  it('asks for the token, shows a wrong one refused, then goes live with the right one', async () => {
    await page.goto(`${proxy.adminUrl}/`);
    const banner = page.locator('#banner');
    await waitFor(text(banner), (t) => t.length > 0, 'the banner');
    expect(await text(banner)()).toBe('401: missing bearer token (Authorization: Bearer <token>) — enter the admin token above.');

    await page.fill('#token', 'not-the-token');
    await page.press('#token', 'Enter');
    await waitFor(text(banner), (t) => t.startsWith('401: invalid token'), 'the banner after a wrong token');
    expect(await text(page.locator('#conn'))()).toBe('401 invalid token');

    await page.fill('#token', TOKEN);
    await page.click('#token-form button[type=submit]');
    await waitFor(text(page.locator('#conn')), (t) => t === 'live', 'the connection state');
    expect(await banner.isHidden()).toBe(true);
    expect(await page.evaluate('sessionStorage.getItem("shiftproxy.adminToken")')).toBe(TOKEN);
    await waitFor(text(field('state')), (t) => t === 'idle', 'the state badge');
    expect(await text(field('live'))()).toBe('live: blue');
    expect(await text(field('weight-blue'))()).toBe('blue (live) 100 %');
    await waitFor(text(page.locator('#who')), (t) => t.length > 0, 'who is signed in');
    expect(await text(page.locator('#who'))()).toBe('signed in as admin (operator)');
  });

  it("a viewer's page says who is signed in and offers no buttons", async () => {
    await page.fill('#token', VIEWER_TOKEN);
    await page.press('#token', 'Enter');
    await waitFor(text(page.locator('#who')), (t) => t === 'signed in as vera (viewer)', 'who is signed in');
    expect(await page.locator('[data-service="web"] .actions').isHidden()).toBe(true);
    await shoot('viewer');
    await page.fill('#token', TOKEN);
    await page.press('#token', 'Enter');
    await waitFor(text(page.locator('#who')), (t) => t === 'signed in as admin (operator)', 'the operator again');
    expect(await page.locator('[data-service="web"] button[data-command="start"]').isVisible()).toBe(true);
  });

  it('starts a rollout from the page on a confirmed click and shows the weight moving step by step', async () => {
    const start = page.locator('[data-service="web"] button[data-command="start"]');
    await start.click();
    expect(await start.textContent()).toBe('Confirm start rollout');
    expect(await text(field('state'))()).toBe('idle');
    await shoot('confirm-start');
    await start.click();
    await waitFor(text(field('state')), (t) => t === 'progressing', 'the state badge');
    const first = percent(await waitFor(text(field('weight-green')), (t) => percent(t) > 0, 'the green weight'));
    const later = percent(await waitFor(text(field('weight-green')), (t) => percent(t) >= first + 10, 'the green weight moving'));
    expect(later).toBeGreaterThan(first);
    expect(await text(field('step'))()).toMatch(/^\d+ \/ 20$/);
    expect(await text(field('next-step'))()).toMatch(/^in \d/);
    expect(await text(field('canary-weight'))()).toMatch(/^\d+ % → green$/);
    // Promote says what it does here, as the API's promote does it: the steps go, the bake stays.
    expect(await page.locator('[data-service="web"] button[data-command="promote"]').getAttribute('title')).toBe(
      'Skip the remaining steps: 100% now, then the bake with the alarms still watched',
    );
    // Analysis checks are listed with their values and verdicts.
    await waitFor(async () => page.locator('[data-service="web"] .verdict').count(), (n) => n > 0, 'an analysis check in the history');
    expect(await page.locator('[data-service="web"] .checks li').first().textContent()).toMatch(/canary-errors = /);
    // Both slots drew real traffic, so every chart has data.
    await waitFor(async () => page.locator('[data-service="web"] .chart .now .v-green').nth(1).textContent(), (t) => /req\/s$/.test(t ?? '') && t !== '0 req/s', 'green request rate');
    // The alarm's bound is drawn on its chart and named above it.
    expect(await text(field('threshold-errorRate'))()).toBe('canary-errors max 50 % (canary)');
    expect(await text(field('threshold-p99Ms'))()).toBe('');
    // Per-target rates: the target answering only 500s stands out beside its healthy neighbour, though its probe passes.
    const rate = (url: string) => page.locator(`[data-service="web"] [data-target-rate="${url}"]`);
    await waitFor(text(rate(failing.url)), (t) => /req\/s · 100 % errors$/.test(t), 'the failing target\'s rate');
    expect(await rate(failing.url).getAttribute('class')).toBe('rate failing');
    await waitFor(text(rate(blue.url)), (t) => /req\/s · 0 % errors$/.test(t), 'the good target\'s rate');
    expect(await rate(blue.url).getAttribute('class')).toBe('rate');
    // Analysis checks have their own pane; the decision history keeps the steps.
    expect(await page.locator('[data-service="web"] [data-field="checks-history"] .verdict').count()).toBeGreaterThan(0);
    expect(await page.locator('[data-service="web"] .history .ev-step').count()).toBeGreaterThan(0);
    await shoot('mid-rollout');
    // A page opened now starts with the last minutes drawn from the server's rings, not empty
    // charts. How many seconds the rings hold depends on how fast the machine got here, so the
    // page is opened once they hold more than 10 (as the feed's own history event says).
    await waitFor(serverHistoryPoints, (n) => n > 10, 'the rings to hold more than 10 seconds');
    const late = await context.newPage();
    late.on('pageerror', (err) => void pageErrors.push(err.message));
    await late.goto(`${proxy.adminUrl}/`);
    await late.fill('#token', TOKEN);
    await late.press('#token', 'Enter');
    const card = late.locator('[data-service="web"]');
    await waitFor(async () => card.getAttribute('data-seeded-points'), (n) => n !== null, 'the charts to be seeded');
    expect(Number(await card.getAttribute('data-seeded-points'))).toBeGreaterThan(10);
    await late.screenshot({ path: join(SHOTS, 'opened-mid-rollout.png'), fullPage: true });
    await late.close();
  });

  it('aborts on a confirmed click, shows rolled back, and the API agrees', async () => {
    const abort = page.locator('[data-service="web"] button[data-command="abort"]');
    await abort.click();
    expect(await abort.textContent()).toBe('Confirm abort');
    // Readable while the pointer that armed it still hovers: white on the solid red, not on the hover grey.
    expect(await page.evaluate('(() => { const s = getComputedStyle(document.querySelector(\'[data-service="web"] button[data-command="abort"]\')); return [s.color, s.backgroundColor]; })()')).toEqual(['rgb(255, 255, 255)', 'rgb(185, 28, 28)']);
    await shoot('confirm-abort');
    expect(await text(field('state'))()).toBe('progressing');
    await abort.click();
    await waitFor(text(field('state')), (t) => t === 'rolled back', 'the state badge after abort');
    await waitFor(text(field('weight-green')), (t) => t === 'green 0 %', 'the green weight after abort');
    expect(await text(field('reason'))()).toBe('aborted by admin');
    // The rollout event can beat the POST's own answer to the page; the message follows the answer.
    await waitFor(text(field('action-message')), (t) => t === 'Abort: the rollout is rolled back', 'the action message');
    expect(await page.locator('[data-service="web"] button[data-command="start"]').isEnabled()).toBe(true);
    expect(await abort.isDisabled()).toBe(true);

    const api = await get(`${proxy.adminUrl}/api/v1/services/web/rollout`, { authorization: `Bearer ${TOKEN}` });
    expect(JSON.parse(api.body)).toMatchObject({ state: 'rolled_back', canaryWeight: 0, reason: 'aborted by admin' });
    expect(proxy.running.dataPlane.routing('web')).toEqual({ live: 'blue', canaryWeight: 0 });
    // The finished rollout joins the past rollouts, with who started it and who aborted it.
    const past = page.locator('[data-service="web"] [data-field="past"] tr');
    await waitFor(async () => past.count(), (n) => n === 1, 'the past rollouts');
    const cells = await past.first().locator('td').allTextContents();
    expect([cells[1], cells[3], cells[4], cells[5]]).toEqual(['rolled back', 'admin', '–', 'aborted by admin']);
    await shoot('rolled-back');
  });

  it("shows the API's error when a command is refused", async () => {
    await page.fill('#token', 'not-the-token');
    await page.press('#token', 'Enter');
    await page.click('[data-service="web"] button[data-command="start"]');
    await page.click('[data-service="web"] button[data-command="start"]');
    await waitFor(text(field('action-message')), (t) => t.includes('refused'), 'the action message');
    expect(await text(field('action-message'))()).toBe('Start rollout refused — 401: invalid token');
    expect(JSON.parse((await get(`${proxy.adminUrl}/api/v1/services/web/rollout`, { authorization: `Bearer ${TOKEN}` })).body).state).toBe('rolled_back');
  });

  it('never reached outside the admin server, and ran without a script error', () => {
    const origin = `${proxy.adminUrl}/`;
    expect(requested.length).toBeGreaterThan(3);
    expect(requested.filter((url) => !url.startsWith(origin) && !url.startsWith('data:'))).toEqual([]);
    expect(requested.some((url) => url.includes('token='))).toBe(false);
    expect(pageErrors.filter((e) => !/status of 401/.test(e))).toEqual([]);
  });
});

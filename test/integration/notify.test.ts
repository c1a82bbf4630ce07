import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/core/clock.js';
import { captureLogger } from '../helpers/health-harness.js';
import { listenOnLoopback } from '../helpers/loopback-server.js';
import { startProxy, type ProxyUnderTest } from '../helpers/proxy-harness.js';
import { until } from '../helpers/wait-for.js';

// notify: JSON and Slack webhooks get the rollout events they subscribed to; a slow endpoint
// delays nothing; a failing one is retried with backoff a bounded number of times, then counted
// and logged (rate-limited, without its URL).

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

interface Receiver {
  url: string;
  bodies: Record<string, unknown>[];
  paths: string[];
}

/** An HTTP endpoint that records each JSON body and answers with `answer` (or holds the request forever when it returns null). */
async function receiver(answer: (req: IncomingMessage) => number | null = () => 200): Promise<Receiver> {
  const state: Receiver = { url: '', bodies: [], paths: [] };
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      state.paths.push(req.url ?? '');
      state.bodies.push(JSON.parse(text) as Record<string, unknown>);
      const status = answer(req);
      if (status === null) held.push(res);
      else res.writeHead(status).end();
    });
  });
  cleanup.push(async () => {
    for (const res of held) res.destroy();
  });
  state.url = await listenOnLoopback(server, cleanup);
  return state;
}

const TOKEN = 'notify-test-token-0123456789';

async function api(proxy: ProxyUnderTest, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(`${proxy.adminUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

describe('notify', () => {
  it('JSON and Slack targets get the events they chose; a slow target holds nothing up; a failing one is retried 3 times, then counted and logged once', async () => {
    const [json, slack, slow, broken, gate] = [await receiver(), await receiver(), await receiver(() => null), await receiver(() => 500), await receiver(() => 503)];
    const clock = new VirtualClock();
    const { logger, lines } = captureLogger();
    const proxy = await startProxy(
      {
        admin: { listen: '127.0.0.1:0', token: TOKEN, publicUrl: 'https://shiftproxy.example.com/ops/' },
        notify: [
          { name: 'audit', url: json.url, events: ['started', 'paused', 'resumed', 'promoted', 'rolled_back'] },
          { name: 'chat', url: `${slack.url}/services/T000/B000/secretpart`, format: 'slack', events: ['rolled_back', 'hook-failed'] },
          { name: 'slow', url: slow.url, events: ['started'], timeout: '1h' },
          { name: 'broken', url: `${broken.url}/hook/secretpart`, events: ['started', 'rolled_back'], attempts: 3 },
        ],
        services: [
          { name: 'shop', blue: ['http://127.0.0.1:1'], green: ['http://127.0.0.2:1'], rollout: { strategy: 'steps', steps: [{ weight: 10, pause: 'manual' }, { weight: 100 }] } },
          { name: 'gated', blue: ['http://127.0.0.1:2'], green: ['http://127.0.0.2:2'], rollout: { hooks: { beforeAllowTraffic: gate.url } } },
        ],
      },
      { clock, logger },
    );
    cleanup.push(() => proxy.stop());

    // The slow target never answers its "started"; the start is answered all the same.
    expect((await api(proxy, '/api/v1/services/shop/rollout')).status).toBe(202);
    expect((await api(proxy, '/api/v1/services/shop/rollout/abort')).status).toBe(200);
    await until(() => slow.bodies.length === 1 && json.bodies.length === 3 && slack.bodies.length === 1, 'the first deliveries');

    // JSON: the notification itself, one per subscribed event, with the state the rollout reached, who acted and the dashboard link.
    expect(json.bodies.map((b) => [b.event, b.service, b.state, b.canaryWeight, b.reason, b.by])).toEqual([
      ['started', 'shop', 'paused', 0, null, 'admin'],
      ['paused', 'shop', 'paused', 10, 'waiting at 10% for promote or resume', 'admin'],
      ['rolled_back', 'shop', 'rolled_back', 0, 'aborted by admin', 'admin'],
    ]);
    expect(json.bodies[2]).toMatchObject({ from: 'blue', to: 'green', dashboard: 'https://shiftproxy.example.com/ops/', rollout: expect.stringMatching(/^shop-/) });

    // Slack: an incoming-webhook payload, text plus blocks, with the link built from admin.publicUrl.
    const message = slack.bodies[0] as { text: string; blocks: { type: string; text?: { text: string }; elements?: { text: string }[] }[] };
    expect(slack.paths[0]).toBe('/services/T000/B000/secretpart');
    expect(message.text).toBe(':rewind: shop: rollout rolled back (rolled back, 0% to green) - aborted by admin');
    expect(message.blocks.map((b) => b.type)).toEqual(['section', 'section', 'section', 'context']);
    expect(message.blocks[2]?.text?.text).toBe('*Reason*\naborted by admin');
    expect(message.blocks[3]?.elements?.slice(0, 2).map((e) => e.text)).toEqual(['<https://shiftproxy.example.com/ops/|Open the dashboard>', 'by admin']);

    // A gate hook that fails rolls back: the chat target hears it as hook-failed.
    expect((await api(proxy, '/api/v1/services/gated/rollout')).status).toBe(202);
    await until(() => slack.bodies.length === 2, 'the hook-failed message');
    expect((slack.bodies[1] as { text: string }).text).toBe(':x: gated: rollout rolled back: a hook failed (rolled back, 0% to green) - beforeAllowTraffic hook failed: HTTP 503');

    // broken (started and rolled_back of both services): each notification is tried at once, then 1 s and 2 s later (the clock's), then given up.
    await until(() => broken.bodies.length === 4, 'the first attempt of each');
    await clock.advanceAsync(1000);
    await until(() => broken.bodies.length === 8, 'the second attempts');
    await clock.advanceAsync(2000);
    await until(() => broken.bodies.length === 12, 'the third attempts');
    await until(() => proxy.running.notifier.counts().get('broken')?.failed === 4, 'the failures counted');
    await clock.advanceAsync(60_000);
    expect(broken.bodies).toHaveLength(12);

    const metrics = await (await request(`${proxy.adminUrl}/metrics`)).body.text();
    expect(metrics).toContain('shiftproxy_notifications_total{target="broken",result="failed"} 4');
    expect(metrics).toContain('shiftproxy_notifications_total{target="audit",result="delivered"} 5');
    expect(metrics).toContain('shiftproxy_notifications_total{target="slow",result="failed"} 0');
    // One line for four failures (the rest are counted into the next), naming the target and host, never the URL's path.
    const failures = lines.filter((l) => l.msg === 'notification not delivered');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ target: 'broken', host: new URL(broken.url).host, error: 'HTTP 500 (after 3 attempts)', unloggedSincePrevious: 0 });
    expect(JSON.stringify(lines)).not.toContain('secretpart');
  });
});

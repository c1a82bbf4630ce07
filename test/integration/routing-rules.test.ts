import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeBackend } from '../../src/simulate/fake-backend.js';
import { get } from '../helpers/http-client.js';
import { startProxy, type ProxyUnderTest } from '../helpers/proxy-harness.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

async function backends(): Promise<{ blue: FakeBackend; green: FakeBackend }> {
  const blue = new FakeBackend('blue');
  const green = new FakeBackend('green');
  await Promise.all([blue.start(), green.start()]);
  cleanup.push(() => blue.stop(), () => green.stop());
  return { blue, green };
}

async function proxyFor(spec: Parameters<typeof startProxy>[0], options: Parameters<typeof startProxy>[1] = {}): Promise<ProxyUnderTest> {
  const proxy = await startProxy(spec, options);
  cleanup.push(() => proxy.stop());
  return proxy;
}

async function slotOf(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<string> {
  const response = await get(url, headers, method);
  return String(response.headers['x-served-by'] ?? `status ${response.status}`);
}

async function metric(proxy: ProxyUnderTest, pattern: RegExp): Promise<string[]> {
  await proxy.settle();
  const text = await (await request(`${proxy.adminUrl}/metrics`)).body.text();
  return text.split('\n').filter((line) => pattern.test(line));
}

const RULES = [
  { name: 'beta', match: { header: { name: 'X-Beta', value: '1' } }, to: 'canary' },
  { name: 'enterprise', match: { cookie: { name: 'plan', value: { regex: '^enterprise' } }, method: 'GET', pathPrefix: '/cart' }, to: 'stable' },
  { match: { query: { name: 'version', value: 'next step' } }, to: 'green' },
  { name: 'items', match: { path: { regex: '^/api/items/[0-9]+$' } }, to: 'blue' },
];

describe('routing rules', () => {
  it('send each matching request to its slot before the split, first match first, and count hits per rule', async () => {
    const { blue, green } = await backends();
    const proxy = await proxyFor({ services: [{ name: 'shop', blue: [blue.url], green: [green.url], routes: RULES }] });
    // At 0% every request without a rule stays on blue (live).
    expect(await slotOf(`${proxy.url}/`, { 'x-beta': '1' })).toBe('green');
    expect(await slotOf(`${proxy.url}/`, { 'X-BETA': '1' })).toBe('green');
    expect(await slotOf(`${proxy.url}/`, { 'x-beta': '2' })).toBe('blue');
    expect(await slotOf(`${proxy.url}/a?version=next+step`)).toBe('green');
    expect(await slotOf(`${proxy.url}/a?x=1&version=next%20step`)).toBe('green');
    expect(await slotOf(`${proxy.url}/a?version=next`)).toBe('blue');
    // All traffic on the canary now: rules to stable and to blue still reach blue.
    await proxy.setCanaryWeight('shop', 100);
    expect(await slotOf(`${proxy.url}/cart/1`, { cookie: 'a=b; plan=enterprise-gold' })).toBe('blue');
    expect(await slotOf(`${proxy.url}/cart/1`, { cookie: 'plan=enterprise' }, 'POST')).toBe('green');
    expect(await slotOf(`${proxy.url}/cart/1`, { cookie: 'plan=free' })).toBe('green');
    expect(await slotOf(`${proxy.url}/api/items/42`)).toBe('blue');
    expect(await slotOf(`${proxy.url}/api/items/42?full=1`)).toBe('blue');
    expect(await slotOf(`${proxy.url}/api/items/x`)).toBe('green');
    // The first matching rule decides.
    expect(await slotOf(`${proxy.url}/api/items/42`, { 'x-beta': '1' })).toBe('green');
    expect(await metric(proxy, /^shiftproxy_route_rule_requests_total/)).toEqual([
      'shiftproxy_route_rule_requests_total{service="shop",rule="beta"} 3',
      'shiftproxy_route_rule_requests_total{service="shop",rule="enterprise"} 1',
      'shiftproxy_route_rule_requests_total{service="shop",rule="2"} 2',
      'shiftproxy_route_rule_requests_total{service="shop",rule="items"} 2',
    ]);
  });

  it('to a slot whose target fails answer with that failure, never with the other version', async () => {
    const { blue } = await backends();
    const proxy = await proxyFor({ services: [{ name: 'shop', blue: [blue.url], green: ['http://127.0.0.1:1'], routes: [RULES[0]] }] });
    const response = await get(`${proxy.url}/`, { 'x-beta': '1' });
    // Port 1 refuses: the request went to green and failed there, it was not served by blue.
    expect(response.status).toBe(502);
    expect(await slotOf(`${proxy.url}/`)).toBe('blue');
  });

  it('count every worker\'s hits in the primary', async () => {
    const { blue, green } = await backends();
    const proxy = await proxyFor({ services: [{ name: 'shop', blue: [blue.url], green: [green.url], routes: [RULES[0]] }] }, { workers: 2 });
    // A fresh connection per request: the primary spreads them over both workers.
    for (let i = 0; i < 10; i++) expect(await slotOf(`${proxy.url}/`, { 'x-beta': '1', connection: 'close' })).toBe('green');
    expect(await metric(proxy, /^shiftproxy_route_rule_requests_total/)).toEqual(['shiftproxy_route_rule_requests_total{service="shop",rule="beta"} 10']);
  });
});

describe('cohorts', () => {
  const users = Array.from({ length: 200 }, (_, i) => `user-${i}`);

  async function onCanary(proxy: ProxyUnderTest, headerOrCookie: (user: string) => Record<string, string>): Promise<Set<string>> {
    const out = new Set<string>();
    for (const user of users) if ((await slotOf(`${proxy.url}/`, headerOrCookie(user))) === 'green') out.add(user);
    return out;
  }

  it('keep every user who was on the canary at 20% on it at 50%, the same on every worker, and split the rest normally', async () => {
    const { blue, green } = await backends();
    const proxy = await proxyFor({ services: [{ name: 'shop', blue: [blue.url], green: [green.url], cohort: { header: 'X-User-Id' } }] }, { workers: 2 });
    const byHeader = (user: string) => ({ 'x-user-id': user, connection: 'close' });
    await proxy.setCanaryWeight('shop', 20);
    const at20 = await onCanary(proxy, byHeader);
    // The same again: a stateless hash, whichever worker serves each request.
    expect(await onCanary(proxy, byHeader)).toEqual(at20);
    await proxy.setCanaryWeight('shop', 50);
    const at50 = await onCanary(proxy, byHeader);
    for (const user of at20) expect(at50.has(user)).toBe(true);
    expect(at20.size).toBeGreaterThan(20);
    expect(at20.size).toBeLessThan(60);
    expect(at50.size).toBeGreaterThan(at20.size);
    expect(at50.size).toBeLessThan(130);
    // Without the header: the weighted split (50%: exactly every other request on one connection).
    const split: string[] = [];
    const client = new (await import('undici')).Client(proxy.url);
    cleanup.push(() => client.close());
    for (let i = 0; i < 10; i++) {
      const res = await client.request({ method: 'GET', path: '/' });
      await res.body.dump();
      split.push(String(res.headers['x-served-by']));
    }
    expect(split.filter((s) => s === 'green')).toHaveLength(5);
  });

  it('read a cookie the same way', async () => {
    const { blue, green } = await backends();
    const headerProxy = await proxyFor({ services: [{ name: 'shop', blue: [blue.url], green: [green.url], cohort: { header: 'x-user-id' } }] });
    const cookieProxy = await proxyFor({ services: [{ name: 'shop', blue: [blue.url], green: [green.url], cohort: { cookie: 'uid' } }] });
    await headerProxy.setCanaryWeight('shop', 30);
    await cookieProxy.setCanaryWeight('shop', 30);
    expect(await onCanary(cookieProxy, (user) => ({ cookie: `theme=dark; uid=${user}` }))).toEqual(await onCanary(headerProxy, (user) => ({ 'x-user-id': user })));
  });
});

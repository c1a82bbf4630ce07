import { afterEach, describe, expect, it } from 'vitest';
import { RoutingSnapshot } from '../../../src/proxy/routing-snapshot.js';
import { ServiceRoute } from '../../../src/proxy/service-route.js';
import { ServiceRuntime } from '../../../src/proxy/service-runtime.js';
import { loadText } from '../../helpers/config-text.js';

const runtimes: ServiceRuntime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).flatMap((runtime) => runtime.allTargets().map((t) => t.destroy())));
});

/** A snapshot of services given as `name` + `match` flow mappings, in this order, at weight 0. */
function snapshotOf(...services: [name: string, match: string][]): RoutingSnapshot {
  const lines = ['services:'];
  services.forEach(([name, match], i) => {
    lines.push(
      `  - name: ${name}`,
      `    match: ${match}`,
      `    blue: { targets: [ { url: http://127.0.0.1:${9100 + 2 * i} } ] }`,
      `    green: { targets: [ { url: http://127.0.0.1:${9101 + 2 * i} } ] }`,
    );
  });
  const config = loadText(`${lines.join('\n')}\n`);
  return new RoutingSnapshot(
    config.services.map((service) => {
      const runtime = new ServiceRuntime(service);
      runtimes.push(runtime);
      return new ServiceRoute(runtime, { live: service.live, canaryWeight: 0 }, 0);
    }),
  );
}

describe('RoutingSnapshot.match', () => {
  const table: [host: string, url: string, service: string | null][] = [
    // Port-specific first: it wins even where later services match too.
    ['shop.example.com:8443', '/api/orders', 'tls'],
    ['shop.example.com', '/api/orders', 'api'],
    ['shop.example.com', '/api', 'api'],
    ['shop.example.com', '/api?x=1', 'api'],
    // A plain string prefix, as Envoy's prefix match and nginx's prefix locations.
    ['shop.example.com', '/apix', 'api'],
    ['shop.example.com', '/ap', 'shop'],
    ['shop.example.com:80', '/', 'shop'],
    ['SHOP.Example.COM', '/', 'shop'],
    ['cart.example.com', '/', 'wild'],
    ['CART.EXAMPLE.COM:9000', '/', 'wild'],
    ['SHOP.EXAMPLE.COM:8443', '/', 'tls'],
    ['[::1]:8080', '/', 'v6'],
    ['[::1]:8081', '/static/app.js', 'static'],
    ['example.com', '/static/app.js', 'static'],
    ['example.com', '/', null],
    ['', '/static', 'static'],
    ['', '/', null],
  ];

  it.each(table)('%j %s -> %s', (host, url, expected) => {
    const snapshot = snapshotOf(
      ['tls', '{ host: "shop.example.com:8443" }'],
      ['api', '{ host: shop.example.com, pathPrefix: /api }'],
      ['shop', '{ host: shop.example.com }'],
      ['wild', '{ host: "*.example.com" }'],
      ['v6', '{ host: "[::1]:8080" }'],
      ['static', '{ pathPrefix: /static }'],
    );
    expect(snapshot.match(host, url)?.name ?? null).toBe(expected);
  });

  it('a catch-all listed first shadows everything after it', () => {
    const snapshot = snapshotOf(['all', '{}'], ['api', '{ host: shop.example.com, pathPrefix: /api }']);
    expect(snapshot.match('shop.example.com', '/api/x')?.name).toBe('all');
    expect(snapshot.match('anything', '/')?.name).toBe('all');
  });

  it('without host rules the Host header is ignored', () => {
    const snapshot = snapshotOf(['api', '{ pathPrefix: /api }'], ['rest', '{}']);
    expect(snapshot.match('WHATEVER:1', '/api/v1')?.name).toBe('api');
    expect(snapshot.match('', '/x')?.name).toBe('rest');
  });
});

describe('RoutingSnapshot.replace', () => {
  it('returns a new snapshot with one route swapped, in place, and leaves the old one as it was', () => {
    const before = snapshotOf(['a', '{ pathPrefix: /a }'], ['b', '{ pathPrefix: /b }'], ['c', '{}']);
    const oldB = before.get('b')!;
    const after = before.replace(oldB.withState({ live: 'green', canaryWeight: 12.5 }));
    expect(after.routes.map((r) => r.name)).toEqual(['a', 'b', 'c']);
    expect(after.get('b')).toMatchObject({ live: 'green', canaryWeight: 12.5, canaryBasisPoints: 1250 });
    expect(after.match('', '/b/1')).toBe(after.get('b'));
    expect(after.get('a')).toBe(before.get('a'));
    expect(before.get('b')).toBe(oldB);
    expect(oldB).toMatchObject({ live: 'blue', canaryWeight: 0 });
    expect(before.get('nope')).toBeUndefined();
  });
});

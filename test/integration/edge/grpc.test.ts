import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { startShiftproxy } from '../../../src/main.js';
import type { RolloutRecord } from '../../../src/rollout/rollout-record.js';
import { EchoClient, EchoServer, grpc } from '../../helpers/grpc-echo.js';
import { buildConfig, startProxy, type ProxyUnderTest } from '../../helpers/proxy-harness.js';
import { TestCa, type IssuedCertificate } from '../../helpers/tls-certs.js';
import { until } from '../../helpers/wait-for.js';
import { advanceTimerByTimer } from '../../helpers/advance-timer-by-timer.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

let ca: TestCa;
let site: IssuedCertificate;
beforeAll(() => {
  ca = new TestCa();
  site = ca.issue(['grpc.test']);
});

async function echo(slot: string): Promise<EchoServer> {
  const server = new EchoServer(slot);
  await server.start();
  cleanup.push(() => server.stop());
  return server;
}

function client(address: string, credentials?: grpc.ChannelCredentials, options?: grpc.ChannelOptions): EchoClient {
  const c = new EchoClient(address, credentials, options);
  cleanup.push(async () => c.close());
  return c;
}

async function grpcProxy(blue: EchoServer, green: EchoServer, service: Record<string, unknown> = {}): Promise<ProxyUnderTest & { h2c: string; tls: string }> {
  const p = await startProxy({
    listeners: [
      { address: '127.0.0.1:0', h2c: true },
      { address: '127.0.0.1:0', tls: { certs: [site] } },
    ],
    services: [{ name: 'echo', blue: [blue.url], green: [green.url], upstream: { http2: true }, ...service }],
  });
  cleanup.push(() => p.stop());
  const [h2c, tls] = p.running.proxyAddresses as AddressInfo[];
  return Object.assign(p, { h2c: `127.0.0.1:${h2c?.port}`, tls: `127.0.0.1:${tls?.port}` });
}

describe('gRPC through shiftproxy (grpc-js client and server)', () => {
  it('unary calls in clear (h2c) and over TLS', async () => {
    const [blue, green] = [await echo('blue'), await echo('green')];
    const p = await grpcProxy(blue, green);
    expect(await client(p.h2c).say('hello')).toEqual({ text: 'hello', slot: 'blue' });
    const overTls = client(p.tls, grpc.credentials.createSsl(readFileSync(ca.caFile)), { 'grpc.ssl_target_name_override': 'grpc.test', 'grpc.default_authority': 'grpc.test' });
    expect(await overTls.say('secure')).toEqual({ text: 'secure', slot: 'blue' });
  });

  it('a server-streaming call arrives whole and in order', async () => {
    const [blue, green] = [await echo('blue'), await echo('green')];
    const p = await grpcProxy(blue, green);
    const replies = await client(p.h2c).count(50);
    expect(replies.map((r) => r.text)).toEqual(Array.from({ length: 50 }, (_, i) => String(i + 1)));
  });

  it('an error status sent trailers-only reaches the client with its code and message', async () => {
    const [blue, green] = [await echo('blue'), await echo('green')];
    blue.failWith = grpc.status.PERMISSION_DENIED;
    const p = await grpcProxy(blue, green);
    await expect(client(p.h2c).say('x')).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: 'blue is failing' });
    await p.settle();
    // Not in grpcErrorCodes: an answer like any other, not a failure.
    expect(p.running.dataPlane.runtime('echo').counters.blue.stable.failures).toBe(0);
  });

  it('a deadline: the client gets DEADLINE_EXCEEDED, the call is cancelled at the server, and the proxy counts a client abort', async () => {
    const [blue, green] = [await echo('blue'), await echo('green')];
    const p = await grpcProxy(blue, green);
    const c = client(p.h2c);
    await expect(c.hold('late', 200)).rejects.toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
    await until(() => blue.held[0]?.cancelled === true, 'the server call to be cancelled');
    await p.settle();
    expect(p.running.dataPlane.runtime('echo').counters.blue.stable.clientAborts).toBe(1);
    // The connection is still good.
    expect(await c.say('after')).toEqual({ text: 'after', slot: 'blue' });
  });
});

describe('a canary rollout carrying gRPC traffic', () => {
  const INTERVAL_MS = 250;

  it('weights are exact over a channel, and a canary failing with UNAVAILABLE (in grpcErrorCodes) is rolled back', async () => {
    const [blue, green] = [await echo('blue'), await echo('green')];
    const clock = new VirtualClock(0, Date.UTC(2026, 10, 22, 12));
    const config = buildConfig({
      listeners: [{ address: '127.0.0.1:0', h2c: true }],
      services: [
        {
          name: 'echo',
          blue: [blue.url],
          green: [green.url],
          upstream: { http2: true },
          grpcErrorCodes: ['UNAVAILABLE', 'INTERNAL'],
          rollout: {
            strategy: 'canary',
            canary: { weight: 10, interval: '1h' },
            analysis: { interval: INTERVAL_MS, failureLimit: 2, inconclusiveLimit: 20, alarms: [{ name: 'canary-errors', metric: 'error_rate', window: '1s', max: 0.05, minRequests: 5 }] },
          },
        },
      ],
    });
    const running = await startShiftproxy(config, { logger: silentLogger(), processMetrics: false, clock });
    cleanup.push(() => running.stop(0));
    let decided: RolloutRecord | null = null;
    running.controller.onTransition((_s, _p, current) => {
      if (current.state === 'rolled_back' || current.state === 'promoted') decided ??= current;
    });
    const advance = (ms: number) => advanceTimerByTimer(clock, ms, () => running.controller.whenIdle());
    const c = client(`127.0.0.1:${running.proxyAddresses[0]?.port}`);
    /** 100 calls, every answer in (errors included), then one analysis interval. */
    const round = async () => {
      const outcomes = await Promise.all(Array.from({ length: 100 }, (_, i) => c.say(`n${i}`).then((r) => r.slot, (e: grpc.ServiceError) => `error ${e.code}`)));
      await advance(INTERVAL_MS);
      return outcomes;
    };

    await running.controller.startRollout('echo');
    await until(() => running.controller.get('echo')?.state === 'progressing', 'the rollout to progress');
    const healthy = await round();
    expect(healthy.filter((s) => s === 'green')).toHaveLength(10);
    expect(healthy.filter((s) => s === 'blue')).toHaveLength(90);
    await round();
    expect(running.controller.get('echo')?.state).toBe('progressing');

    green.failWith = grpc.status.UNAVAILABLE;
    for (let i = 0; i < 10 && decided === null; i++) {
      const outcomes = await round();
      if (i === 0) expect(outcomes.filter((o) => o === `error ${grpc.status.UNAVAILABLE}`)).toHaveLength(10);
    }
    expect(decided).not.toBeNull();
    const record = decided as unknown as RolloutRecord;
    expect(record.state).toBe('rolled_back');
    expect(record.reason).toMatch(/^alarm canary-errors: error_rate = [\d.]+ \(canary, \d+ requests in 1s\) > max 0\.05 \(2 consecutive failed checks\)$/);
    expect(running.dataPlane.routing('echo')).toEqual({ live: 'blue', canaryWeight: 0 });
    // Every call after the rollback is blue's.
    const after = await Promise.all(Array.from({ length: 20 }, () => c.say('after')));
    expect(new Set(after.map((r) => r.slot))).toEqual(new Set(['blue']));
  });
});

import type { ServerResponse } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PrometheusClient } from '../../../src/analysis/prometheus-client.js';
import { MeasurementError } from '../../../src/analysis/window-stats.js';
import { errorOf, FakePrometheus, scalarOf, sendJson, sendText, vectorOf } from '../../helpers/fake-prometheus.js';
import { until, WAIT_MS } from '../../helpers/wait-for.js';

const fake = new FakePrometheus();
let url = '';
const clients: PrometheusClient[] = [];

beforeAll(async () => {
  url = await fake.start();
});
afterAll(async () => {
  await fake.stop();
});
afterEach(async () => {
  while (clients.length) await clients.pop()?.close();
  fake.requests.length = 0;
});

/** A client; its deadline defaults to the tests' failure bound, so only tests about deadlines race one. */
function client(timeoutMs = WAIT_MS, base = url): PrometheusClient {
  const c = new PrometheusClient({ url: base, timeoutMs });
  clients.push(c);
  return c;
}

/** The MeasurementError a query failed with; fails the test if it succeeded or failed otherwise. */
async function failure(run: Promise<unknown>): Promise<MeasurementError> {
  const err = await run.then(
    (value) => new Error(`expected a MeasurementError, got ${String(value)}`),
    (e: unknown) => e,
  );
  if (!(err instanceof MeasurementError)) throw err;
  return err;
}

async function freePortThatRefuses(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('PrometheusClient: the request', () => {
  it('GETs /api/v1/query with the query URL-encoded and the deadline passed on to Prometheus', async () => {
    const query = 'sum(rate(shiftproxy_requests_total{service="a b",code=~"5.."}[1m])) / 2 + 1';
    fake.handler = (_req, res, q) => sendJson(res, 200, vectorOf([{ metric: {}, value: q === query ? '0.25' : '-1' }]));
    expect(await client(1500).scalar(query)).toBe(0.25);
    const seen = fake.requests[0] as URL;
    expect(seen.pathname).toBe('/api/v1/query');
    expect(seen.searchParams.get('query')).toBe(query);
    expect(seen.searchParams.get('timeout')).toBe('1500ms');
  });

  it('keeps a path prefix of the base URL (Prometheus behind a route) and ignores trailing slashes', async () => {
    fake.handler = (_req, res) => sendJson(res, 200, scalarOf('3'));
    expect(await client(WAIT_MS, `${url}/prom/`).scalar('3')).toBe(3);
    expect(fake.requests[0]?.pathname).toBe('/prom/api/v1/query');
  });
});

describe('PrometheusClient: answers that give a number', () => {
  it('one series of an instant vector: its value', async () => {
    fake.handler = (_req, res) => sendJson(res, 200, vectorOf([{ metric: { service: 'shop' }, value: '0.0125' }]));
    expect(await client().scalar('q')).toBe(0.0125);
  });

  it('a scalar result: its value', async () => {
    fake.handler = (_req, res) => sendJson(res, 200, scalarOf('42'));
    expect(await client().scalar('42')).toBe(42);
  });

  it('vector() gives every series with its labels, for queries that group (sum by (le))', async () => {
    fake.handler = (_req, res) =>
      sendJson(res, 200, vectorOf([
        { metric: { le: '0.1' }, value: '3' },
        { metric: { le: '+Inf' }, value: '5' },
      ]));
    expect(await client().vector('q')).toEqual([
      { labels: { le: '0.1' }, value: 3 },
      { labels: { le: '+Inf' }, value: 5 },
    ]);
  });
});

describe('PrometheusClient: answers with no usable number', () => {
  it('an empty vector is no-data', async () => {
    fake.handler = (_req, res) => sendJson(res, 200, vectorOf([]));
    const err = await failure(client().scalar('q'));
    expect([err.kind, err.message, err.emptyAnswer]).toEqual([
      'no-data',
      'the query returned no series (empty vector); if no series means 0 here, add "or vector(0)" to the part that may have none, or set onEmpty: zero',
      true,
    ]);
  });

  it('NaN (0/0 at zero traffic) is no-data, as a vector sample or a scalar, and never comes back as a number', async () => {
    for (const body of [vectorOf([{ metric: {}, value: 'NaN' }]), scalarOf('NaN')]) {
      fake.handler = (_req, res) => sendJson(res, 200, body);
      const err = await failure(client().scalar('q'));
      expect([err.kind, err.message]).toEqual(['no-data', 'the query returned NaN (e.g. 0/0 when there was no traffic)']);
      // Not an empty answer: onEmpty: zero must never turn 0/0 into a pass.
      expect(err.emptyAnswer).toBe(false);
    }
  });

  it('+Inf and -Inf are no-data: neither may pass a min or a max', async () => {
    for (const [value, sign] of [['+Inf', '+Inf'], ['-Inf', '-Inf']] as const) {
      fake.handler = (_req, res) => sendJson(res, 200, vectorOf([{ metric: {}, value }]));
      const err = await failure(client().scalar('q'));
      expect(err.kind).toBe('no-data');
      expect(err.message).toBe(`the query returned ${sign} (e.g. a division by zero); clamp it in the query if it should count as a value`);
    }
  });

  it('several series are refused as bad-query, naming how many and showing the first ones', async () => {
    fake.handler = (_req, res) =>
      sendJson(res, 200, vectorOf([
        { metric: { __name__: 'shiftproxy_requests_total', code: '500' }, value: '1' },
        { metric: { code: '502' }, value: '2' },
        { metric: { code: '503' }, value: '3' },
      ]));
    const err = await failure(client().scalar('q'));
    expect(err.kind).toBe('bad-query');
    expect(err.message).toBe(
      'the query returned 3 series (shiftproxy_requests_total{code="500"}, {code="502"}, ...); an alarm needs one number: aggregate them, e.g. with sum() or max()',
    );
  });

  it('a matrix (range vector) where an instant value was expected is bad-query', async () => {
    fake.handler = (_req, res) => sendJson(res, 200, { status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [[1, '1']] }] } });
    const err = await failure(client().scalar('up[1m]'));
    expect(err.kind).toBe('bad-query');
    expect(err.message).toMatch(/^the query returned a range vector \(matrix\); an alarm needs an instant value/);
  });

  it('a string result is bad-query', async () => {
    fake.handler = (_req, res) => sendJson(res, 200, { status: 'success', data: { resultType: 'string', result: [1, 'hello'] } });
    const err = await failure(client().scalar('"hello"'));
    expect([err.kind, err.message]).toEqual(['bad-query', 'the query returned a string; an alarm needs a number']);
  });

  it('a native histogram sample is bad-query', async () => {
    fake.handler = (_req, res) => sendJson(res, 200, { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, histogram: [1, { count: '1' }] }] } });
    expect((await failure(client().scalar('q'))).kind).toBe('bad-query');
  });

  it('an answer far too large for one number is cut and refused as bad-query', async () => {
    const many = Array.from({ length: 20_000 }, (_, i) => ({ metric: { i: String(i) }, value: '1' }));
    fake.handler = (_req, res) => sendJson(res, 200, vectorOf(many));
    const err = await failure(client().scalar('{__name__=~".+"}'));
    expect(err.kind).toBe('bad-query');
    expect(err.message).toMatch(/larger than 1048576 bytes/);
  });
});

describe('PrometheusClient: Prometheus refuses the query', () => {
  it('HTTP 400 bad_data is bad-query carrying Prometheus\'s own error', async () => {
    fake.handler = (_req, res) => sendJson(res, 400, errorOf('bad_data', 'invalid parameter "query": 1:5: parse error: unclosed left parenthesis'));
    const err = await failure(client().scalar('sum('));
    expect([err.kind, err.message]).toEqual(['bad-query', 'bad PromQL, rejected by Prometheus (bad_data): 1:5: parse error: unclosed left parenthesis']);
  });

  it('HTTP 422 execution is bad-query', async () => {
    fake.handler = (_req, res) => sendJson(res, 422, errorOf('execution', 'found duplicate series for the match group'));
    const err = await failure(client().scalar('a * on() b'));
    expect([err.kind, err.message]).toEqual(['bad-query', 'Prometheus cannot execute the query (execution): found duplicate series for the match group']);
  });
});

describe('PrometheusClient: Prometheus cannot answer (provider-error)', () => {
  it('HTTP 503 with status "error" (query timeout inside Prometheus)', async () => {
    fake.handler = (_req, res) => sendJson(res, 503, errorOf('timeout', 'query timed out in expression evaluation'));
    const err = await failure(client().scalar('q'));
    expect([err.kind, err.message]).toEqual(['provider-error', `Prometheus at ${url} failed the query with HTTP 503 (timeout): query timed out in expression evaluation`]);
  });

  it('HTTP 200 with status "error"', async () => {
    fake.handler = (_req, res) => sendJson(res, 200, errorOf('internal', 'something broke'));
    const err = await failure(client().scalar('q'));
    expect([err.kind, err.message]).toEqual(['provider-error', `Prometheus at ${url} failed the query with HTTP 200 (internal): something broke`]);
  });

  it('an HTML 502 page from something in front of Prometheus', async () => {
    fake.handler = (_req, res) => sendText(res, 502, 'text/html; charset=utf-8', '<html><body><h1>502 Bad Gateway</h1></body></html>');
    const err = await failure(client().scalar('q'));
    expect([err.kind, err.message]).toEqual(['provider-error', `Prometheus at ${url} answered HTTP 502 (text/html)`]);
  });

  it('a 500 with an empty body', async () => {
    fake.handler = (_req, res) => sendText(res, 500, 'text/plain', '');
    const err = await failure(client().scalar('q'));
    expect([err.kind, err.message]).toEqual(['provider-error', `Prometheus at ${url} answered HTTP 500`]);
  });

  it('a 400 that is not Prometheus\'s JSON says nothing about the query: provider-error', async () => {
    fake.handler = (_req, res) => sendText(res, 400, 'text/html', '<h1>Bad Request</h1>');
    const err = await failure(client().scalar('q'));
    expect([err.kind, err.message]).toEqual(['provider-error', `Prometheus at ${url} answered HTTP 400 (text/html)`]);
  });

  it('a 404 (wrong base URL) hints at metrics.prometheus.url', async () => {
    fake.handler = (_req, res) => sendText(res, 404, 'text/plain', '404 page not found');
    const err = await failure(client().scalar('q'));
    expect([err.kind, err.message]).toEqual(['provider-error', `Prometheus at ${url} answered HTTP 404 (text/plain); is metrics.prometheus.url the Prometheus base URL?`]);
  });

  it('an HTML page with 200 (a login page, a UI) instead of the API', async () => {
    fake.handler = (_req, res) => sendText(res, 200, 'text/html', '<!doctype html><title>Sign in</title>');
    const err = await failure(client().scalar('q'));
    expect([err.kind, err.message]).toEqual(['provider-error', `Prometheus at ${url} answered text/html instead of the query API's JSON; is metrics.prometheus.url the Prometheus base URL?`]);
  });

  it('truncated JSON with correct framing', async () => {
    const text = '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"val';
    fake.handler = (_req, res) => sendJson(res, 200, text);
    const err = await failure(client().scalar('q'));
    expect([err.kind, err.message]).toEqual(['provider-error', `Prometheus at ${url} sent unreadable JSON (${text.length} bytes, truncated or malformed)`]);
  });

  it('a connection closed in the middle of the body', async () => {
    fake.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
      res.write('{"status":"success","data":');
      setTimeout(() => res.socket?.destroy(), 20);
    };
    const err = await failure(client().scalar('q'));
    expect([err.kind, err.message]).toEqual(['provider-error', `Prometheus at ${url} closed the connection before answering`]);
  });

  it('an answer in an unexpected layout, or with an unreadable value', async () => {
    for (const body of [{ status: 'success' }, { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1, 'abc'] }] } }, { status: 'success', data: { resultType: 'surprise', result: [] } }]) {
      fake.handler = (_req, res) => sendJson(res, 200, body);
      const err = await failure(client().scalar('q'));
      expect(err.kind).toBe('provider-error');
      expect(err.message.startsWith(`Prometheus at ${url} sent `)).toBe(true);
    }
  });

  it('connection refused', async () => {
    const port = await freePortThatRefuses();
    const err = await failure(client(WAIT_MS, `http://127.0.0.1:${port}`).scalar('q'));
    expect([err.kind, err.message]).toEqual(['provider-error', `Prometheus at http://127.0.0.1:${port} unreachable: connection refused`]);
  });

  // Not before the deadline: the lower bounds allow 50 ms because timers count from the event
  // loop's cached time, which can lag performance.now() by the current tick's length. How late
  // a cut may come on a busy machine is not this test's business; that it is the client's own
  // deadline (not undici's backstop a second later) is what the message says.
  it('a server that never answers is cut at the configured timeout', async () => {
    fake.handler = () => undefined;
    const started = performance.now();
    const err = await failure(client(300).scalar('q'));
    const elapsed = performance.now() - started;
    expect([err.kind, err.message]).toEqual(['provider-error', `Prometheus at ${url} did not answer within 300 ms`]);
    expect(elapsed).toBeGreaterThanOrEqual(250);
  });

  it('a body that stalls after the headers is cut at the same deadline', async () => {
    fake.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
      res.write('{"status":"success",');
    };
    const started = performance.now();
    const err = await failure(client(300).scalar('q'));
    const elapsed = performance.now() - started;
    expect([err.kind, err.message]).toEqual(['provider-error', `Prometheus at ${url} did not answer within 300 ms`]);
    expect(elapsed).toBeGreaterThanOrEqual(250);
  });

  it('a closed client refuses further queries', async () => {
    const c = new PrometheusClient({ url, timeoutMs: 1000 });
    await c.close();
    const err = await failure(c.scalar('q'));
    expect([err.kind, err.message]).toEqual(['provider-error', `Prometheus at ${url} not queried: the client is closed`]);
  });
});

describe('PrometheusClient: concurrent calls', () => {
  it('answers many queries at once, each with its own value, in parallel rather than one by one', async () => {
    // The server answers nothing until all 30 queries are in, then answers them in a shuffled
    // order: a client sending them one by one would never get its first answer.
    const held: (() => void)[] = [];
    fake.handler = (_req, res, q) => {
      held.push(() => sendJson(res, 200, scalarOf(q.replace('q', ''))));
      if (held.length === 30) for (let i = 0; i < 30; i++) held[(i * 7) % 30]?.();
    };
    const c = client();
    const values = await Promise.all(Array.from({ length: 30 }, (_, i) => c.scalar(`q${i}`)));
    expect(values).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('a hung query does not hold up the others', async () => {
    // The hung query's deadline is the tests' failure bound: it cannot pass while the others
    // are answered, so they are answered beside it, not after it. (Its own deadline ending it
    // is the test above.) The server then drops it.
    const hungAt: { server?: ServerResponse } = {};
    fake.handler = (_req, res, q) => {
      if (q === 'hang') return void (hungAt.server = res);
      sendJson(res, 200, scalarOf('7'));
    };
    const c = client();
    let hungSettled = false;
    const hung = failure(c.scalar('hang')).finally(() => {
      hungSettled = true;
    });
    await until(() => hungAt.server !== undefined, 'the hung query at the server');
    const fast = await Promise.all([c.scalar('a'), c.scalar('b'), c.scalar('c')]);
    expect(fast).toEqual([7, 7, 7]);
    expect(hungSettled).toBe(false);
    hungAt.server?.socket?.destroy();
    const err = await hung;
    expect(err.message).toBe(`Prometheus at ${url} closed the connection before answering`);
  });
});

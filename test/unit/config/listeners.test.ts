import { describe, expect, it } from 'vitest';
import { configYaml, loadText, problemsOf } from '../../helpers/config-text.js';

const TLS = 'tls: { certs: [ { cert: tls/a.pem, key: tls/a.key } ] }';

describe('listeners, TLS and HTTP/2 settings', () => {
  it('listeners replace listen; TLS offers HTTP/2 unless told not to; h2c is off unless asked; paths are relative to the config file', () => {
    const config = loadText(configYaml(['listeners:', `  - { address: 127.0.0.1:8443, ${TLS} }`, '  - { address: 127.0.0.1:8080, h2c: true }', `  - { address: 127.0.0.1:8444, http2: false, ${TLS} }`, '  - { address: 127.0.0.1:8081 }']), {
      baseDir: '/etc/shiftproxy',
    });
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 8443 });
    expect(config.listeners).toEqual([
      { address: { host: '127.0.0.1', port: 8443 }, tls: { certs: [{ cert: '/etc/shiftproxy/tls/a.pem', key: '/etc/shiftproxy/tls/a.key' }], minVersion: 'TLSv1.2' }, http2: true },
      { address: { host: '127.0.0.1', port: 8080 }, http2: true },
      { address: { host: '127.0.0.1', port: 8444 }, tls: { certs: [{ cert: '/etc/shiftproxy/tls/a.pem', key: '/etc/shiftproxy/tls/a.key' }], minVersion: 'TLSv1.2' }, http2: false },
      { address: { host: '127.0.0.1', port: 8081 }, http2: false },
    ]);
  });

  it('without listeners, listen is the one plain HTTP/1.1 listener', () => {
    expect(loadText(configYaml(['listen: 127.0.0.1:9000'])).listeners).toEqual([{ address: { host: '127.0.0.1', port: 9000 }, http2: false }]);
  });

  it('testListen takes an address or a listener with the same options', () => {
    expect(loadText(configYaml([], ['testListen: 127.0.0.1:8082'])).services[0]?.testListen).toEqual({ address: { host: '127.0.0.1', port: 8082 }, http2: false });
    expect(loadText(configYaml([], [`testListen: { address: 127.0.0.1:8082, ${TLS} }`]), { baseDir: '/srv' }).services[0]?.testListen).toEqual({
      address: { host: '127.0.0.1', port: 8082 },
      tls: { certs: [{ cert: '/srv/tls/a.pem', key: '/srv/tls/a.key' }], minVersion: 'TLSv1.2' },
      http2: true,
    });
  });

  it('upstream.http2 and grpcErrorCodes: names or numbers, duplicates once', () => {
    const service = loadText(configYaml([], ['upstream: { http2: true }', 'grpcErrorCodes: [ UNAVAILABLE, internal, 14, 4 ]'])).services[0];
    expect(service?.upstream).toEqual({ http2: true });
    expect(service?.grpcErrorCodes).toEqual([14, 13, 4]);
  });

  it.each([
    [['listen: 127.0.0.1:8080', 'listeners: [ { address: 127.0.0.1:8081 } ]'], [], ['listeners: replaces listen: give one of listen and listeners, not both']],
    [['listeners: []'], [], ['listeners: needs at least one listener (or leave it out and use listen)']],
    [['listeners: [ { address: 127.0.0.1:8081, http2: true } ]'], [], ['listeners[0].http2: applies to TLS listeners (ALPN); a plain listener speaks HTTP/2 with h2c: true']],
    [[`listeners: [ { address: 127.0.0.1:8081, h2c: true, ${TLS} } ]`], [], ['listeners[0].h2c: applies to plain listeners; a TLS listener offers HTTP/2 through ALPN (http2, default true)']],
    [['listeners: [ { address: 127.0.0.1:8081, tls: { certs: [] } } ]'], [], ['listeners[0].tls.certs: needs at least one certificate']],
    [['listeners: [ { address: 127.0.0.1:8081, tls: { certs: [ { cert: a.pem, key: a.key } ], minVersion: TLSv1.1 } } ]'], [], ['listeners[0].tls.minVersion: expected one of TLSv1.2, TLSv1.3']],
    [['listeners: [ { address: 127.0.0.1:8081 }, { address: 127.0.0.1:8081 } ]'], [], ['listeners[1].address: port 8081 is already used by listeners[0].address']],
    [['listeners: [ { address: 127.0.0.1:8081 } ]'], ['testListen: { address: 127.0.0.1:8081 }'], ['services[0].testListen: port 8081 is already used by listeners[0].address']],
    [[], ['testListen: { address: 127.0.0.1:8082, http2: true }'], ['services[0].testListen.http2: applies to TLS listeners (ALPN); a plain listener speaks HTTP/2 with h2c: true']],
    [[], ['grpcErrorCodes: [ UNAVAIlABLE_NOT, 0 ]'], [
      'services[0].grpcErrorCodes[0]: expected a gRPC status name (UNAVAILABLE, INTERNAL, ...) or a number from 1 to 16',
      'services[0].grpcErrorCodes[1]: expected a gRPC status name (UNAVAILABLE, INTERNAL, ...) or a number from 1 to 16',
    ]],
  ])('%j %j is refused', (top, service, expected) => {
    expect(problemsOf(configYaml(top, service))).toEqual(expected);
  });
});

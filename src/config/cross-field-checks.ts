import type { z } from 'zod';
import type { ListenAddress } from '../core/types.js';
import { formatPath } from './format-issues.js';
import { isLoopbackHost } from './listen-address.js';
import { field, isRecord, listOf, parsedListen } from './partial-value.js';
import { defaultNotifyName } from './schema-fields.js';

/**
 * The checks of the whole config that no single field can make: who may reach the admin API,
 * names that must be unique, ports claimed twice, a Prometheus the alarms need. They run on a
 * partly parsed value (see partial-value.ts), so one pass reports every problem.
 */

type Ctx = z.RefinementCtx<unknown>;

export function checkAdminExposure(config: unknown, ctx: Ctx): void {
  const listen = parsedListen(field(config, 'admin', 'listen'));
  const tokens = listOf(field(config, 'admin', 'tokens'));
  if (listen && field(config, 'admin', 'token') === '' && tokens.length === 0 && !isLoopbackHost(listen.host)) {
    ctx.addIssue({
      code: 'custom',
      path: ['admin', 'listen'],
      message: 'must be a loopback address (127.0.0.1 or ::1) when neither admin.token nor admin.tokens is set: the admin API can steer traffic',
    });
  }
  // A name must say who acted, and a token must say who is asking: neither may be ambiguous.
  const names = new Set<string>(['admin']);
  const secrets = new Set<string>();
  const single = field(config, 'admin', 'token');
  if (typeof single === 'string' && single !== '') secrets.add(single);
  tokens.forEach((entry, index) => {
    const name = field(entry, 'name');
    const token = field(entry, 'token');
    if (typeof name === 'string' && names.has(name)) {
      ctx.addIssue({ code: 'custom', path: ['admin', 'tokens', index, 'name'], message: name === 'admin' ? '"admin" names admin.token; choose another name' : `duplicate token name "${name}"` });
    }
    if (typeof name === 'string') names.add(name);
    if (typeof token === 'string' && secrets.has(token)) {
      ctx.addIssue({ code: 'custom', path: ['admin', 'tokens', index, 'token'], message: 'the same token is given twice (each token must name one holder)' });
    }
    if (typeof token === 'string') secrets.add(token);
  });
}

export function checkNotifyNames(config: unknown, ctx: Ctx): void {
  const seen = new Set<string>();
  listOf(field(config, 'notify')).forEach((target, index) => {
    const name = field(target, 'name') ?? defaultNotifyName(String(field(target, 'format') ?? 'json'), index);
    if (typeof name !== 'string') return;
    if (seen.has(name)) ctx.addIssue({ code: 'custom', path: ['notify', index, 'name'], message: `duplicate notify name "${name}"` });
    seen.add(name);
  });
}

export function checkPrometheusNeeded(config: unknown, ctx: Ctx): void {
  const metrics = field(config, 'metrics');
  if (!isRecord(metrics) || metrics.prometheus !== undefined) return;
  const usesPromql = listOf(field(config, 'services')).some((service) =>
    listOf(field(service, 'rollout', 'analysis', 'alarms')).some((alarm) => typeof field(alarm, 'promql') === 'string'),
  );
  if (metrics.provider === 'prometheus' || usesPromql) {
    ctx.addIssue({
      code: 'custom',
      path: ['metrics', 'prometheus', 'url'],
      message: metrics.provider === 'prometheus' ? 'is required with provider: prometheus' : 'is required by promql alarms',
    });
  }
}

export function checkListenOrListeners(config: unknown, ctx: Ctx): void {
  if (field(config, 'listen') !== undefined && field(config, 'listeners') !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['listeners'], message: 'replaces listen: give one of listen and listeners, not both' });
  }
}

/** A listener's address, whether it parsed as a plain address or as a listener object. */
function listenerAddress(value: unknown): ListenAddress | undefined {
  return parsedListen(value) ?? parsedListen(field(value, 'address'));
}

export function checkPortsAndDuplicates(config: unknown, ctx: Ctx): void {
  const ports = new Map<number, string>();
  const claimPort = (address: ListenAddress | undefined, path: (string | number)[]) => {
    if (address === undefined || address.port === 0) return;
    const owner = ports.get(address.port);
    if (owner) ctx.addIssue({ code: 'custom', path, message: `port ${address.port} is already used by ${owner}` });
    else ports.set(address.port, formatPath(path));
  };
  claimPort(parsedListen(field(config, 'listen')), ['listen']);
  listOf(field(config, 'listeners')).forEach((listener, index) => claimPort(listenerAddress(listener), ['listeners', index, 'address']));
  claimPort(parsedListen(field(config, 'admin', 'listen')), ['admin', 'listen']);
  const names = new Set<string>();
  listOf(field(config, 'services')).forEach((service, index) => {
    const name = field(service, 'name');
    if (typeof name === 'string' && name !== '') {
      if (names.has(name)) ctx.addIssue({ code: 'custom', path: ['services', index, 'name'], message: `duplicate service name "${name}"` });
      names.add(name);
    }
    claimPort(listenerAddress(field(service, 'testListen')), ['services', index, 'testListen']);
    const urls = new Set<string>();
    for (const slot of ['blue', 'green'] as const) {
      listOf(field(service, slot, 'targets')).forEach((target, t) => {
        const url = field(target, 'url');
        if (typeof url !== 'string') return;
        if (urls.has(url)) {
          ctx.addIssue({ code: 'custom', path: ['services', index, slot, 'targets', t, 'url'], message: `${url} is listed twice in this service` });
        }
        urls.add(url);
      });
    }
  });
}

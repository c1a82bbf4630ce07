import { z } from 'zod';
import { NOTIFY_EVENTS } from '../core/config-types.js';
import {
  checkAdminExposure,
  checkListenOrListeners,
  checkNotifyNames,
  checkPortsAndDuplicates,
  checkPrometheusNeeded,
} from './cross-field-checks.js';
import { listenerSchema } from './listener-schema.js';
import { always } from './partial-value.js';
import { duration, httpUrl, listenAddress, positiveDuration } from './schema-fields.js';
import { serviceSchema } from './service-schema.js';

/**
 * The whole config file: listeners, workers, admin API, instance, state store, metrics provider,
 * server limits, notifications and the services, with the checks that look across them. Each
 * default is written once, on its field: a block left out is parsed as `{}` (zod's `prefault`),
 * so its fields take their own defaults instead of a second copy written on the block.
 */

const serverSchema = z.strictObject({
  headersTimeout: positiveDuration().default(60_000),
  requestTimeout: duration().default(300_000),
  keepAliveTimeout: positiveDuration().default(30_000),
  drainTimeout: duration().default(30_000),
  shutdownDelay: duration().default(0),
  maxHeaderBytes: z.number().int().min(1024).max(1_048_576).default(16_384),
  maxBodyBytes: z.number().int().min(0).default(0),
  maxConnections: z.number().int().min(0).default(0),
});

const etcdSchema = z.strictObject({
  endpoints: z.array(httpUrl(true)).min(1, { message: 'needs at least one etcd client URL' }).default(['http://127.0.0.1:2379']),
  prefix: z
    .string()
    .regex(/^\/(?:[A-Za-z0-9._-]+\/)*$/, { message: 'expected a key prefix that starts and ends with "/" (e.g. /shiftproxy/)' })
    .default('/shiftproxy/'),
  // etcd grants leases in whole seconds, and none shorter than about 1.5 election timeouts.
  leaseTtl: positiveDuration()
    .refine((ms) => ms % 1000 === 0 && ms >= 2000, { message: 'must be a whole number of seconds, at least 2s' })
    .default(10_000),
});

/** Names go into etcd keys and URLs: letters, digits and . _ - only. */
const instanceName = z.string().regex(/^[A-Za-z0-9._-]{0,128}$/, { message: 'expected up to 128 letters, digits, ".", "_" or "-"' });

const adminTokenSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, { message: 'expected a name of letters, digits, ".", "_", "@" or "-" (at most 64), as logs and histories show it' }),
  // Short tokens can be guessed despite the throttle; 16 characters is a floor, not a goal.
  token: z.string().min(16, { message: 'too short: use at least 16 random characters (e.g. openssl rand -hex 24)' }),
  role: z.enum(['viewer', 'operator']),
});

const notifySchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { message: 'expected a name of letters, digits, ".", "_" or "-" (at most 64)' }).optional(),
  url: httpUrl(false),
  format: z.enum(['json', 'slack']).default('json'),
  events: z.array(z.enum(NOTIFY_EVENTS)).min(1).default(['started', 'paused', 'promoted', 'rolled_back', 'hook-failed']),
  timeout: positiveDuration().default(5_000),
  attempts: z.number().int().min(1).max(10).default(3),
});

const WORKERS_HINT = 'expected "auto" (one process per core) or a whole number of processes from 1 to 256';

export const configSchema = z
  .strictObject({
    listen: listenAddress.optional(),
    listeners: z.array(listenerSchema).min(1, { message: 'needs at least one listener (or leave it out and use listen)' }).optional(),
    workers: z.union([z.literal('auto'), z.number().int().min(1).max(256)], { error: WORKERS_HINT }).default(1),
    admin: z
      .strictObject({
        listen: listenAddress.default({ host: '127.0.0.1', port: 9090 }),
        token: z.string().default(''),
        tokens: z.array(adminTokenSchema).default([]),
        publicUrl: httpUrl(false).optional(),
      })
      .prefault({}),
    instance: z.strictObject({ name: instanceName.default('') }).prefault({}),
    state: z
      .strictObject({
        store: z.enum(['file', 'etcd']).default('file'),
        path: z.string().min(1).default('./var/shiftproxy-state.json'),
        etcd: etcdSchema.prefault({}),
      })
      .prefault({}),
    metrics: z
      .strictObject({
        provider: z.enum(['builtin', 'prometheus']).default('builtin'),
        prometheus: z.strictObject({ url: httpUrl(false), timeout: positiveDuration().default(5000) }).optional(),
      })
      .prefault({}),
    server: serverSchema.prefault({}),
    notify: z.array(notifySchema).default([]),
    services: z.array(serviceSchema).min(1, { message: 'needs at least one service' }),
  })
  .superRefine(checkAdminExposure, { when: always })
  .superRefine(checkNotifyNames, { when: always })
  .superRefine(checkPrometheusNeeded, { when: always })
  .superRefine(checkPortsAndDuplicates, { when: always })
  .superRefine(checkListenOrListeners, { when: always });

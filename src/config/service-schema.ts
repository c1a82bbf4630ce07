import { z } from 'zod';
import { testListenSchema } from './listener-schema.js';
import { checkServiceMirror, mirrorSchema } from './mirror-schema.js';
import { always } from './partial-value.js';
import { rolloutSchema } from './rollout-schema.js';
import { cohortSchema, routesSchema } from './routing-schema.js';
import { grpcCodeSchema, headerToken, headerValue, httpUrl, patterned, percent, positiveDuration, requestPath, statusRange } from './schema-fields.js';

/**
 * One entry of `services`: what it matches, its blue and green slots and their targets, how it
 * balances, checks health, ejects outliers and times out, and the blocks kept in their own
 * modules (routes and cohort, mirror, rollout).
 */

const targetSchema = z.strictObject({
  url: httpUrl(true),
  weight: z.number().int({ message: 'must be a whole number' }).min(1, { message: 'must be at least 1' }).max(1000, { message: 'must be at most 1000' }).default(1),
});

const slotSchema = z.strictObject({
  targets: z.array(targetSchema).min(1, { message: 'needs at least one target' }),
});

const healthCheckSchema = z.strictObject({
  path: requestPath().default('/healthz'),
  interval: positiveDuration().default(5000),
  timeout: positiveDuration().default(2000),
  healthyThreshold: z.number().int().min(1).max(100).default(2),
  unhealthyThreshold: z.number().int().min(1).max(100).default(3),
  expectedStatus: statusRange.default({ min: 200, max: 399 }),
});

const outlierSchema = z.strictObject({
  consecutiveErrors: z.number().int().min(1).max(1000).default(5),
  ejectionTime: positiveDuration().default(30_000),
  maxEjectionTime: positiveDuration().default(300_000),
  maxEjectionPercent: percent().default(50),
});

const timeoutsSchema = z.strictObject({
  connect: positiveDuration().default(2000),
  response: positiveDuration().default(30_000),
  idle: positiveDuration().default(60_000),
});

export const serviceSchema = z.strictObject({
  name: patterned(/^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/, 'use lowercase letters, digits and ._- (starting and ending with a letter or digit)'),
  match: z
    .strictObject({
      host: patterned(/^(\*\.)?[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:.]+\](:\d+)?$/, 'not a host name (optionally *.suffix and :port)')
        .transform((h) => h.toLowerCase())
        .optional(),
      pathPrefix: requestPath().default('/'),
    })
    .prefault({}),
  live: z.enum(['blue', 'green']).default('blue'),
  blue: slotSchema,
  green: slotSchema,
  balance: z.enum(['round-robin', 'least-request', 'random']).default('round-robin'),
  sticky: z.strictObject({ cookie: headerToken('cookie name') }).optional(),
  canaryHeader: z.strictObject({ name: headerToken('header name').transform((n) => n.toLowerCase()), value: headerValue }).optional(),
  testListen: testListenSchema.optional(),
  upstream: z.strictObject({ http2: z.boolean().default(false) }).prefault({}),
  grpcErrorCodes: z.array(grpcCodeSchema).default([]),
  timeouts: timeoutsSchema.prefault({}),
  healthCheck: healthCheckSchema.optional(),
  outlierDetection: outlierSchema.optional(),
  limits: z.strictObject({ maxConnections: z.number().int().min(1).max(100_000), maxPending: z.number().int().min(0).max(100_000).default(0) }).optional(),
  slowStart: positiveDuration().optional(),
  retry: z.strictObject({ attempts: z.number().int().min(0).max(5).default(0) }).prefault({}),
  routes: routesSchema,
  cohort: cohortSchema.optional(),
  mirror: mirrorSchema.optional(),
  rollout: rolloutSchema.prefault({}),
}).superRefine(checkServiceMirror, { when: always });

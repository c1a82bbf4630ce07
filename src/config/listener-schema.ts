import { z } from 'zod';
import type { ListenerConfig } from '../core/config-types.js';
import type { ListenAddress } from '../core/types.js';
import { friendlyErrorMap } from './format-issues.js';
import { listenAddress } from './schema-fields.js';

/**
 * `listeners[]` and a service's `testListen`: the address, its TLS certificates and which HTTP
 * versions it speaks. HTTP/2 is offered through ALPN on TLS and through h2c on plain listeners,
 * so each form refuses the other's switch instead of ignoring it.
 */

const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;

const certFilesSchema = z.strictObject({
  cert: z.string().min(1, { message: 'must name a PEM file' }),
  key: z.string().min(1, { message: 'must name a PEM file' }),
});

const listenerTlsSchema = z.strictObject({
  certs: z.array(certFilesSchema).min(1, { message: 'needs at least one certificate' }),
  minVersion: z.enum(TLS_VERSIONS, { message: `expected one of ${TLS_VERSIONS.join(', ')}` }).default('TLSv1.2'),
});

export const listenerSchema = z
  .strictObject({
    address: listenAddress,
    tls: listenerTlsSchema.optional(),
    http2: z.boolean().optional(),
    h2c: z.boolean().optional(),
  })
  .superRefine((listener, ctx) => {
    if (listener.tls === undefined && listener.http2 !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['http2'], message: 'applies to TLS listeners (ALPN); a plain listener speaks HTTP/2 with h2c: true' });
    }
    if (listener.tls !== undefined && listener.h2c !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['h2c'], message: 'applies to plain listeners; a TLS listener offers HTTP/2 through ALPN (http2, default true)' });
    }
  })
  .transform(
    (listener): ListenerConfig => ({
      address: listener.address,
      ...(listener.tls ? { tls: listener.tls } : {}),
      http2: listener.tls ? (listener.http2 ?? true) : (listener.h2c ?? false),
    }),
  );

/**
 * `testListen`: an address (a plain HTTP/1.1 listener) or a listener with the options of
 * `listeners[]`. Chosen by the value's type, so each form reports its own problems, not a union's.
 */
export const testListenSchema = z.unknown().transform((value, ctx): ListenerConfig => {
  const isObject = typeof value === 'object' && value !== null && !Array.isArray(value);
  const result = isObject ? listenerSchema.safeParse(value, { error: friendlyErrorMap }) : listenAddress.safeParse(value, { error: friendlyErrorMap });
  if (!result.success) {
    for (const issue of result.error.issues) ctx.addIssue(issue as Parameters<typeof ctx.addIssue>[0] & object);
    return z.NEVER;
  }
  return isObject ? (result.data as ListenerConfig) : { address: result.data as ListenAddress, http2: false };
});

import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen } from 'cockatiel';
import { Etcd3, isRecoverableError, type IOptions } from 'etcd3';
import type { EtcdConfig } from '../core/config-types.js';

/** A unary call that has not answered by then fails, so an unreachable etcd is seen at once rather than waited on. */
export const ETCD_CALL_TIMEOUT_MS = 1000;

/**
 * An etcd v3 client for a fleet's endpoints. Unary calls get a deadline; streams (watches,
 * keepalives) do not, since they are meant to stay open. A call that fails to connect is tried
 * on the next endpoint (etcd3's retry across hosts), which is what keeps the loss of one
 * member of a three-member cluster invisible.
 */
export function connectEtcd(config: EtcdConfig, options: { callTimeoutMs?: number } = {}): Etcd3 {
  const timeout = options.callTimeoutMs ?? ETCD_CALL_TIMEOUT_MS;
  const settings: IOptions = {
    hosts: config.endpoints,
    dialTimeout: timeout,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeout }),
    faultHandling: {
      // An endpoint that failed three times in a row is skipped, and tried again after a second
      // (etcd3's default waits five): a restarted etcd is used again soon after it answers.
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
      // A watch stream that broke is opened again within a second, resuming at the revision after
      // the last one it delivered (etcd3's default backs off to 30 s).
      watchBackoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 1000 }).next(),
    },
  };
  return new Etcd3(settings);
}

/** The endpoints as a message names them. */
export function describeEndpoints(config: EtcdConfig): string {
  return `etcd at ${config.endpoints.join(', ')} (prefix ${config.prefix})`;
}

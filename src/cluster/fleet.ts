import type { ListenerCertificates } from '../core/tls-material.js';
import type { DrainResult } from '../proxy/proxy-server.js';

/** One data-plane process, as GET /api/v1/workers shows it. */
export interface WorkerView {
  pid: number;
  /** The newest routing snapshot it applied. */
  snapshotVersion: number;
  /** Requests it answered (or saw aborted by the client). */
  requests: number;
  startedAt: string;
}

/**
 * The processes that route requests, as the rest of the primary sees them: one (this process)
 * or a fleet of workers. Routing changes are made on the primary's data plane and then
 * published; counters flow back.
 */
export interface Fleet {
  /** Sends the current routing everywhere; resolves once every serving process applied it. */
  publish(): Promise<void>;
  /** Brings every process's counters into the primary's data plane. */
  sync(): Promise<void>;
  /** sync() then publish(): everything counted so far is added, and every change so far (including what the counts caused, an ejection) is applied. */
  settle(): Promise<void>;
  list(): WorkerView[];
  /** Requests in flight across the processes. */
  inFlight(): number;
  /** New certificates for a TLS listener; resolves once every serving process uses them for new handshakes. */
  setCertificates(update: ListenerCertificates): Promise<void>;
}

export type { DrainResult };

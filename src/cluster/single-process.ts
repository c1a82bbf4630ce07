import type { ListenerCertificates } from '../core/tls-material.js';
import type { DataPlane } from '../proxy/data-plane.js';
import type { Fleet, WorkerView } from './fleet.js';

/**
 * `workers: 1`: this process routes from the data plane the control plane changes, so a change
 * is applied the moment it is made and the counters are already here. It still counts the
 * snapshots it published, so GET /api/v1/workers reads the same in both modes.
 */
export class SingleProcess implements Fleet {
  private readonly dataPlane: DataPlane;
  private readonly startedAt = new Date().toISOString();
  private version = 0;
  private bumping = false;

  constructor(dataPlane: DataPlane) {
    this.dataPlane = dataPlane;
  }

  publish(): Promise<void> {
    // Changes made in one tick are one snapshot, as with workers.
    if (!this.bumping) {
      this.bumping = true;
      queueMicrotask(() => {
        this.bumping = false;
        this.version += 1;
      });
    }
    return Promise.resolve();
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  settle(): Promise<void> {
    return Promise.resolve();
  }

  list(): WorkerView[] {
    let requests = 0;
    for (const runtime of this.dataPlane.runtimesList()) {
      for (const slot of [runtime.counters.blue, runtime.counters.green]) {
        requests += slot.stable.responses + slot.stable.clientAborts + slot.canary.responses + slot.canary.clientAborts;
      }
    }
    return [{ pid: process.pid, snapshotVersion: this.version, requests, startedAt: this.startedAt }];
  }

  inFlight(): number {
    return this.dataPlane.server.inFlight();
  }

  setCertificates(update: ListenerCertificates): Promise<void> {
    this.dataPlane.server.setCertificates(update);
    return Promise.resolve();
  }
}

/**
 * What a fleet member needs from etcd, in one module that start-up imports only with
 * `state.store: etcd`: etcd3 and the gRPC stack below it take about 12 MB of memory that a
 * proxy on a state file would carry for nothing.
 */
export { EtcdFleet } from './etcd-fleet.js';
export { connectEtcd, describeEndpoints } from '../state/etcd-client.js';
export { EtcdKeys } from '../state/etcd-keys.js';
export { EtcdSession } from '../state/etcd-session.js';
export { EtcdStateStore } from '../state/etcd-state-store.js';
export { LeaderElection } from '../state/leader-election.js';

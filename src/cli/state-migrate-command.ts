import { existsSync } from 'node:fs';
import { loadConfigFile } from '../config/load-config.js';
import { ShiftError } from '../core/errors.js';
import { connectEtcd, describeEndpoints } from '../state/etcd-client.js';
import { EtcdKeys } from '../state/etcd-keys.js';
import { EtcdStateStore } from '../state/etcd-state-store.js';
import { FileStateStore } from '../state/file-state-store.js';
import type { PersistedState } from '../state/state-store.js';

export interface MigrateOptions {
  config: string;
  from: string;
  to: string;
  force?: boolean;
}

/**
 * `shiftproxy state migrate --from file --to etcd -c FILE` (or back): copies every service's
 * routing and current or last rollout, as the source holds it, to the other store. It holds the
 * state file's lock while it runs, so it refuses while a shiftproxy still uses that file, and
 * never writes over state the destination already has unless `force`. A rollout in progress
 * resumes where it was when the instances start on the new store, its step timers counting
 * from their persisted timestamps. Returns the lines to print.
 */
export async function stateMigrateCommand(options: MigrateOptions): Promise<string[]> {
  const direction = `${options.from}->${options.to}`;
  if (direction !== 'file->etcd' && direction !== 'etcd->file') {
    throw new ShiftError('BAD_ARGUMENT', `--from and --to must be "file" and "etcd", one each (got --from ${options.from} --to ${options.to})`, 400);
  }
  const config = loadConfigFile(options.config);
  const etcdConfig = config.state.etcd;
  const file = new FileStateStore(config.state.path);
  const client = connectEtcd(etcdConfig);
  const etcd = new EtcdStateStore({ client, keys: new EtcdKeys(etcdConfig.prefix), instance: 'state migrate', where: describeEndpoints(etcdConfig) });
  try {
    await etcd.open();
    if (direction === 'file->etcd') {
      if (!existsSync(config.state.path)) throw new ShiftError('STATE_ERROR', `there is no state file at ${config.state.path}: nothing to migrate`, 400);
      await file.open();
      try {
        const state = await file.load();
        if (!state) throw new ShiftError('STATE_ERROR', `the state file ${config.state.path} is empty: nothing to migrate`, 400);
        const revision = await etcd.writeAll(state, { replace: options.force === true });
        return [`moved the rollout state of ${summary(state)} from ${config.state.path} to ${etcd.describe()} (revision ${revision})`, 'start the instances with state.store: etcd; the state file is left as it was'];
      } finally {
        await file.close();
      }
    }
    const state = await etcd.load();
    if (!state) throw new ShiftError('STATE_ERROR', `${etcd.describe()} holds no rollout state: nothing to migrate`, 400);
    if (existsSync(config.state.path) && options.force !== true) {
      throw new ShiftError('STATE_ERROR', `${config.state.path} already exists; pass --force to replace it`, 400);
    }
    await file.open();
    try {
      await file.save(state);
    } finally {
      await file.close();
    }
    return [`moved the rollout state of ${summary(state)} from ${etcd.describe()} to ${config.state.path}`, 'stop every instance of the fleet before one starts on the file (the keys in etcd are left as they were)'];
  } finally {
    client.close();
  }
}

function summary(state: PersistedState): string {
  return Object.entries(state.services)
    .map(([name, s]) => `${name} (${s.live} live${s.rollout ? `, rollout ${s.rollout.id} ${s.rollout.state} at ${s.rollout.canaryWeight}%` : ''})`)
    .join(', ');
}

import { loadConfigFile } from '../config/load-config.js';
import { formatListen, type ListenAddress } from '../core/types.js';
import { positiveNumberOption } from './option-values.js';
import type { RolloutView } from '../rollout/rollout-view.js';
import { AdminClient } from './admin-client.js';
import type { RolloutSummary } from '../rollout/rollout-summary.js';
import { formatRolloutHistory, formatRolloutStatus } from './rollout-format.js';

export interface RolloutCliOptions {
  admin?: string;
  token?: string;
  config?: string;
  json?: boolean;
  strategy?: string;
  preset?: string;
  step?: string;
  interval?: string;
  targets?: string;
  /** promote: skip the bake too. */
  full?: boolean;
}

export type RolloutAction = 'start' | 'status' | 'history' | 'pause' | 'resume' | 'promote' | 'abort';

/**
 * `shiftproxy rollout ACTION SERVICE`: records intent through the admin API and prints the
 * rollout the controller now has.
 */
export async function rolloutCommand(action: RolloutAction, service: string, options: RolloutCliOptions, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const client = clientFor(options);
  const path = `/api/v1/services/${encodeURIComponent(service)}/rollout`;
  if (action === 'history') {
    const past = await client.get<RolloutSummary[]>(`${path}s`);
    out.write(options.json ? `${JSON.stringify(past, null, 2)}\n` : formatRolloutHistory(service, past));
    return;
  }
  let rollout: RolloutView;
  if (action === 'status') rollout = await client.get<RolloutView>(path);
  else if (action === 'start') rollout = await client.post<RolloutView>(path, startBody(options));
  else if (action === 'promote' && options.full) rollout = await client.post<RolloutView>(`${path}/promote`, { full: true });
  else rollout = await client.post<RolloutView>(`${path}/${action}`);
  out.write(options.json ? `${JSON.stringify(rollout, null, 2)}\n` : formatRolloutStatus(rollout));
}

/**
 * Where the admin API is: `--admin URL`, else the `admin.listen` of the config given with
 * `-c FILE`, else $SHIFTPROXY_ADMIN, else the default address. The token the same way, with
 * $SHIFTPROXY_ADMIN_TOKEN. An unreachable API is reported with where its address came from.
 */
export function clientFor(options: Pick<RolloutCliOptions, 'admin' | 'token' | 'config'>, env: NodeJS.ProcessEnv = process.env): AdminClient {
  const config = options.config ? loadConfigFile(options.config, env) : undefined;
  let admin: { url: string; from: string };
  if (options.admin) admin = { url: options.admin, from: '--admin' };
  else if (config) admin = { url: `http://${formatListen(connectableAddress(config.admin.listen))}`, from: `admin.listen in ${options.config}` };
  else if (env.SHIFTPROXY_ADMIN) admin = { url: env.SHIFTPROXY_ADMIN, from: '$SHIFTPROXY_ADMIN' };
  else admin = { url: DEFAULT_ADMIN, from: 'the default address' };
  const token = options.token ?? (config?.admin.token || undefined) ?? env.SHIFTPROXY_ADMIN_TOKEN;
  return new AdminClient(admin.url, token, admin.from);
}

const DEFAULT_ADMIN = 'http://127.0.0.1:9090';

/** A wildcard listen address is not one to connect to: its loopback is. */
function connectableAddress(listen: ListenAddress): ListenAddress {
  if (listen.host === '0.0.0.0') return { ...listen, host: '127.0.0.1' };
  if (listen.host === '::') return { ...listen, host: '::1' };
  return listen;
}

function startBody(options: RolloutCliOptions): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (options.strategy) body.strategy = options.strategy;
  if (options.preset) body.preset = options.preset;
  if (options.step !== undefined) body.step = positiveNumberOption('--step', options.step);
  if (options.interval) body.interval = options.interval;
  if (options.targets) body.targets = options.targets.split(',').map((t) => t.trim()).filter(Boolean);
  return body;
}

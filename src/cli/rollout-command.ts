import { loadConfigFile } from '../config/load-config.js';
import type { AdminConfig } from '../core/config-types.js';
import { ShiftError } from '../core/errors.js';
import { formatListen, type ListenAddress } from '../core/types.js';
import { positiveNumberOption } from './option-values.js';
import type { RolloutView } from '../rollout/rollout-view.js';
import { AdminClient } from './admin-client.js';
import type { RolloutSummary } from '../rollout/rollout-summary.js';
import { formatRolloutHistory, formatRolloutStatus } from './rollout-format.js';

export interface RolloutCliOptions {
  admin?: string;
  token?: string;
  /** The name of the `admin.tokens` entry (in the -c config) to act with. */
  as?: string;
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
 * `-c FILE`, else $SHIFTPROXY_ADMIN, else the default address. The token the same way (see
 * tokenFromConfig), with $SHIFTPROXY_ADMIN_TOKEN. An unreachable API is reported with where its
 * address came from.
 */
export function clientFor(options: Pick<RolloutCliOptions, 'admin' | 'token' | 'as' | 'config'>, env: NodeJS.ProcessEnv = process.env): AdminClient {
  const config = options.config ? loadConfigFile(options.config, env) : undefined;
  let admin: { url: string; from: string };
  if (options.admin) admin = { url: options.admin, from: '--admin' };
  else if (config) admin = { url: `http://${formatListen(connectableAddress(config.admin.listen))}`, from: `admin.listen in ${options.config}` };
  else if (env.SHIFTPROXY_ADMIN) admin = { url: env.SHIFTPROXY_ADMIN, from: '$SHIFTPROXY_ADMIN' };
  else admin = { url: DEFAULT_ADMIN, from: 'the default address' };
  if (options.as !== undefined && !config) throw new ShiftError('USAGE', '--as names an entry of admin.tokens: give the config with -c FILE', 400);
  const token = options.token ?? (config ? tokenFromConfig(config.admin, options.as, options.config as string) : undefined) ?? env.SHIFTPROXY_ADMIN_TOKEN;
  return new AdminClient(admin.url, token, admin.from);
}

/**
 * The token to act with from the config: the `admin.tokens` entry named by `--as`, else
 * `admin.token`, else the only operator in `admin.tokens`. With several operators and no
 * `--as` it refuses rather than pick one, because the history records who acted by token name.
 */
function tokenFromConfig(admin: AdminConfig, as: string | undefined, file: string): string | undefined {
  if (as !== undefined) {
    const named = admin.tokens.find((t) => t.name === as);
    if (!named) throw new ShiftError('USAGE', `--as ${as}: admin.tokens in ${file} has no token named so (it has: ${admin.tokens.map((t) => t.name).join(', ') || 'none'})`, 400);
    return named.token;
  }
  if (admin.token) return admin.token;
  const operators = admin.tokens.filter((t) => t.role === 'operator');
  if (operators.length === 1) return operators[0]?.token;
  if (operators.length > 1) throw new ShiftError('USAGE', `admin.tokens in ${file} has ${operators.length} operators (${operators.map((t) => t.name).join(', ')}): say which one acts with --as NAME`, 400);
  return admin.tokens[0]?.token;
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

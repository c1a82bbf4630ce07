import { loadConfigFile } from '../config/load-config.js';
import { formatListen } from '../core/types.js';
import type { RolloutView } from '../rollout/rollout-view.js';
import { AdminClient } from './admin-client.js';
import { formatRolloutStatus } from './rollout-format.js';

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
}

export type RolloutAction = 'start' | 'status' | 'pause' | 'resume' | 'promote' | 'abort';

/**
 * `shiftproxy rollout ACTION SERVICE`: records intent through the admin API and prints the
 * rollout the controller now has. The admin address and token come from the flags, else from
 * `-c FILE`, else from $SHIFTPROXY_ADMIN_URL / $SHIFTPROXY_ADMIN_TOKEN, else the defaults.
 */
export async function rolloutCommand(action: RolloutAction, service: string, options: RolloutCliOptions, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const client = clientFor(options);
  const path = `/api/v1/services/${encodeURIComponent(service)}/rollout`;
  let rollout: RolloutView;
  if (action === 'status') rollout = await client.get<RolloutView>(path);
  else if (action === 'start') rollout = await client.post<RolloutView>(path, startBody(options));
  else rollout = await client.post<RolloutView>(`${path}/${action}`);
  out.write(options.json ? `${JSON.stringify(rollout, null, 2)}\n` : formatRolloutStatus(rollout));
}

export function clientFor(options: Pick<RolloutCliOptions, 'admin' | 'token' | 'config'>): AdminClient {
  let admin = options.admin ?? process.env.SHIFTPROXY_ADMIN_URL;
  let token = options.token ?? process.env.SHIFTPROXY_ADMIN_TOKEN;
  if (options.config) {
    const config = loadConfigFile(options.config);
    const listen = config.admin.listen;
    const host = listen.host === '0.0.0.0' ? '127.0.0.1' : listen.host === '::' ? '::1' : listen.host;
    admin ??= `http://${formatListen({ host, port: listen.port })}`;
    token ??= config.admin.token || undefined;
  }
  return new AdminClient(admin ?? 'http://127.0.0.1:9090', token);
}

function startBody(options: RolloutCliOptions): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (options.strategy) body.strategy = options.strategy;
  if (options.preset) body.preset = options.preset;
  if (options.step !== undefined) body.step = Number(options.step);
  if (options.interval) body.interval = options.interval;
  if (options.targets) body.targets = options.targets.split(',').map((t) => t.trim()).filter(Boolean);
  return body;
}

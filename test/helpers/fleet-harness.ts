import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { FakeBackend } from '../../src/simulate/fake-backend.js';
import { listeningPorts, startCli, type CliProcess } from './cli-process.js';
import { startEtcd, type EtcdCluster } from './real-etcd.js';
import { until, WAIT_MS } from './wait-for.js';

export interface FleetInstance {
  readonly name: string;
  readonly file: string;
  cli: CliProcess;
  proxy: number;
  admin: number;
  /** Starts it again (after kill), on the same config. */
  restart(): Promise<void>;
  /** SIGKILL, waiting for the exit. */
  kill(): Promise<void>;
  alive(): boolean;
}

export interface FleetOptions {
  etcd: EtcdCluster;
  names: string[];
  /** The rollout section of the service, as YAML flow or block text indented for `rollout:`. */
  rollout: string;
  /** Per instance: YAML appended to the service (e.g. a different analysis). */
  serviceExtra?: (name: string) => string;
  leaseTtl?: string;
  prefix?: string;
  /** Per instance: a last change to its config text. */
  transform?: (name: string, text: string) => string;
}

export interface Fleet {
  readonly instances: FleetInstance[];
  readonly blue: FakeBackend;
  readonly green: FakeBackend;
  byName(name: string): FleetInstance;
  stop(): Promise<void>;
}

export interface FleetStarters {
  etcd(size?: number): Promise<EtcdCluster>;
  fleet(options: FleetOptions): Promise<Fleet>;
}

/**
 * Starts etcd clusters and fleets whose stops go on the test file's `cleanup` stack, which it
 * empties last-first after each test: a fleet is stopped before the etcd it runs on.
 */
export function fleetStarters(cleanup: (() => Promise<unknown>)[]): FleetStarters {
  return {
    async etcd(size = 1) {
      const cluster = await startEtcd({ size });
      cleanup.push(() => cluster.stop());
      return cluster;
    },
    async fleet(options) {
      const started = await startFleet(options);
      cleanup.push(() => started.stop());
      return started;
    },
  };
}

/** Config text for one instance of a fleet on `etcd`, its ports chosen by the kernel. */
export function fleetConfig(options: FleetOptions, name: string, blue: string, green: string): string {
  return `
instance: { name: ${name} }
listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
state:
  store: etcd
  etcd:
    endpoints: [ ${options.etcd.endpoints.map((e) => `"${e}"`).join(', ')} ]
    prefix: ${options.prefix ?? '/shiftproxy-test/'}
    leaseTtl: ${options.leaseTtl ?? '2s'}
services:
  - name: shop
    blue: { targets: [ { url: "${blue}" } ] }
    green: { targets: [ { url: "${green}" } ] }
    rollout: ${options.rollout}
${options.serviceExtra?.(name) ?? ''}`;
}

/**
 * Real `shiftproxy run` processes sharing one rollout through a real etcd, in front of two fake
 * backends. Instances are stopped by pid.
 */
export async function startFleet(options: FleetOptions, env: NodeJS.ProcessEnv = {}): Promise<Fleet> {
  const blue = new FakeBackend('blue');
  const green = new FakeBackend('green');
  await Promise.all([blue.start(), green.start()]);
  const dir = mkdtempSync(join(tmpdir(), 'shiftproxy-fleet-'));
  const instances: FleetInstance[] = [];
  for (const name of options.names) {
    const file = join(dir, `${name}.yaml`);
    const text = fleetConfig(options, name, blue.url, green.url);
    writeFileSync(file, options.transform ? options.transform(name, text) : text);
    instances.push(instance(name, file, env));
  }
  const fleet: Fleet = {
    instances,
    blue,
    green,
    byName: (name) => {
      const found = instances.find((i) => i.name === name);
      if (!found) throw new Error(`no instance ${name}`);
      return found;
    },
    async stop() {
      await Promise.all(instances.map((i) => i.kill()));
      await Promise.all([blue.stop(), green.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(instances.map((i) => i.restart()));
  } catch (err) {
    await fleet.stop();
    throw err;
  }
  return fleet;
}

function instance(name: string, file: string, env: NodeJS.ProcessEnv): FleetInstance {
  let cli: CliProcess | null = null;
  const alive = () => cli !== null && cli.child.exitCode === null && cli.child.signalCode === null;
  const self: FleetInstance = {
    name,
    file,
    get cli() {
      if (!cli) throw new Error(`${name} never started`);
      return cli;
    },
    proxy: 0,
    admin: 0,
    alive,
    async restart() {
      cli = startCli(['run', '-c', file], env);
      const ports = await listeningPorts(cli);
      self.proxy = ports.proxy;
      self.admin = ports.admin;
    },
    async kill() {
      if (cli && alive()) {
        cli.child.kill('SIGKILL');
        await cli.exited;
      }
    },
  };
  return self;
}

export async function api(admin: number, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(`http://127.0.0.1:${admin}${path}`, {
    method,
    headers: body !== undefined ? { 'content-type': 'application/json' } : {},
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(WAIT_MS),
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

export interface FleetViewBody {
  leader: string | null;
  self: string;
  degraded: boolean;
  etcd: { reachable: boolean; watching: boolean; error: string | null; appliedRevision: number };
  instances: { name: string; adminUrl: string; configHash: string; appliedRevision: number; lastSeen: string; leader: boolean; degraded: boolean }[];
}

export async function fleetView(i: FleetInstance): Promise<FleetViewBody> {
  return (await api(i.admin, 'GET', '/api/v1/fleet')).body as unknown as FleetViewBody;
}

/** Waits until every live instance names the same leader, one of them, and returns it. */
export async function agreedLeader(instances: readonly FleetInstance[], timeoutMs = WAIT_MS): Promise<FleetInstance> {
  let leader: FleetInstance | undefined;
  await until(
    async () => {
      const live = instances.filter((i) => i.alive());
      const views = await Promise.all(live.map((i) => fleetView(i).catch(() => null)));
      const names = new Set(views.map((v) => v?.leader ?? null));
      const [only] = [...names];
      if (names.size !== 1 || !only) return false;
      const candidate = live.find((i) => i.name === only);
      const selfView = candidate ? views[live.indexOf(candidate)] : null;
      if (!candidate || selfView?.leader !== candidate.name) return false;
      // The leader's metric says it acts (elected and caught up), not only that it holds the key.
      const metrics = await request(`http://127.0.0.1:${candidate.admin}/metrics`).then((r) => r.body.text());
      if (!/^shiftproxy_fleet_leader 1$/m.test(metrics)) return false;
      leader = candidate;
      return true;
    },
    'every instance naming one leader',
    timeoutMs,
  );
  return leader as FleetInstance;
}

export interface RolloutBody {
  id: string;
  state: string;
  canaryWeight: number;
  history: { at: string; event: string; canaryWeight: number; detail: unknown }[];
  [key: string]: unknown;
}

export async function rolloutOf(i: FleetInstance, service = 'shop'): Promise<RolloutBody | null> {
  const res = await api(i.admin, 'GET', `/api/v1/services/${service}/rollout`);
  return res.status === 200 ? (res.body as unknown as RolloutBody) : null;
}

export async function weightsOf(i: FleetInstance, service = 'shop'): Promise<{ live: string; weights: { blue: number; green: number } }> {
  const res = await api(i.admin, 'GET', `/api/v1/services/${service}`);
  return res.body as unknown as { live: string; weights: { blue: number; green: number } };
}

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { freeLoopbackPort } from './real-prometheus.js';

/** Why the real etcd cannot run here, or undefined when it can. */
export function etcdMissing(): string | undefined {
  const probe = spawnSync('etcd', ['--version'], { stdio: 'ignore', timeout: 10_000 });
  if (probe.error) return `the etcd binary is not on PATH (${probe.error.message}); install the Debian package "etcd-server" (.ci/run does)`;
  return probe.status === 0 ? undefined : `etcd --version exited with ${String(probe.status)}`;
}

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  pid(): number | null;
  running(): boolean;
  log(): string;
  /** Starts (or starts again, on the same data dir and ports) and waits until it answers /health. */
  start(): Promise<void>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
}

export interface EtcdCluster {
  readonly members: EtcdMember[];
  /** Every member's client URL, for `state.etcd.endpoints`. */
  readonly endpoints: string[];
  /** Waits until the cluster has a leader and answers a linearizable read on `member` (the first by default). */
  ready(member?: EtcdMember): Promise<void>;
  /** The member raft elected leader of the cluster, as the running members say. */
  raftLeader(): Promise<EtcdMember>;
  /** Kills every member and removes their data dirs. */
  stop(): Promise<void>;
}

/**
 * Debian's etcd (3.4) on free loopback ports: `size` members in one cluster, each with its own
 * temporary data dir. Members are stopped by pid, never by name.
 */
export async function startEtcd(options: { size?: number } = {}): Promise<EtcdCluster> {
  const size = options.size ?? 1;
  const root = mkdtempSync(join(tmpdir(), 'shiftproxy-etcd-'));
  const ports: { client: number; peer: number }[] = [];
  for (let i = 0; i < size; i++) ports.push({ client: await freeLoopbackPort(), peer: await freeLoopbackPort() });
  const names = ports.map((_, i) => `m${i}`);
  const initialCluster = names.map((name, i) => `${name}=http://127.0.0.1:${ports[i]?.peer}`).join(',');
  const token = `shiftproxy-test-${process.pid}-${ports[0]?.client}`;
  const members = names.map((name, i) => member(name, ports[i] as { client: number; peer: number }, join(root, name), initialCluster, token));
  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.clientUrl),
    async ready(which = members[0] as EtcdMember) {
      await waitHealthy(which);
    },
    async raftLeader() {
      const statuses = await Promise.all(members.filter((m) => m.running()).map((m) => status(m).then((st) => ({ m, st }))));
      const leaderId = statuses[0]?.st.leader;
      const found = statuses.find(({ st }) => st.header.member_id === leaderId);
      if (!found) throw new Error('no etcd member reports itself as the raft leader');
      return found.m;
    },
    async stop() {
      await Promise.all(members.map((m) => m.kill()));
      rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    // Members of a new cluster wait for each other: start them all before waiting for any.
    await Promise.all(members.map((m) => m.start()));
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

function member(name: string, ports: { client: number; peer: number }, dataDir: string, initialCluster: string, token: string): EtcdMember {
  const clientUrl = `http://127.0.0.1:${ports.client}`;
  const peerUrl = `http://127.0.0.1:${ports.peer}`;
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  const running = () => child !== null && child.exitCode === null && child.signalCode === null;
  const self: EtcdMember = {
    name,
    clientUrl,
    peerUrl,
    dataDir,
    pid: () => (running() ? (child?.pid ?? null) : null),
    running,
    log: () => output,
    async start() {
      if (running()) return;
      child = spawn(
        'etcd',
        [
          `--name=${name}`,
          `--data-dir=${dataDir}`,
          `--listen-client-urls=${clientUrl}`,
          `--advertise-client-urls=${clientUrl}`,
          `--listen-peer-urls=${peerUrl}`,
          `--initial-advertise-peer-urls=${peerUrl}`,
          `--initial-cluster=${initialCluster}`,
          `--initial-cluster-token=${token}`,
          '--initial-cluster-state=new',
          '--log-level=warn',
          '--logger=zap',
          // Short election timings keep a lost member's effect short; loopback has no latency to absorb.
          '--heartbeat-interval=50',
          '--election-timeout=500',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      const proc = child;
      exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      await waitHealthy(self);
    },
    async kill() {
      if (!child) return;
      if (running()) process.kill(child.pid as number, 'SIGKILL');
      await exited;
    },
  };
  return self;
}

/** etcd's /health answers 200 with `"health":"true"` once the member has a leader and serves reads. */
async function waitHealthy(m: EtcdMember, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (!m.running()) throw new Error(`etcd ${m.name} exited during start-up:\n${m.log()}`);
    try {
      const res = await request(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
      const body = await res.body.text();
      if (res.statusCode === 200 && body.includes('"true"')) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`etcd ${m.name} not healthy after ${timeoutMs} ms:\n${m.log()}`);
}

async function status(m: EtcdMember): Promise<{ leader: string; header: { member_id: string } }> {
  const res = await request(`${m.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(5000) });
  return (await res.body.json()) as { leader: string; header: { member_id: string } };
}

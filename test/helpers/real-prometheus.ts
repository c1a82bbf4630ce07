import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';

/** Why the real Prometheus cannot run here, or undefined when it can. */
export function prometheusMissing(): string | undefined {
  const probe = spawnSync('prometheus', ['--version'], { stdio: 'ignore', timeout: 10_000 });
  if (probe.error) return `the prometheus binary is not on PATH (${probe.error.message}); install the Debian package "prometheus" (.ci/run does)`;
  return probe.status === 0 ? undefined : `prometheus --version exited with ${String(probe.status)}`;
}

export interface RealPrometheus {
  readonly url: string;
  readonly pid: number;
  /** When the process was spawned (performance.now()). */
  readonly startedAt: number;
  /** Its log so far, for failure messages. */
  log(): string;
  /** SIGSTOP, resolved once every thread is stopped: the kernel still accepts connections, nothing answers. */
  pause(): Promise<void>;
  /** SIGCONT after pause(). */
  resume(): void;
  /** SIGKILL and wait for the exit; the port then refuses. */
  kill(): Promise<void>;
  /** kill() if still running, then remove its config and storage. */
  stop(): Promise<void>;
}

/**
 * Starts `prometheus` on a free loopback port with a temporary config that scrapes each target's
 * /metrics every second and a temporary TSDB, and waits for /-/ready. Never touches port 9090.
 * `port` is for callers that must put the URL into a config before Prometheus runs.
 */
export async function startPrometheus(options: { targets: string[]; jobName?: string; port?: number }): Promise<RealPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'shiftproxy-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(
    configFile,
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      `  - job_name: ${options.jobName ?? 'shiftproxy'}`,
      '    static_configs:',
      `      - targets: [${options.targets.map((t) => `'${t}'`).join(', ')}]`,
      '',
    ].join('\n'),
  );
  const port = options.port ?? (await freeLoopbackPort());
  const startedAt = performance.now();
  const child = spawn(
    'prometheus',
    [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid as number;
  const url = `http://127.0.0.1:${port}`;

  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(pid, 'SIGKILL');
      await exited;
    }
  };
  const handle: RealPrometheus = {
    url,
    pid,
    startedAt,
    log: () => output,
    pause: async () => {
      process.kill(pid, 'SIGSTOP');
      await allThreadsStopped(pid);
    },
    resume: () => process.kill(pid, 'SIGCONT'),
    kill,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitReady(url, child, () => output);
  } catch (err) {
    await handle.stop();
    throw err;
  }
  return handle;
}

async function waitReady(url: string, child: ChildProcess, log: () => string, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`prometheus exited during start-up:\n${log()}`);
    try {
      const res = await request(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      await res.body.dump();
      if (res.statusCode === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`prometheus not ready after ${timeoutMs} ms:\n${log()}`);
}

/** A signal reaches a many-threaded Go process thread by thread; wait until none still runs. */
export async function allThreadsStopped(pid: number, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const states = readdirSync(`/proc/${pid}/task`).map((tid) => {
      try {
        // The state follows the parenthesised command name, which may itself hold spaces.
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      } catch {
        return 'T'; // the thread ended meanwhile
      }
    });
    if (states.every((state) => state === 'T' || state === 't')) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`prometheus (pid ${pid}) did not stop within ${timeoutMs} ms of SIGSTOP`);
}

/** A port nothing listens on right now, for a server whose URL must be known before it starts. */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

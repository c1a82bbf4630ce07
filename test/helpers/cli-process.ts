import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { WAIT_MS } from './wait-for.js';

const BIN = resolve(__dirname, '../../bin/shiftproxy.js');

export interface CliProcess {
  child: ChildProcess;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
  stderr: string[];
  /** Resolves with the first log line matching `test`. */
  waitForLog(test: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  rssBytes(): number;
  openFds(): number;
}

/**
 * `shiftproxy run` as a child process, its JSON logs parsed line by line. With
 * SHIFTPROXY_TEST_WORKERS=N, `run` gets `--workers N` unless the test chose its own. `node` is
 * the Node.js that starts the bin (an older one exercises the hand-over to the bundled Node).
 */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}, node = process.execPath): CliProcess {
  return watchCli(spawn(node, [BIN, ...withTestWorkers(args)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

function withTestWorkers(args: string[]): string[] {
  const workers = process.env.SHIFTPROXY_TEST_WORKERS;
  return args[0] === 'run' && workers !== undefined && !args.includes('--workers') ? [...args, '--workers', workers] : args;
}

/**
 * `shiftproxy` under a parent that never reaps its children, like a container whose PID 1 is not
 * an init: once shiftproxy dies it stays a zombie, so its pid still "exists" (kill(pid, 0)
 * succeeds) for as long as `parent` runs. `cli.child` is that parent; `pid` is shiftproxy's.
 */
export async function startCliUnreaped(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ cli: CliProcess; pid: number }> {
  // sh starts shiftproxy in the background, reports its pid on fd 3, then becomes `sleep`, which never waits for it.
  const script = '"$0" "$@" 3>&- & echo $! >&3; exec sleep 3600 3>&-';
  const parent = spawn('/bin/sh', ['-c', script, process.execPath, BIN, ...withTestWorkers(args)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  const cli = watchCli(parent);
  const pidLine = await new Promise<string>((resolvePid, reject) => {
    let text = '';
    const fd3 = parent.stdio[3] as NodeJS.ReadableStream;
    fd3.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) resolvePid(text);
    });
    fd3.on('end', () => reject(new Error(`no pid reported; stderr: ${cli.stderr.join('')}`)));
  });
  return { cli, pid: Number(pidLine.trim()) };
}

/** The state letter of a process in /proc/PID/stat (R, S, Z for a zombie, ...), or null once it is gone. */
export function processState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

function watchCli(child: ChildProcess): CliProcess {
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  const waiters: { test: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    let newline: number;
    while ((newline = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, newline);
      partial = partial.slice(newline + 1);
      if (!line.trim()) continue;
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        parsed = { unparsed: line };
      }
      logs.push(parsed);
      for (const waiter of [...waiters]) {
        if (waiter.test(parsed)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(parsed);
        }
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
    child.once('exit', (code, signal) => resolveExit({ code, signal })),
  );
  // 'close' comes after the last of stdout: a line logged just before exiting has been read by then.
  const closed = new Promise<void>((resolveClose) => child.once('close', () => resolveClose()));
  return {
    child,
    logs,
    stderr,
    exited,
    waitForLog(test, timeoutMs = WAIT_MS) {
      const found = logs.find(test);
      if (found) return Promise.resolve(found);
      return new Promise((resolveLog, reject) => {
        const waiter = {
          test,
          resolve: (line: Record<string, unknown>) => {
            clearTimeout(timer);
            resolveLog(line);
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${stderr.join('')}`));
        }, timeoutMs);
        waiters.push(waiter);
        // A process that exits will never log it: say so now rather than at the bound.
        void closed.then(() => {
          if (!waiters.includes(waiter)) return;
          const { exitCode: code, signalCode: signal } = child;
          waiters.splice(waiters.indexOf(waiter), 1);
          clearTimeout(timer);
          reject(new Error(`the process exited (code ${code}, signal ${signal}) without the log line; stderr: ${stderr.join('')}`));
        });
      });
    },
    rssBytes() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
    },
    openFds() {
      return readdirCount(`/proc/${child.pid}/fd`);
    },
  };
}

function readdirCount(path: string): number {
  return readdirSync(path).length;
}

export function writeTempConfig(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'shiftproxy-cli-'));
  const file = join(dir, 'shiftproxy.yaml');
  writeFileSync(file, yaml);
  return file;
}

/** The bound proxy and admin ports, from the "shiftproxy listening" log line. */
export async function listeningPorts(cli: CliProcess): Promise<{ proxy: number; admin: number }> {
  const line = await cli.waitForLog((l) => l.msg === 'shiftproxy listening');
  const port = (text: string) => Number(text.slice(text.lastIndexOf(':') + 1));
  return { proxy: port((line.proxy as string[])[0] as string), admin: port(line.admin as string) };
}

/** A one-shot command (validate, plan, simulate, demo): its exit code and everything it printed. */
export function runCli(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolveRun, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`shiftproxy ${args.join(' ')} did not finish within ${timeoutMs} ms; stdout: ${stdout}; stderr: ${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

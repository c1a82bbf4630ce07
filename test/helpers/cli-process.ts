import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

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
 * Harness H4: `shiftproxy run` as a child process, its JSON logs parsed line by line. With
 * SHIFTPROXY_TEST_WORKERS=N, `run` gets `--workers N` unless the test chose its own.
 */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const workers = process.env.SHIFTPROXY_TEST_WORKERS;
  const withWorkers = args[0] === 'run' && workers !== undefined && !args.includes('--workers') ? [...args, '--workers', workers] : args;
  const child = spawn(process.execPath, [BIN, ...withWorkers], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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
  return {
    child,
    logs,
    stderr,
    exited,
    waitForLog(test, timeoutMs = 10_000) {
      const found = logs.find(test);
      if (found) return Promise.resolve(found);
      return new Promise((resolveLog, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${stderr.join('')}`)), timeoutMs);
        waiters.push({
          test,
          resolve: (line) => {
            clearTimeout(timer);
            resolveLog(line);
          },
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

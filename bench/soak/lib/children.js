// Child processes of a soak run. Every process the suite starts is registered here so that a
// failing check, a thrown error or Ctrl-C never leaves a proxy or an upstream running. Only the
// PIDs started here are ever signalled.
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

const live = new Set();

/** The load side (this process, autocannon, the upstreams) shares CPU 0; of this suite's processes only the proxy runs on CPU 1. */
export const LOAD_CPU = 0;
export const PROXY_CPU = 1;

const canPin = availableParallelism() >= 2 && spawnSync('taskset', ['-V']).status === 0;

/** Pins this process (every thread, hence `-a`) to the load CPU, so it never competes with the proxy. */
export function pinSelf() {
  if (canPin) spawnSync('taskset', ['-a', '-p', '-c', String(LOAD_CPU), String(process.pid)], { stdio: 'ignore' });
}

/** `command args` on one CPU when the machine has two; taskset execs, so the PID is the command's. */
export function pinned(cpu, command, args) {
  return canPin ? ['taskset', ['-c', String(cpu), command, ...args]] : [command, args];
}

/** Spawns and registers a child; it leaves the registry when it exits. */
export function spawnChild(command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  live.add(child);
  child.exitInfo = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  return child;
}

/** Sends `signal`, then SIGKILL if the child is still there after `graceMs`; resolves with its exit. */
export async function stopChild(child, signal = 'SIGTERM', graceMs = 10_000) {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitInfo;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  const info = await child.exitInfo;
  clearTimeout(timer);
  return info;
}

export function isAlive(child) {
  return child.exitCode === null && child.signalCode === null;
}

/** Calls `onLine` for every complete line the stream yields. */
export function eachLine(stream, onLine) {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      onLine(line);
    }
  });
}

function killAll() {
  for (const child of live) child.kill('SIGKILL');
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

/** Safety net between scenarios: anything a scenario left running is killed before the next one starts. */
export async function stopAll() {
  await Promise.all([...live].map((child) => stopChild(child, 'SIGKILL', 1000)));
}

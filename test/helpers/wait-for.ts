/**
 * How long a wait for an event may last before the test fails. A wait ends when its event
 * happens; this bound only turns a wait that would never end into a failure with a message, so
 * it is generous enough for a machine busy with other work and never decides an outcome.
 */
export const WAIT_MS = 15_000;

/** Polls `check` until it holds; fails naming `what` after `timeoutMs` (a failure bound). */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Lets the event loop run `turns` times round, each through an I/O poll (a setImmediate
 * callback runs only after one). When client and server live in this process and talk over
 * loopback, bytes one side has written are read by the other within a turn; counting turns
 * rather than milliseconds holds however slowly the machine runs.
 */
export async function loopTurns(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}

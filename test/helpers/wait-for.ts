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

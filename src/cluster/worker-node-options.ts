/**
 * The node options a worker starts with. Not the primary's: a test runner's or a debugger's
 * options are not the worker's. One V8 setting is chosen for it, the young generation's size.
 *
 * V8 grows each of the young generation's two semi-spaces to 16 MB under steady allocation, and
 * a worker allocates steadily: 32 MB of each loaded worker's resident memory was the young
 * generation, mostly garbage waiting for the next scavenge. A data plane's per-request objects
 * die young and few survive a scavenge, so scavenging a 4 MB semi-space more often costs little.
 * Measured (README, benchmark section): the same build at 0.96x the CPU per request with it,
 * and 41 MiB less RSS under wrk; the soak's busier worker went from 163 to 119 MB.
 *
 * A semi-space size the operator chose (in NODE_OPTIONS, which workers inherit, or on the
 * primary's own command line) wins: a flag on the worker's command line would override the
 * environment's, so none is added then.
 */
export const WORKER_SEMI_SPACE_MB = 4;

// V8 takes its flags with dashes or underscores; node takes this one only as `--flag=value`.
const SEMI_SPACE_FLAG = /^--max[-_]semi[-_]space[-_]size=/;

export function workerExecArgv(primaryExecArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): string[] {
  const fromPrimary = primaryExecArgv.find((arg) => SEMI_SPACE_FLAG.test(arg));
  if (fromPrimary !== undefined) return [fromPrimary];
  if (nodeOptions.split(/\s+/).some((option) => SEMI_SPACE_FLAG.test(option))) return [];
  return [`--max-semi-space-size=${WORKER_SEMI_SPACE_MB}`];
}

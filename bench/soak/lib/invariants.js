// The invariants every soak scenario ends with: the proxy stayed alive, logged nothing uncaught
// and exits 0 on a planned stop; its descriptors are back to the baseline; no request is left active.
import { pollUntil } from './probes.js';

/** Descriptors back to the baseline. `timeoutMs` must cover the upstream pool's keep-alive timeout, whose sockets count too. */
export async function checkFdsBack(report, proxy, baseline, timeoutMs = 10_000) {
  const { value, reached } = await pollUntil(
    () => proxy.fds(),
    (fds) => Math.abs(fds - baseline) <= 2,
    timeoutMs,
  );
  report.check('open fds back to baseline after the load', reached, `${value} (baseline ${baseline})`, `baseline ±2 within ${timeoutMs / 1000} s`);
  return reached;
}

/** No request left active: the proxy's per-target in-flight gauge returns to 0. */
export async function checkNoActiveRequests(report, proxy, timeoutMs = 5000) {
  const { value, reached } = await pollUntil(
    async () => (await proxy.metrics()).value('shiftproxy_target_active_requests'),
    (active) => active === 0,
    timeoutMs,
  );
  report.check('shiftproxy_target_active_requests back to 0', reached, value, `0 within ${timeoutMs / 1000} s`);
  return reached;
}

/** The proxy is still up, logged nothing uncaught, and a SIGTERM stop exits 0. */
export async function stopAndCheckClean(report, proxy) {
  const alive = proxy.alive();
  const exit = await proxy.stop('SIGTERM');
  report.check('proxy never exited before the planned stop', alive, alive ? 'alive' : `exited (code ${exit.code}, signal ${exit.signal})`, 'alive');
  report.check(
    'no uncaught exception or unhandled rejection logged',
    proxy.uncaught === 0,
    proxy.uncaught === 0 ? 0 : `${proxy.uncaught}, first: ${JSON.stringify(proxy.firstUncaught.err ?? proxy.firstUncaught.msg)} (log: ${proxy.logPath})`,
    0,
  );
  if (alive) report.check('planned stop (SIGTERM) exits 0', exit.code === 0, `code ${exit.code}, signal ${exit.signal}`, 'code 0');
  return exit;
}

/** What the proxy itself counted: responses by status code and upstream failures by kind (non-zero only). */
export async function proxyOutcomes(proxy) {
  const metrics = await proxy.metrics();
  const tally = (name, label) => {
    const out = {};
    for (const s of metrics.series(name)) if (s.value > 0) out[s.labels[label]] = (out[s.labels[label]] ?? 0) + s.value;
    return out;
  };
  return { codes: tally('shiftproxy_requests_total', 'code'), upstreamErrors: tally('shiftproxy_upstream_errors_total', 'kind') };
}

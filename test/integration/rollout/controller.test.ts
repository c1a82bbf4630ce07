import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/core/clock.js';
import { ConflictError } from '../../../src/core/errors.js';
import type { SlotName } from '../../../src/core/types.js';
import type { AnalysisReport, SlotHealthPort } from '../../../src/rollout/ports.js';
import { FileStateStore } from '../../../src/state/file-state-store.js';
import { buildConfig, type ConfigSpec } from '../../helpers/proxy-harness.js';
import { eventually, startController, startHookServer, type ControllerUnderTest, type HookServer } from '../../helpers/rollout-harness.js';

const S = 1000;
const M = 60 * S;
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

function spec(rollout: Record<string, unknown>, extra: Record<string, unknown> = {}): ConfigSpec {
  return { services: [{ name: 'shop', blue: ['http://127.0.0.1:1'], green: ['http://127.0.0.1:2'], rollout, ...extra }] };
}

async function controllerFor(config: Parameters<typeof startController>[0], options: Parameters<typeof startController>[1] = {}): Promise<ControllerUnderTest> {
  const t = await startController(config, options);
  cleanup.push(() => t.close());
  return t;
}

async function hookServer(): Promise<HookServer> {
  const hooks = await startHookServer();
  cleanup.push(() => hooks.close());
  return hooks;
}

const routing = (t: ControllerUnderTest) => t.dataPlane.routing('shop');

describe('the rollout controller on a virtual clock', () => {
  it('walks a canary: 10% for 5 minutes, 100%, bake, then green is live', async () => {
    const t = await controllerFor(spec({ strategy: 'canary', canary: { weight: 10, interval: '5m' }, bakeTime: '2m' }));
    const started = await t.controller.startRollout('shop');
    expect([started.state, started.canaryWeight]).toEqual(['progressing', 10]);
    expect(routing(t)).toEqual({ live: 'blue', canaryWeight: 10 });
    await t.advance(5 * M - 1);
    expect(routing(t)).toEqual({ live: 'blue', canaryWeight: 10 });
    await t.advance(1);
    expect(t.controller.get('shop')?.state).toBe('baking');
    expect(routing(t)).toEqual({ live: 'blue', canaryWeight: 100 });
    await t.advance(2 * M);
    expect(t.controller.get('shop')?.state).toBe('promoted');
    expect(routing(t)).toEqual({ live: 'green', canaryWeight: 0 });
  });

  it('keeps its schedule on monotonic time when the wall clock jumps 1 h forward and 10 min back', async () => {
    const t = await controllerFor(spec({ preset: 'Linear10PercentEvery1Minute' }));
    await t.controller.startRollout('shop');
    const weights: number[] = [routing(t).canaryWeight];
    for (let minute = 1; minute <= 9; minute++) {
      if (minute === 3) t.clock.jumpWallClock(60 * M);
      if (minute === 6) t.clock.jumpWallClock(-10 * M);
      await t.advance(M);
      weights.push(routing(t).canaryWeight);
    }
    // No step skipped by the jump forward, none repeated after the jump back.
    expect(weights).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 0]);
    const history = t.controller.get('shop')?.history ?? [];
    const stepTimes = history.filter((h) => h.event === 'step').map((h) => Date.parse(h.at));
    expect(stepTimes.length).toBeGreaterThanOrEqual(9);
    // The recorded times stay one minute apart, in order, whatever the wall clock did.
    expect(stepTimes.slice(1).map((at, i) => at - (stepTimes[i] as number))).toEqual(Array(stepTimes.length - 1).fill(M));
  });

  it('checks on its own cadence: a transition does not push the next check away, so a slow check cannot make checks skip', async () => {
    let evaluations = 0;
    let t: ControllerUnderTest;
    // Each check takes 100 ms of (virtual) time, so its result lands after the step it overlaps began.
    const analysis = {
      evaluate: async () => {
        evaluations += 1;
        await new Promise<void>((resolve) => t.clock.setTimeout(resolve, 100));
        return { outcome: 'pass' as const, breachAction: 'rollback' as const, summary: 'ok', detail: { alarms: [] } };
      },
    };
    const alarm = { name: 'errors', metric: 'error_rate', max: 0.5 };
    t = await controllerFor(spec({ strategy: 'linear', linear: { step: 10, interval: '1s' }, analysis: { interval: '1s', alarms: [alarm] } }), { analysis });
    await t.controller.startRollout('shop');
    await t.advance(5 * S + 500);
    // A check every second from the start, whatever the steps did meanwhile; each result is kept.
    expect(evaluations).toBe(5);
    const checkedAt = (t.controller.get('shop')?.history ?? []).filter((h) => h.event === 'analysis').map((h) => Date.parse(h.at) - Date.parse(t.controller.get('shop')!.history[0]!.at));
    expect(checkedAt).toEqual([1100, 2100, 3100, 4100, 5100]);
  });

  it('never advances a step that was not checked: a hold ending before its first check waits for that check to pass', async () => {
    const answers: (() => void)[] = [];
    const pass: AnalysisReport = { outcome: 'pass', breachAction: 'rollback', summary: 'ok', detail: { alarms: [] } };
    // Checks are due when holds end (both every second); none answers until the test says so.
    const analysis = { evaluate: () => new Promise<AnalysisReport>((resolve) => answers.push(() => resolve(pass))) };
    const alarm = { name: 'errors', metric: 'error_rate', max: 0.5 };
    const t = await controllerFor(spec({ strategy: 'linear', linear: { step: 25, interval: '1s' }, analysis: { interval: '1s', alarms: [alarm] } }), { analysis });
    await t.controller.startRollout('shop');
    await t.advance(3 * S);
    // The first step's hold ended at 1 s and its first check is still out: the weight stays at 25.
    expect(routing(t).canaryWeight).toBe(25);
    expect(answers).toHaveLength(1);
    answers[0]!();
    await t.advance(0);
    expect(routing(t).canaryWeight).toBe(50);
    expect(t.controller.get('shop')?.history.filter((h) => h.event === 'step').map((h) => (h.detail as { weight: number }).weight)).toEqual([25, 50]);
  });

  it('applies a linear preset one step per interval, exactly on time', async () => {
    const t = await controllerFor(spec({ preset: 'Linear10PercentEvery1Minute' }));
    await t.controller.startRollout('shop');
    const weights: number[] = [routing(t).canaryWeight];
    for (let minute = 1; minute <= 9; minute++) {
      await t.advance(M);
      weights.push(routing(t).canaryWeight);
    }
    expect(weights).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 0]);
    expect(routing(t).live).toBe('green');
  });

  it('pauses with the rest of the step kept, and resumes from there', async () => {
    const t = await controllerFor(spec({ strategy: 'canary', canary: { weight: 20, interval: '10m' } }));
    await t.controller.startRollout('shop');
    await t.advance(4 * M);
    await t.controller.command('shop', 'pause');
    await t.advance(60 * M);
    expect(routing(t)).toEqual({ live: 'blue', canaryWeight: 20 });
    await t.controller.command('shop', 'resume');
    await t.advance(6 * M - 1);
    expect(t.controller.get('shop')?.state).toBe('progressing');
    await t.advance(1);
    expect(t.controller.get('shop')?.state).toBe('promoted');
  });

  it('refuses what the state does not allow with the reason, and serialises racing commands', async () => {
    const t = await controllerFor(spec({ strategy: 'canary' }));
    await t.controller.startRollout('shop');
    await expect(t.controller.startRollout('shop')).rejects.toThrow(/already progressing/);
    await expect(t.controller.command('shop', 'resume')).rejects.toThrow('cannot resume a progressing rollout: it is not paused');
    const results = await Promise.allSettled([t.controller.command('shop', 'promote'), t.controller.command('shop', 'abort')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
    expect(t.controller.get('shop')?.state).toBe('promoted');
    await expect(t.controller.command('shop', 'abort')).rejects.toThrow('cannot abort a promoted rollout');
    // Both attempts of the race are in the history: the promotion, then the refused abort; a
    // repeat of the same refusal is not recorded again.
    const history = t.controller.get('shop')?.history ?? [];
    const refusals = history.filter((h) => h.event === 'refused').map((h) => h.detail);
    expect(refusals).toEqual([
      { command: 'resume', reason: 'cannot resume a progressing rollout: it is not paused' },
      { command: 'abort', reason: expect.stringMatching(/cannot abort a promoted rollout/) },
    ]);
    expect(history.findIndex((h) => h.event === 'refused' && (h.detail as { command: string }).command === 'abort')).toBeGreaterThan(
      history.findIndex((h) => h.event === 'promoted'),
    );
    // The refusal is durable like any other entry.
    expect(JSON.stringify(await t.store.load())).toContain('cannot abort a promoted rollout');
  });

  it('a repeated pause is recorded once as already paused and does not move the schedule', async () => {
    const t = await controllerFor(spec({ strategy: 'canary', canary: { weight: 10, interval: '5m' } }));
    await t.controller.startRollout('shop');
    await t.advance(M);
    await Promise.all([t.controller.command('shop', 'pause'), t.controller.command('shop', 'pause')]);
    const events = (t.controller.get('shop')?.history ?? []).map((h) => h.event);
    expect(events.filter((e) => e === 'paused' || e === 'pause')).toHaveLength(2);
    await t.controller.command('shop', 'resume');
    await t.advance(4 * M - 1);
    expect(routing(t).canaryWeight).toBe(10);
    await t.advance(1);
    expect(routing(t).canaryWeight).toBe(0);
    expect(routing(t).live).toBe('green');
  });

  it('abort puts all traffic back on the live slot at once', async () => {
    const t = await controllerFor(spec({ strategy: 'linear', linear: { step: 25, interval: '1m' } }));
    await t.controller.startRollout('shop');
    await t.advance(2 * M);
    expect(routing(t).canaryWeight).toBe(75);
    const aborted = await t.controller.command('shop', 'abort');
    expect([aborted.state, aborted.reason, aborted.rollbackCause]).toEqual(['rolled_back', 'aborted by a person', 'aborted']);
    expect(routing(t)).toEqual({ live: 'blue', canaryWeight: 0 });
    expect(t.controller.rollbacks.get('shop\u0000aborted')).toBe(1);
  });

  it('waits at a manual step; the next rollout goes back the other way', async () => {
    const t = await controllerFor(spec({ strategy: 'steps', steps: [{ weight: 5, pause: '1m' }, { weight: 50, pause: 'manual' }, { weight: 100 }] }));
    await t.controller.startRollout('shop');
    await t.advance(30 * M);
    expect([t.controller.get('shop')?.state, routing(t).canaryWeight]).toEqual(['paused', 50]);
    await t.controller.command('shop', 'resume');
    expect(routing(t)).toEqual({ live: 'green', canaryWeight: 0 });
    const second = await t.controller.startRollout('shop');
    expect([second.from, second.to, second.canaryWeight]).toEqual(['green', 'blue', 5]);
  });

  it('applies a start request\'s targets to the new slot, and drops them again on rollback', async () => {
    const t = await controllerFor(spec({ strategy: 'canary' }));
    await t.controller.startRollout('shop', { targets: [{ url: 'http://127.0.0.1:7777', weight: 1 }] });
    expect(t.dataPlane.runtime('shop').slot('green').targets.map((x) => x.url)).toEqual(['http://127.0.0.1:7777']);
    await t.controller.command('shop', 'abort');
    expect(t.dataPlane.runtime('shop').slot('green').targets.map((x) => x.url)).toEqual(['http://127.0.0.1:2']);
  });

  it('refuses to start when the new slot has no healthy target, and rolls back when it loses its last', async () => {
    const health: Record<SlotName, { available: number; total: number; settled: boolean }> = {
      blue: { available: 1, total: 1, settled: true },
      green: { available: 0, total: 1, settled: true },
    };
    const port: SlotHealthPort = { slotHealth: (_service, slot) => health[slot] };
    const t = await controllerFor(spec({ strategy: 'canary' }), { health: port });
    await expect(t.controller.startRollout('shop')).rejects.toThrow('cannot start: the green slot of shop has no healthy target');
    health.green = { available: 1, total: 1, settled: true };
    await t.controller.startRollout('shop');
    t.controller.canaryUnavailable('shop', 'green', 'the green slot has no healthy target');
    await t.controller.whenIdle();
    console.log(JSON.stringify((t.controller.get('shop')?.history ?? []).map((h) => [h.event, h.at.slice(17), h.canaryWeight])));
    expect(t.controller.get('shop')).toMatchObject({ state: 'rolled_back', rollbackCause: 'unhealthy', reason: 'the green slot has no healthy target' });
    expect(routing(t)).toEqual({ live: 'blue', canaryWeight: 0 });
  });

  it('rolls back a rollout that is not finished by its schedule plus the progress deadline', async () => {
    const hooks = await hookServer();
    hooks.respond = () => 'hang';
    const t = await controllerFor(spec({ strategy: 'canary', progressDeadline: '1m', hooks: { beforeAllowTraffic: `${hooks.url}/check`, timeout: '1h' } }));
    await t.controller.startRollout('shop');
    await eventually(() => hooks.calls.length === 1);
    // Planned: 5m at 10% then 100%; the hook hangs, so the rollout never makes it past pending.
    await t.advance(6 * M - 1);
    expect(t.controller.get('shop')?.state).toBe('pending');
    await t.advance(1);
    expect(t.controller.get('shop')).toMatchObject({ state: 'rolled_back', rollbackCause: 'deadline' });
  });
});

describe('hooks', () => {
  it('gates the first traffic on beforeAllowTraffic, and posts every transition to onEvent', async () => {
    const hooks = await hookServer();
    const t = await controllerFor(
      spec({ strategy: 'all-at-once', hooks: { beforeAllowTraffic: `${hooks.url}/before`, afterAllowTraffic: `${hooks.url}/after`, onEvent: `${hooks.url}/events` } }),
    );
    const started = await t.controller.startRollout('shop');
    expect([started.state, started.awaiting, routing(t).canaryWeight]).toEqual(['pending', 'beforeAllowTraffic', 0]);
    await eventually(() => t.controller.get('shop')?.state === 'promoted');
    expect(routing(t)).toEqual({ live: 'green', canaryWeight: 0 });
    const gateCalls = hooks.calls.filter((c) => c.path !== '/events');
    expect(gateCalls.map((c) => [c.path, c.body.hook])).toEqual([
      ['/before', 'beforeAllowTraffic'],
      ['/after', 'afterAllowTraffic'],
    ]);
    expect(gateCalls[0]?.body).toMatchObject({ service: 'shop', from: 'blue', to: 'green', canaryWeight: 0 });
    await eventually(() => hooks.calls.some((c) => c.path === '/events' && c.body.event === 'promoted'));
    const events = hooks.calls.filter((c) => c.path === '/events').map((c) => c.body.event);
    expect(events).toEqual(expect.arrayContaining(['started', 'awaiting-hook', 'hook-passed', 'step', 'promoted']));
  });

  it.each([
    [500, 'beforeAllowTraffic hook failed: HTTP 500: smoke test failed: /checkout answered 500'],
    ['hang', 'beforeAllowTraffic hook failed: timed out after 300 ms'],
  ] as const)('fails the rollout when beforeAllowTraffic answers %s, and traffic never reaches the canary', async (answer, reason) => {
    const hooks = await hookServer();
    hooks.respond = () => answer;
    const t = await controllerFor(spec({ strategy: 'all-at-once', hooks: { beforeAllowTraffic: `${hooks.url}/before`, timeout: '300ms' } }));
    const weights: number[] = [];
    t.controller.onTransition(() => weights.push(routing(t).canaryWeight));
    await t.controller.startRollout('shop');
    await eventually(() => t.controller.get('shop')?.state === 'rolled_back');
    expect(t.controller.get('shop')).toMatchObject({ rollbackCause: 'hook', reason });
    expect(weights.every((w) => w === 0)).toBe(true);
  });

  it('rolls back when afterAllowTraffic fails', async () => {
    const hooks = await hookServer();
    hooks.respond = (path) => (path === '/after' ? 503 : 200);
    const t = await controllerFor(spec({ strategy: 'all-at-once', bakeTime: '10m', hooks: { afterAllowTraffic: `${hooks.url}/after` } }));
    await t.controller.startRollout('shop');
    await eventually(() => t.controller.get('shop')?.state === 'rolled_back');
    expect(t.controller.get('shop')?.reason).toMatch(/^afterAllowTraffic hook failed: HTTP 503/);
    expect(routing(t)).toEqual({ live: 'blue', canaryWeight: 0 });
  });
});

describe('durable state', () => {
  it('resumes after a restart at the same step, with only the rest of the hold left', async () => {
    const config = buildConfig(spec({ strategy: 'linear', linear: { step: 20, interval: '10m' } }));
    const first = await startController(config);
    await first.controller.startRollout('shop');
    await first.advance(13 * M);
    const before = first.controller.get('shop');
    await first.close();
    // The process was down for 2 minutes of wall time.
    const clock = new VirtualClock(0, first.clock.wallNow() + 2 * M);
    const second = await controllerFor(config, { clock });
    expect(second.controller.get('shop')).toMatchObject({ id: before?.id, state: 'progressing', canaryWeight: 40, stepIndex: 1 });
    expect(routing(second)).toEqual({ live: 'blue', canaryWeight: 40 });
    await second.advance(5 * M - 1);
    expect(routing(second).canaryWeight).toBe(40);
    await second.advance(1);
    expect(routing(second).canaryWeight).toBe(60);
  });

  it('keeps a paused rollout paused and a rolled-back one rolled back across restarts', async () => {
    const config = buildConfig(spec({ strategy: 'canary' }));
    const first = await startController(config);
    await first.controller.startRollout('shop');
    await first.controller.command('shop', 'pause');
    await first.close();
    const second = await startController(config, { clock: new VirtualClock(0, first.clock.wallNow() + 60 * M) });
    expect([second.controller.get('shop')?.state, routing(second).canaryWeight]).toEqual(['paused', 10]);
    await second.advance(60 * M);
    expect(second.controller.get('shop')?.state).toBe('paused');
    await second.controller.command('shop', 'abort');
    await second.close();
    const third = await controllerFor(config);
    expect([third.controller.get('shop')?.state, routing(third)]).toEqual(['rolled_back', { live: 'blue', canaryWeight: 0 }]);
  });

  it('refuses a corrupt state file loudly instead of guessing a split', async () => {
    const config = buildConfig(spec({ strategy: 'canary' }));
    writeFileSync(config.state.path, '{"version":1,"services":{"shop":{"live":"green","canaryWe');
    await expect(startController(config)).rejects.toThrow(/the state file .* is corrupt: not valid JSON .*--reset-state/);
  });

  it('writes every transition before applying it (the file always matches the routing)', async () => {
    const config = buildConfig(spec({ strategy: 'linear', linear: { step: 50, interval: '1m' } }));
    const t = await controllerFor(config);
    t.controller.onTransition(() => {
      const onDisk = JSON.parse(readFileSync(config.state.path, 'utf8')) as { services: { shop: { canaryWeight: number; live: string } } };
      const { live, canaryWeight } = onDisk.services.shop;
      // Listeners run after apply: the routing now in effect is exactly what was saved.
      expect({ live, canaryWeight }).toEqual(routing(t));
    });
    await t.controller.startRollout('shop');
    await t.advance(2 * M);
    expect(routing(t).live).toBe('green');
  });

  it('does not apply a transition it could not save, and retries it until it can', async () => {
    const config = buildConfig(spec({ strategy: 'canary', canary: { weight: 10, interval: '1m' } }));
    const real = new FileStateStore(config.state.path);
    let full = false;
    // A store whose disk fills up on demand: the real file store underneath, ENOSPC on top.
    const store = {
      open: () => real.open(),
      close: () => real.close(),
      load: () => real.load(),
      describe: () => real.describe(),
      save: async (state: Parameters<FileStateStore['save']>[0]) => {
        if (full) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        return real.save(state);
      },
    };
    const t = await controllerFor(config, { store, persistRetryMs: 1000 });
    await t.controller.startRollout('shop');
    full = true;
    await expect(t.controller.command('shop', 'pause')).rejects.toThrow(/could not be saved, so nothing was changed: ENOSPC/);
    expect(t.controller.get('shop')?.state).toBe('progressing');
    await t.advance(M);
    expect(routing(t).canaryWeight).toBe(10);
    expect(t.controller.notDurableReason('shop')).toMatch(/ENOSPC/);
    await t.advance(5 * S);
    expect(routing(t).canaryWeight).toBe(10);
    full = false;
    await t.advance(S);
    expect(t.controller.get('shop')?.state).toBe('promoted');
    expect(t.controller.notDurableReason('shop')).toBeNull();
  });
});

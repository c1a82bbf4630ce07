import { afterEach, describe, expect, it } from 'vitest';
import { createAnalysis, type Analysis } from '../../../src/analysis/create-analysis.js';
import type { ShiftproxyConfig } from '../../../src/core/config-types.js';
import { ConfigError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { ConfigReloader } from '../../../src/reload/config-reloader.js';
import { buildConfig, type ConfigSpec } from '../../helpers/proxy-harness.js';
import { startController, type ControllerUnderTest } from '../../helpers/rollout-harness.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

const B1 = 'http://127.0.0.1:7301';
const B2 = 'http://127.0.0.1:7302';
const G1 = 'http://127.0.0.1:7401';
const G2 = 'http://127.0.0.1:7402';

/** A config with the state path of `base` (so the diff sees no state.path change). */
function variant(base: ShiftproxyConfig, spec: ConfigSpec): ShiftproxyConfig {
  return { ...buildConfig(spec), state: base.state };
}

async function rig(spec: ConfigSpec): Promise<{ c: ControllerUnderTest; reloader: ConfigReloader; next: { config: ShiftproxyConfig | Error } }> {
  // The real alarm evaluation on the data plane's counters, built once the harness made the data plane.
  let analysis: Analysis | undefined;
  const c = await startController(spec, { analysis: { evaluate: (service, rollout) => (analysis as Analysis).evaluator.evaluate(service, rollout) } });
  analysis = createAnalysis(c.config, { lookup: (service, slot, role) => c.dataPlane.runtime(service).counters[slot][role], clock: c.clock });
  analysis.start();
  const built = analysis;
  cleanup.push(() => c.close(), () => built.stop());
  const next: { config: ShiftproxyConfig | Error } = { config: c.config };
  const reloader = new ConfigReloader({
    file: '/virtual/shiftproxy.yaml',
    initial: c.config,
    load: () => {
      if (next.config instanceof Error) throw next.config;
      return next.config;
    },
    targets: { dataPlane: c.dataPlane, controller: c.controller, analysis: built },
    logger: silentLogger(),
    now: () => Date.UTC(2026, 10, 22, 12),
  });
  return { c, reloader, next };
}

describe('ConfigReloader', () => {
  it('reports every problem of an invalid file and keeps the running config', async () => {
    const { c, reloader, next } = await rig({ services: [{ name: 'shop', blue: [B1], green: [G1] }] });
    next.config = new ConfigError(['services[0].blue.targets[0].url: not a URL', 'services[0].timeouts.connect: must be greater than 0']);
    const result = await reloader.reload('test');
    expect(result).toMatchObject({ ok: false, reason: 'invalid', problems: ['services[0].blue.targets[0].url: not a URL', 'services[0].timeouts.connect: must be greater than 0'] });
    expect(reloader.lastSuccessful).toBe(false);
    expect(reloader.config).toBe(c.config);
    expect(c.dataPlane.runtime('shop').slot('blue').targets.map((t) => t.url)).toEqual([B1]);
  });

  it('an active rollout keeps its settings and targets; the reloaded rollout section is used by the next rollout', async () => {
    const spec = (blue: string, strategy: string): ConfigSpec => ({
      services: [{ name: 'shop', blue: [blue], green: [G1], rollout: { strategy, canary: { weight: 20, interval: '1m' }, linear: { step: 50, interval: '1m' } } }],
    });
    const { c, reloader, next } = await rig(spec(B1, 'canary'));
    const first = await c.controller.startRollout('shop', { targets: [{ url: G2, weight: 1 }] });
    await c.advance(1000);
    expect(first.plan.strategy).toBe('canary');

    next.config = variant(c.config, spec(B2, 'linear'));
    const result = await reloader.reload('test');
    expect(result.ok).toBe(true);
    expect(result.changes).toEqual(['services[0].blue.targets', 'services[0].rollout.strategy']);
    // The rollout's own green targets win over the configured ones; blue follows the file.
    expect(c.dataPlane.runtime('shop').slot('green').targets.map((t) => t.url)).toEqual([G2]);
    expect(c.dataPlane.runtime('shop').slot('blue').targets.map((t) => t.url)).toEqual([B2]);
    expect(c.dataPlane.routing('shop')).toEqual({ live: 'blue', canaryWeight: 20 });
    expect(c.controller.get('shop')?.plan.strategy).toBe('canary');

    await c.controller.command('shop', 'abort');
    await c.advance(1000);
    // A rollback restores the configured green targets.
    expect(c.dataPlane.runtime('shop').slot('green').targets.map((t) => t.url)).toEqual([G1]);
    const second = await c.controller.startRollout('shop');
    expect(second.plan.strategy).toBe('linear');
  });

  describe('analysis settings apply to the running rollout from its next check', () => {
    const S = 1000;
    // No traffic at all: a canary request rate of 0 passes `max: 5` and breaches `min: 1`.
    const withAlarms = (analysis: Record<string, unknown>): ConfigSpec => ({
      services: [{ name: 'shop', blue: [B1], green: [G1], rollout: { strategy: 'canary', canary: { weight: 20, interval: '1h' }, analysis } }],
    });
    const rate = (bound: Record<string, number>) => ({ name: 'rate', metric: 'request_rate', role: 'canary', window: '10s', ...bound });
    const events = (c: ControllerUnderTest) => (c.controller.get('shop')?.history ?? []).map((h) => h.event);

    it('a tightened threshold decides the next check, and the rollout records what changed from what to what', async () => {
      const { c, reloader, next } = await rig(withAlarms({ interval: '10s', failureLimit: 1, alarms: [rate({ max: 5 })] }));
      await c.controller.startRollout('shop');
      await c.advance(10 * S);
      expect(c.controller.get('shop')?.history.at(-1)).toMatchObject({ event: 'analysis', detail: { alarms: [{ alarm: 'rate', verdict: 'pass', threshold: { max: 5 } }] } });

      next.config = variant(c.config, withAlarms({ interval: '10s', failureLimit: 1, alarms: [rate({ min: 1 })] }));
      expect(await reloader.reload('SIGHUP')).toMatchObject({ ok: true, changes: ['services[0].rollout.analysis.alarms'] });
      await c.controller.whenIdle();
      expect(c.controller.get('shop')?.history.at(-1)).toMatchObject({
        event: 'analysis-changed',
        canaryWeight: 20,
        detail: { changes: [{ field: 'alarms[rate].max', from: 5, to: null }, { field: 'alarms[rate].min', from: null, to: 1 }] },
      });
      expect(c.controller.get('shop')?.state).toBe('progressing');

      await c.advance(10 * S);
      expect(c.controller.get('shop')).toMatchObject({ state: 'rolled_back', alarm: 'rate', reason: expect.stringMatching(/^alarm rate: request_rate = 0 .* < min 1/) });
      expect(c.dataPlane.routing('shop')).toEqual({ live: 'blue', canaryWeight: 0 });
    });

    it('a new interval counts from the reload; alarms added to a rollout that had none start checking, and removing them all stops it', async () => {
      const { c, reloader, next } = await rig(withAlarms({ interval: '10s' }));
      await c.controller.startRollout('shop');
      await c.advance(30 * S);
      expect(events(c)).not.toContain('analysis');

      next.config = variant(c.config, withAlarms({ interval: '1m', alarms: [rate({ max: 5 })] }));
      expect((await reloader.reload('SIGHUP')).ok).toBe(true);
      await c.advance(60 * S - 1);
      expect(events(c).filter((e) => e === 'analysis')).toHaveLength(0);
      await c.advance(1);
      expect(events(c).filter((e) => e === 'analysis')).toHaveLength(1);
      const changed = c.controller.get('shop')?.history.find((h) => h.event === 'analysis-changed');
      expect(changed?.detail).toEqual({
        changes: [
          { field: 'interval', from: '10s', to: '1m' },
          { field: 'alarms[rate]', from: null, to: { name: 'rate', metric: 'request_rate', role: 'canary', window: '10s', max: 5, minRequests: 20, confidence: 0.95, onBreach: 'rollback' } },
        ],
      });

      next.config = variant(c.config, withAlarms({ interval: '1m' }));
      expect((await reloader.reload('SIGHUP')).ok).toBe(true);
      await c.advance(5 * 60 * S);
      expect(events(c).filter((e) => e === 'analysis')).toHaveLength(1);
      expect(c.controller.get('shop')?.history.at(-1)?.detail).toMatchObject({ changes: [{ field: 'alarms[rate]', to: null }] });
    });

    it('a hold waiting for a passing check moves on once the alarms are removed', async () => {
      const spec = (alarms: unknown[]): ConfigSpec => ({
        services: [{ name: 'shop', blue: [B1], green: [G1], rollout: { strategy: 'linear', linear: { step: 25, interval: '20s' }, analysis: { interval: '10s', failureLimit: 10, alarms } } }],
      });
      const { c, reloader, next } = await rig(spec([rate({ min: 1 })]));
      await c.controller.startRollout('shop');
      await c.advance(30 * S);
      // The step is due, but the last check failed: it waits for a pass.
      expect(c.dataPlane.routing('shop').canaryWeight).toBe(25);
      await c.advance(30 * S);
      expect(c.dataPlane.routing('shop').canaryWeight).toBe(25);
      next.config = variant(c.config, spec([]));
      expect((await reloader.reload('SIGHUP')).ok).toBe(true);
      await c.advance(0);
      expect(c.dataPlane.routing('shop').canaryWeight).toBe(50);
    });
  });
});

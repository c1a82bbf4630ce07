import { afterEach, describe, expect, it } from 'vitest';
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
  const c = await startController(spec);
  cleanup.push(() => c.close());
  const next: { config: ShiftproxyConfig | Error } = { config: c.config };
  const reloader = new ConfigReloader({
    file: '/virtual/shiftproxy.yaml',
    initial: c.config,
    load: () => {
      if (next.config instanceof Error) throw next.config;
      return next.config;
    },
    targets: { dataPlane: c.dataPlane, controller: c.controller },
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
});

import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alarmQueryWarnings } from '../../../src/analysis/promql-alarm-check.js';
import { loadConfigFile } from '../../../src/config/load-config.js';

const dir = resolve(__dirname, '../../../config');
const examples = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

describe('example configs in config/', () => {
  it('exist, one per strategy', () => {
    expect(examples.sort()).toEqual(['all-at-once.yaml', 'blue-green.yaml', 'canary.yaml', 'codedeploy-preset.yaml', 'linear.yaml', 'steps.yaml']);
  });

  it.each(examples)('%s is valid, without a warning', (file) => {
    const config = loadConfigFile(join(dir, file), {});
    expect(config.services.length).toBeGreaterThan(0);
    expect(alarmQueryWarnings(config)).toEqual([]);
  });

  it('the preset example resolves AWS spelling to a linear 10% per minute schedule', () => {
    const config = loadConfigFile(join(dir, 'codedeploy-preset.yaml'), {});
    expect(config.services[0]?.rollout).toMatchObject({ strategy: 'linear', preset: 'Linear10PercentEvery1Minute', linear: { step: 10, intervalMs: 60_000 } });
  });
});

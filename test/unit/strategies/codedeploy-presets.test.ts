import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CODEDEPLOY_PRESETS, resolvePreset } from '../../../src/strategies/codedeploy-presets.js';

/** The preset names docs/design.md promises: the backticked names of its "Accepted by name" sentence. */
function contractPresetNames(): string[] {
  const design = readFileSync(resolve(__dirname, '../../../docs/design.md'), 'utf8');
  const sentence = /Accepted by name: ([^]*?)\.\n/.exec(design)?.[1];
  if (!sentence) throw new Error('docs/design.md lists no CodeDeploy presets ("Accepted by name: ...")');
  return [...sentence.matchAll(/`([A-Za-z0-9]+)`/g)].map((m) => m[1] as string);
}

const MINUTE = 60_000;

describe('CODEDEPLOY_PRESETS', () => {
  it('holds exactly the presets docs/design.md lists', () => {
    expect(CODEDEPLOY_PRESETS.map((p) => p.name)).toEqual(contractPresetNames());
    expect(CODEDEPLOY_PRESETS).toEqual([
      { name: 'AllAtOnce', strategy: 'all-at-once', percent: 100, intervalMs: 0 },
      { name: 'Canary10Percent5Minutes', strategy: 'canary', percent: 10, intervalMs: 5 * MINUTE },
      { name: 'Canary10Percent10Minutes', strategy: 'canary', percent: 10, intervalMs: 10 * MINUTE },
      { name: 'Canary10Percent15Minutes', strategy: 'canary', percent: 10, intervalMs: 15 * MINUTE },
      { name: 'Canary10Percent30Minutes', strategy: 'canary', percent: 10, intervalMs: 30 * MINUTE },
      { name: 'Linear10PercentEvery1Minute', strategy: 'linear', percent: 10, intervalMs: 1 * MINUTE },
      { name: 'Linear10PercentEvery2Minutes', strategy: 'linear', percent: 10, intervalMs: 2 * MINUTE },
      { name: 'Linear10PercentEvery3Minutes', strategy: 'linear', percent: 10, intervalMs: 3 * MINUTE },
      { name: 'Linear10PercentEvery10Minutes', strategy: 'linear', percent: 10, intervalMs: 10 * MINUTE },
    ]);
  });
});

describe('resolvePreset', () => {
  it.each([
    ['AllAtOnce', 'AllAtOnce'],
    ['Canary10Percent5Minutes', 'Canary10Percent5Minutes'],
    ['Canary10Percent30Minutes', 'Canary10Percent30Minutes'],
    ['Linear10PercentEvery1Minute', 'Linear10PercentEvery1Minute'],
    ['Linear10PercentEvery10Minutes', 'Linear10PercentEvery10Minutes'],
    // AWS spells the one-minute linear preset in the plural; either number is the same preset.
    ['Linear10PercentEvery1Minutes', 'Linear10PercentEvery1Minute'],
    ['Linear10PercentEvery2Minute', 'Linear10PercentEvery2Minutes'],
    ['Canary10Percent5Minute', 'Canary10Percent5Minutes'],
    ['CodeDeployDefault.ECSLinear10PercentEvery1Minutes', 'Linear10PercentEvery1Minute'],
    ['CodeDeployDefault.ECSLinear10PercentEvery3Minutes', 'Linear10PercentEvery3Minutes'],
    ['CodeDeployDefault.ECSCanary10Percent5Minutes', 'Canary10Percent5Minutes'],
    ['CodeDeployDefault.ECSCanary10Percent15Minutes', 'Canary10Percent15Minutes'],
    ['CodeDeployDefault.ECSAllAtOnce', 'AllAtOnce'],
    ['CodeDeployDefault.LambdaAllAtOnce', 'AllAtOnce'],
    ['CodeDeployDefault.LambdaCanary10Percent10Minutes', 'Canary10Percent10Minutes'],
    ['CodeDeployDefault.LambdaLinear10PercentEvery1Minute', 'Linear10PercentEvery1Minute'],
    ['CodeDeployDefault.LambdaLinear10PercentEvery2Minutes', 'Linear10PercentEvery2Minutes'],
    ['allatonce', 'AllAtOnce'],
    ['canary10percent5minutes', 'Canary10Percent5Minutes'],
    ['LINEAR10PERCENTEVERY3MINUTES', 'Linear10PercentEvery3Minutes'],
  ])('%s -> %s', (name, canonical) => {
    expect(resolvePreset(name)?.name).toBe(canonical);
  });

  it.each([
    'CodeDeployDefault.AllAtOnce',
    'CodeDeployDefault.EC2AllAtOnce',
    'CodeDeployDefault.OneAtATime',
    'CodeDeployDefault.ecsAllAtOnce',
    'codedeploydefault.ECSAllAtOnce',
    'ECSAllAtOnce',
    ' AllAtOnce',
    'Canary10Percent05Minutes',
    'Canary20Percent5Minutes',
    'Linear10PercentEvery5Minutes',
    '',
  ])('%j is unknown', (name) => {
    expect(resolvePreset(name)).toBeUndefined();
  });
});

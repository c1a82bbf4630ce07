import type { StrategyName } from '../core/config-types.js';

export interface PresetSettings {
  /** The canonical short name, e.g. `Linear10PercentEvery1Minute`. */
  name: string;
  strategy: Extract<StrategyName, 'canary' | 'linear' | 'all-at-once'>;
  percent: number;
  intervalMs: number;
}

const MINUTE_MS = 60_000;

/** The AWS CodeDeploy predefined deployment configurations shiftproxy accepts, by short name. */
export const CODEDEPLOY_PRESETS: readonly PresetSettings[] = [
  { name: 'AllAtOnce', strategy: 'all-at-once', percent: 100, intervalMs: 0 },
  ...[5, 10, 15, 30].map((minutes) => ({
    name: `Canary10Percent${minutes}Minutes`,
    strategy: 'canary' as const,
    percent: 10,
    intervalMs: minutes * MINUTE_MS,
  })),
  ...[1, 2, 3, 10].map((minutes) => ({
    name: `Linear10PercentEvery${minutes}Minute${minutes === 1 ? '' : 's'}`,
    strategy: 'linear' as const,
    percent: 10,
    intervalMs: minutes * MINUTE_MS,
  })),
];

/**
 * Resolves a preset by its short name or as AWS spells it (`CodeDeployDefault.ECS…`,
 * `CodeDeployDefault.Lambda…`, with AWS's own singular/plural `Minute(s)`).
 */
export function resolvePreset(name: string): PresetSettings | undefined {
  const short = name.replace(/^CodeDeployDefault\.(?:ECS|Lambda)(?=[A-Z])/, '');
  if (short === name && name.startsWith('CodeDeployDefault.')) return undefined;
  const key = normaliseMinutes(short);
  return CODEDEPLOY_PRESETS.find((preset) => normaliseMinutes(preset.name) === key);
}

/** Case-insensitive, and `Minute`/`Minutes` are the same name. */
function normaliseMinutes(name: string): string {
  return name.toLowerCase().replace(/minutes?$/, 'minute');
}

/** The refusal for a name that is no preset, listing the ones there are. */
export function unknownPresetMessage(name: string): string {
  return (
    `unknown preset "${name}"; valid presets: ${CODEDEPLOY_PRESETS.map((preset) => preset.name).join(', ')} ` +
    '(also as AWS spells them, e.g. CodeDeployDefault.ECSCanary10Percent5Minutes)'
  );
}

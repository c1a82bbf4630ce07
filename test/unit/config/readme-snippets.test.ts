import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { alarmQueryWarnings, checkAlarmQuery } from '../../../src/analysis/promql-alarm-check.js';
import { parseConfigText } from '../../../src/config/load-config.js';
import { readmeConfigs, readmeYamlBlocks } from '../../helpers/readme-snippets.js';

/**
 * What the README tells users to write is correct: each full config loads without a problem
 * or a warning (test/e2e/example-simulations.test.ts then simulates it to a promotion), and
 * each PromQL alarm it shows is one that config/codedeploy-preset.yaml ships, which
 * test/e2e/promql-alarms.test.ts proves against a real Prometheus.
 */

interface AlarmText {
  name: string;
  promql?: string;
  max?: number;
  onEmpty?: string;
}

const shipped = (parse(readFileSync(resolve(__dirname, '../../../config/codedeploy-preset.yaml'), 'utf8')) as { services: [{ rollout: { analysis: { alarms: AlarmText[] } } }] })
  .services[0].rollout.analysis.alarms;

describe('the README\'s YAML', () => {
  it.each(readmeConfigs().map((s) => [s.line, s.text] as const))('the config at line %i loads with no problem and no warning', (_line, text) => {
    const config = parseConfigText(text, { env: {} });
    expect(alarmQueryWarnings(config)).toEqual([]);
  });

  it('every PromQL alarm it shows is valid, warning-free, and one the preset example ships', () => {
    const alarms = readmeYamlBlocks()
      .flatMap((block) => {
        const doc = parse(block.text) as unknown;
        const list = (doc as { alarms?: unknown })?.alarms;
        return Array.isArray(list) ? (list as AlarmText[]) : [];
      })
      .filter((alarm) => alarm.promql !== undefined);
    expect(alarms.length).toBeGreaterThan(0);
    for (const alarm of alarms) {
      expect(checkAlarmQuery(alarm.promql as string, alarm.onEmpty === 'zero' ? 'zero' : 'inconclusive'), alarm.name).toEqual({ errors: [], warnings: [] });
      expect(shipped).toContainEqual(alarm);
    }
  });
});

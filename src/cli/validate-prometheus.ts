import type { InstantAnswer } from '../analysis/prometheus-answer.js';
import { PrometheusClient } from '../analysis/prometheus-client.js';
import { MeasurementError } from '../analysis/window-stats.js';
import type { AlarmConfig } from '../core/config-types.js';
import { errorMessage } from '../core/errors.js';
import { EXIT_OK, EXIT_USER_ERROR } from './exit-codes.js';
import { validateConfig } from './validate-command.js';

/**
 * `validate --prometheus`: the config checks, then each PromQL alarm's query once against the
 * configured Prometheus, reporting the answer's shape and what a check would make of it now.
 * Exit 1 when Prometheus refuses a query, when its answer can never be one number (several
 * series, a range vector, a string), or when Prometheus cannot be asked: the same answers
 * the alarm evaluator reports as a bad query or a provider error.
 */
export async function validatePrometheusCommand(file: string, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const { code, config } = validateConfig(file, out, err);
  if (code !== EXIT_OK || !config) return code;
  const alarms = config.services.flatMap((service) => service.rollout.analysis.alarms.filter((a) => a.promql !== undefined).map((alarm) => ({ service: service.name, alarm })));
  const settings = config.metrics.prometheus;
  if (!settings || alarms.length === 0) {
    out.write(`${file}: no promql alarm to query\n`);
    return EXIT_OK;
  }
  const client = new PrometheusClient({ url: settings.url, timeoutMs: settings.timeoutMs });
  try {
    const results = await Promise.all(
      alarms.map(({ alarm }) =>
        client.query(alarm.promql as string).then(
          (answer) => describeAnswer(answer, alarm),
          (e: unknown) => ({ failed: true, text: describeFailure(e) }),
        ),
      ),
    );
    out.write(`${client.where}, each promql alarm queried once:\n`);
    results.forEach((result, i) => {
      const { service, alarm } = alarms[i] as { service: string; alarm: AlarmConfig };
      out.write(`  ${service}/${alarm.name}: ${result.text}\n`);
    });
    const failed = results.filter((r) => r.failed).length;
    if (failed === 0) return EXIT_OK;
    err.write(`${file}: ${failed} of ${results.length} promql alarm${results.length === 1 ? '' : 's'} failed against ${client.where}\n`);
    return EXIT_USER_ERROR;
  } finally {
    await client.close();
  }
}

interface Described {
  failed: boolean;
  text: string;
}

function describeAnswer(answer: InstantAnswer, alarm: AlarmConfig): Described {
  if (answer.resultType === 'scalar') return { failed: false, text: `a scalar, ${valueVerdict(answer.value, alarm)}` };
  const { samples } = answer;
  if (samples.length === 0) {
    const now = alarm.onEmpty === 'zero' ? `read as 0 (onEmpty: zero), ${valueVerdict(0, alarm)}` : 'a check now would be inconclusive (onEmpty: inconclusive)';
    return { failed: false, text: `empty (no series): ${now}` };
  }
  if (samples.length > 1) {
    return { failed: true, text: `${samples.length} series: an alarm needs one number, so every check would be inconclusive; aggregate them, e.g. with sum() or max()` };
  }
  return { failed: false, text: `one series, ${valueVerdict((samples[0] as { value: number }).value, alarm)}` };
}

function valueVerdict(value: number, alarm: AlarmConfig): string {
  if (Number.isNaN(value)) return 'NaN: a check now would be inconclusive (e.g. 0/0 with no traffic)';
  if (!Number.isFinite(value)) return `${value > 0 ? '+Inf' : '-Inf'}: a check now would be inconclusive (a division by zero?)`;
  const shown = String(Math.round(value * 1e6) / 1e6);
  if (alarm.max !== undefined && value > alarm.max) return `${shown}: a check now would breach (> max ${alarm.max})`;
  if (alarm.min !== undefined && value < alarm.min) return `${shown}: a check now would breach (< min ${alarm.min})`;
  return `${shown}: a check now would pass`;
}

function describeFailure(e: unknown): string {
  if (e instanceof MeasurementError) return `${e.kind === 'bad-query' ? 'refused' : 'not checked'}: ${e.message}`;
  return `not checked: ${errorMessage(e)}`;
}

import { MeasurementError } from './window-stats.js';

/** One series of an instant vector: its labels (the metric name included when Prometheus kept it) and value. */
export interface PromSample {
  readonly labels: Readonly<Record<string, string>>;
  /** As Prometheus sent it: NaN and ±Infinity are kept here and judged by the caller. */
  readonly value: number;
}

/** An instant query's result, reduced to the two shapes a number can come from. */
export type InstantAnswer = { readonly resultType: 'scalar'; readonly value: number } | { readonly resultType: 'vector'; readonly samples: readonly PromSample[] };

/** What came back over HTTP, before any interpretation. */
export interface RawAnswer {
  status: number;
  contentType: string;
  body: string;
}

/**
 * Turns an HTTP answer of `/api/v1/query` into a result or a MeasurementError. A query
 * Prometheus refused (400 bad_data, 422 execution) is `bad-query`: the alarm's text is wrong
 * and no retry fixes it. Everything that says nothing about the query (5xx, an HTML page from
 * something in front of Prometheus, broken JSON, an unexpected layout) is `provider-error`.
 * `where` names the server in messages ("Prometheus at http://...").
 */
export function readAnswer(raw: RawAnswer, where: string): InstantAnswer {
  const parsed = parseJson(raw.body);
  const envelope = isRecord(parsed) ? parsed : undefined;

  if (envelope?.status === 'error') {
    const errorType = typeof envelope.errorType === 'string' ? envelope.errorType : 'unknown';
    const error = typeof envelope.error === 'string' ? stripParameterPrefix(envelope.error) : 'no error text';
    if (raw.status === 400) throw new MeasurementError('bad-query', `bad PromQL, rejected by Prometheus (${errorType}): ${clip(error)}`);
    if (raw.status === 422) throw new MeasurementError('bad-query', `Prometheus cannot execute the query (${errorType}): ${clip(error)}`);
    throw new MeasurementError('provider-error', `${where} failed the query with HTTP ${raw.status} (${errorType}): ${clip(error)}`);
  }

  if (raw.status !== 200) {
    const hint = raw.status === 404 ? '; is metrics.prometheus.url the Prometheus base URL?' : '';
    throw new MeasurementError('provider-error', `${where} answered HTTP ${raw.status}${bodyKind(raw)}${hint}`);
  }

  if (envelope === undefined) {
    if (parsed === NOT_JSON && !looksLikeJson(raw)) {
      throw new MeasurementError('provider-error', `${where} answered ${raw.contentType || 'a body'} instead of the query API's JSON; is metrics.prometheus.url the Prometheus base URL?`);
    }
    throw new MeasurementError('provider-error', `${where} sent unreadable JSON (${Buffer.byteLength(raw.body)} bytes, truncated or malformed)`);
  }
  if (envelope.status !== 'success' || !isRecord(envelope.data)) {
    throw new MeasurementError('provider-error', `${where} sent an answer without status "success" and data`);
  }
  return readResult(envelope.data, where);
}

/**
 * The one number an alarm compares. Several series are refused rather than summed: the right
 * reduction (sum of counts, max of ratios, ...) depends on what the query means, and a silent
 * sum would turn a forgotten `sum()` around a ratio into a wrong value. NaN (0/0 at zero
 * traffic) and ±Inf (a division by zero) are no-data: neither may pass or fail a threshold.
 * An empty vector is no-data too, marked as such for the alarms that read it as 0 (`onEmpty: zero`).
 */
export function singleValue(answer: InstantAnswer): number {
  let value: number;
  if (answer.resultType === 'scalar') {
    value = answer.value;
  } else {
    const { samples } = answer;
    if (samples.length === 0) throw new MeasurementError('no-data', EMPTY_ANSWER, { emptyAnswer: true });
    if (samples.length > 1) {
      const shown = samples.slice(0, 2).map((s) => labelText(s.labels)).join(', ');
      throw new MeasurementError(
        'bad-query',
        `the query returned ${samples.length} series (${shown}${samples.length > 2 ? ', ...' : ''}); an alarm needs one number: aggregate them, e.g. with sum() or max()`,
      );
    }
    value = (samples[0] as PromSample).value;
  }
  if (Number.isNaN(value)) throw new MeasurementError('no-data', 'the query returned NaN (e.g. 0/0 when there was no traffic)');
  if (!Number.isFinite(value)) {
    const sign = value > 0 ? '+Inf' : '-Inf';
    throw new MeasurementError('no-data', `the query returned ${sign} (e.g. a division by zero); clamp it in the query if it should count as a value`);
  }
  return value;
}

/** Says how to fix it: the usual cause is a selector with no series yet (no 5xx so far). */
export const EMPTY_ANSWER =
  'the query returned no series (empty vector); if no series means 0 here, add "or vector(0)" to the part that may have none, or set onEmpty: zero';

function readResult(data: Record<string, unknown>, where: string): InstantAnswer {
  const { resultType, result } = data;
  switch (resultType) {
    case 'scalar':
      return { resultType: 'scalar', value: sampleValue(result, where) };
    case 'vector': {
      if (!Array.isArray(result)) throw malformed(where, 'a vector without a result list');
      return { resultType: 'vector', samples: result.map((entry) => vectorSample(entry, where)) };
    }
    case 'matrix':
      throw new MeasurementError('bad-query', 'the query returned a range vector (matrix); an alarm needs an instant value: apply rate(), increase() or an *_over_time() function to the range');
    case 'string':
      throw new MeasurementError('bad-query', 'the query returned a string; an alarm needs a number');
    default:
      throw malformed(where, `an unknown resultType ${JSON.stringify(resultType)}`);
  }
}

function vectorSample(entry: unknown, where: string): PromSample {
  if (!isRecord(entry) || !isRecord(entry.metric)) throw malformed(where, 'a vector element without labels');
  if (entry.value === undefined && entry.histogram !== undefined) {
    throw new MeasurementError('bad-query', 'the query returned a native histogram; an alarm needs a float, e.g. from histogram_quantile()');
  }
  const labels: Record<string, string> = {};
  for (const [name, value] of Object.entries(entry.metric)) labels[name] = String(value);
  return { labels, value: sampleValue(entry.value, where) };
}

/** A `[timestamp, "value"]` pair; Prometheus spells the special values NaN, +Inf and -Inf. */
function sampleValue(pair: unknown, where: string): number {
  if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[1] !== 'string') throw malformed(where, 'a sample that is not [time, "value"]');
  const text = pair[1];
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  const value = text.trim() === '' ? Number.NaN : Number(text);
  if (Number.isNaN(value)) throw malformed(where, `an unreadable sample value ${JSON.stringify(clip(text, 40))}`);
  return value;
}

function malformed(where: string, what: string): MeasurementError {
  return new MeasurementError('provider-error', `${where} sent ${what}`);
}

const NOT_JSON = Symbol('not JSON');

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return NOT_JSON;
  }
}

function looksLikeJson(raw: RawAnswer): boolean {
  return /\bjson\b/i.test(raw.contentType) || /^\s*[[{]/.test(raw.body);
}

function bodyKind(raw: RawAnswer): string {
  if (raw.body.length === 0) return '';
  return raw.contentType ? ` (${raw.contentType.split(';')[0]?.trim()})` : '';
}

/** Prometheus prefixes parse errors with the parameter name, which says nothing to an alarm's author. */
function stripParameterPrefix(error: string): string {
  return error.replace(/^invalid parameter "query": /, '');
}

function labelText(labels: Readonly<Record<string, string>>): string {
  const { __name__: name, ...rest } = labels;
  const inner = Object.entries(rest)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',');
  return clip(`${name ?? ''}{${inner}}`, 80);
}

function clip(text: string, max = 300): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

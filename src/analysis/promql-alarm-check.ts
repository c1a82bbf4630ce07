import type { SyntaxNode } from '@lezer/common';
import type { AlarmOnEmpty, ShiftproxyConfig } from '../core/config-types.js';
import { lintPromql, type PromqlLint } from './promql-lint.js';
import { caretExcerpt, positionText } from './promql-position.js';
import { argumentsOf, binaryParts, selectorsUnder, seriesGrouping, unwrap, vectorJoins, walk, type SelectorView } from './promql-shape.js';

/**
 * What an alarm needs from its `promql`, checked when the config loads: a query Prometheus
 * accepts (its own grammar and type rules), whose answer can be one number. Errors make the
 * config invalid; warnings flag queries that are valid PromQL but would leave every check
 * inconclusive, or pass one that measured nothing. Warnings never fire on a query that
 * always answers one number correctly.
 */

export interface AlarmQueryProblem {
  field: 'promql' | 'onEmpty';
  message: string;
}

export interface AlarmQueryCheck {
  errors: AlarmQueryProblem[];
  warnings: string[];
}

/** Continuation lines of a message (the query excerpt) are indented under the problem line. */
const EXCERPT_INDENT = '      ';

export function checkAlarmQuery(query: string, onEmpty: AlarmOnEmpty): AlarmQueryCheck {
  const lint = lintPromql(query);
  if (lint.errors.length > 0) {
    return { errors: lint.errors.map((e) => ({ field: 'promql', message: lintErrorText(query, lint, e.message, e.from) })), warnings: [] };
  }
  const root = lint.root as SyntaxNode;
  const errors: AlarmQueryProblem[] = [];
  if (lint.type === 'matrix') {
    errors.push({ field: 'promql', message: 'returns a range vector, not one number: apply rate(), increase() or an *_over_time() function to the range' });
  } else if (lint.type === 'string') {
    errors.push({ field: 'promql', message: 'returns a string, not a number' });
  }
  if (onEmpty === 'zero') {
    const join = vectorJoins(root, lint.typeOf)[0];
    if (join) errors.push({ field: 'onEmpty', message: zeroRefusal(query, join.from, join.to) });
  }
  if (errors.length > 0) return { errors, warnings: [] };

  const warnings = lint.warnings.map((w) => `${w.message} (at ${positionText(query, w.from)})`);
  warnings.push(...seriesWarnings(query, lint, root), ...emptyRatioWarnings(query, lint, root));
  return { errors: [], warnings };
}

/** Warnings for every PromQL alarm of a loaded config, each led by its path. */
export function alarmQueryWarnings(config: ShiftproxyConfig): string[] {
  const lines: string[] = [];
  config.services.forEach((service, s) => {
    service.rollout.analysis.alarms.forEach((alarm, a) => {
      if (alarm.promql === undefined) return;
      for (const warning of checkAlarmQuery(alarm.promql, alarm.onEmpty ?? 'inconclusive').warnings) {
        lines.push(`services[${s}].rollout.analysis.alarms[${a}].promql: ${warning}`);
      }
    });
  });
  return lines;
}

function lintErrorText(query: string, lint: PromqlLint, message: string, from: number): string {
  if (lint.errorKind === 'empty') return message;
  const kind = lint.errorKind === 'syntax' ? 'PromQL syntax error' : 'bad PromQL';
  return `${kind} at ${positionText(query, from)}: ${message}\n${caretExcerpt(query, from, EXCERPT_INDENT)}`;
}

function zeroRefusal(query: string, from: number, to: number): string {
  const operator = query.slice(from, to);
  return (
    `zero cannot apply here: the answer of "${operator}" at ${positionText(query, from)} is also empty when one side has no series ` +
    `(a ratio with no traffic), and that must stay inconclusive. Keep onEmpty: inconclusive and add "or vector(0)" to the part ` +
    `that may have no series, e.g. (sum(rate(errors[1m])) or vector(0)) / sum(rate(requests[1m]))\n${caretExcerpt(query, from, EXCERPT_INDENT)}`
  );
}

const ADVICE = 'an alarm needs one number, and a check that gets several is inconclusive';

function seriesWarnings(query: string, lint: PromqlLint, root: SyntaxNode): string[] {
  if (lint.type !== 'vector') return [];
  const grouping = seriesGrouping(root, lint.typeOf, query);
  if (grouping === 'unknown') return [`may return several series (no aggregation at the top): ${ADVICE}; aggregate them, e.g. sum(...) or max(...)`];
  if (grouping.length > 0) return [`returns one series per ${grouping.map((l) => `"${l}"`).join(', ')} (its "by" labels): ${ADVICE}; aggregate without them or wrap the query in max(...)`];
  return [];
}

/**
 * The two ways a ratio quietly misjudges an empty side. `sum(rate(x{code=~"5.."}[1m])) /
 * sum(rate(x[1m]))` has no answer while there are no 5xx, so a healthy canary is inconclusive
 * check after check and rolled back. `(A / B) or vector(0)` answers 0 when B is empty too,
 * which passes a canary that took no traffic.
 */
function emptyRatioWarnings(query: string, lint: PromqlLint, root: SyntaxNode): string[] {
  const warnings: string[] = [];
  // A ratio inside the left side of `... or vector(0)` is never empty: only the second warning applies to it.
  const zeroed = new Set<number>();
  walk(root, (node) => {
    if (node.name !== 'BinaryExpr') return;
    const parts = binaryParts(node);
    if (!parts || lint.typeOf(parts.left) !== 'vector' || lint.typeOf(parts.right) !== 'vector') return;
    if (parts.operator === 'Or' && isConstantVector(parts.right, query)) walk(parts.left, (n) => zeroed.add(n.from * 1e6 + n.to));
    if (parts.operator === 'Div' && !zeroed.has(node.from * 1e6 + node.to) && !guarded(parts.left, lint)) {
      const narrower = narrowerSelector(selectorsUnder(parts.left, query), selectorsUnder(parts.right, query));
      if (narrower) {
        warnings.push(
          `while no series match ${narrower} (e.g. no errors yet) the left side of "/" at ${positionText(query, parts.operatorNode.from)} has no series, ` +
            'so the ratio is empty and the check inconclusive: a healthy canary is rolled back at inconclusiveLimit. ' +
            `Write the left side as (${clip(query.slice(parts.left.from, parts.left.to))} or vector(0))`,
        );
      }
    }
    if (parts.operator === 'Or' && isConstantVector(parts.right, query) && containsRatio(parts.left, lint)) {
      warnings.push(
        `"or ${query.slice(parts.right.from, parts.right.to)}" at ${positionText(query, parts.operatorNode.from)} also answers when the ratio's right side has no series (no traffic): ` +
          'a pass with nothing measured. Put it on the left side of "/" only: (A or vector(0)) / B',
      );
    }
  });
  return warnings;
}

/** `A or ...` at the top of a side (through parentheses, scalar arithmetic and functions of one vector). */
function guarded(node: SyntaxNode, lint: PromqlLint): boolean {
  const inner = unwrap(node);
  if (inner.name === 'BinaryExpr') {
    const parts = binaryParts(inner);
    if (!parts) return false;
    if (parts.operator === 'Or') return true;
    if (lint.typeOf(parts.left) !== 'vector') return guarded(parts.right, lint);
    if (lint.typeOf(parts.right) !== 'vector') return guarded(parts.left, lint);
    return false;
  }
  if (inner.name === 'FunctionCall') {
    const vectorArg = argumentsOf(inner).find((arg) => lint.typeOf(arg) === 'vector');
    return vectorArg !== undefined && guarded(vectorArg, lint);
  }
  return false;
}

/**
 * A left-side selector that narrows a right-side selector of the same metric: it keeps or
 * re-constrains every label the right side constrains, and adds or changes at least one
 * positive matcher. Those matchers, normalised.
 */
function narrowerSelector(left: readonly SelectorView[], right: readonly SelectorView[]): string | undefined {
  for (const l of left) {
    for (const r of right) {
      if (l.metric !== r.metric) continue;
      if (!r.matchers.every((m) => l.matchers.some((x) => x.text === m.text || x.label === m.label))) continue;
      const rightMatchers = new Set(r.matchers.map((m) => m.text));
      // Only a positive matcher (= or =~) picks a subset that is often empty; a negative one
      // (code!~"5..") drops a few series and leaves the rest.
      const extra = l.matchers.filter((m) => !rightMatchers.has(m.text) && m.positive);
      if (extra.length > 0) return `{${extra.map((m) => m.text).join(', ')}}`;
    }
  }
  return undefined;
}

function isConstantVector(node: SyntaxNode, query: string): boolean {
  const inner = unwrap(node);
  if (inner.name !== 'FunctionCall') return false;
  const id = inner.getChild('FunctionIdentifier');
  const [arg] = argumentsOf(inner);
  return id !== null && query.slice(id.from, id.to) === 'vector' && arg !== undefined && unwrap(arg).name === 'NumberDurationLiteral';
}

function containsRatio(node: SyntaxNode, lint: PromqlLint): boolean {
  let found = false;
  walk(node, (n) => {
    if (found || n.name !== 'BinaryExpr') return;
    const parts = binaryParts(n);
    found = parts !== undefined && parts.operator === 'Div' && lint.typeOf(parts.left) === 'vector' && lint.typeOf(parts.right) === 'vector';
  });
  return found;
}

function clip(text: string, max = 60): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length <= max ? flat : `${flat.slice(0, max - 3)}...`;
}

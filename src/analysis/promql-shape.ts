import type { SyntaxNode } from '@lezer/common';
import type { PromqlFinding, PromqlType } from './promql-lint.js';

/**
 * What a well-formed query's tree says about its answer before it runs: how many series it
 * can return, and which of its operators can empty it. Every rule here errs on the side of
 * saying nothing: a query that always returns one number must never be flagged.
 */

/** The labels that can tell the answer's series apart: [] means one series at most; 'unknown' any number. */
export type SeriesGrouping = readonly string[] | 'unknown';

type TypeOf = (node: SyntaxNode) => PromqlType;

const ONE: SeriesGrouping = [];

/** Aggregations whose result has one series per value of their `by` labels. */
const GROUPING_AGGREGATIONS = new Set(['sum', 'avg', 'min', 'max', 'count', 'stddev', 'stdvar', 'group', 'quantile']);
/** Aggregations that keep up to k series of each group. */
const K_AGGREGATIONS = new Set(['topk', 'bottomk', 'limitk']);

const BINARY_OPERATORS = new Set(['Add', 'Sub', 'Mul', 'Div', 'Mod', 'Pow', 'Atan2', 'Eql', 'Neq', 'Gtr', 'Lss', 'Gte', 'Lte', 'And', 'Or', 'Unless', 'TrimLower', 'TrimUpper']);

export function seriesGrouping(node: SyntaxNode, typeOf: TypeOf, query: string): SeriesGrouping {
  const type = typeOf(node);
  if (type === 'scalar' || type === 'string') return ONE;
  switch (node.name) {
    case 'ParenExpr':
    case 'UnaryExpr':
    case 'OffsetExpr':
    case 'StepInvariantExpr':
    case 'SubqueryExpr':
    case 'SmoothedExpr':
    case 'AnchoredExpr': {
      const inner = innerExpression(node);
      return inner ? seriesGrouping(inner, typeOf, query) : 'unknown';
    }
    case 'AggregateExpr':
      return aggregationGrouping(node, typeOf, query);
    case 'FunctionCall':
      return functionGrouping(node, typeOf, query);
    case 'BinaryExpr':
      return binaryGrouping(node, typeOf, query);
    default:
      // A selector (instant or range) returns whatever series match it.
      return 'unknown';
  }
}

/** The expression a wrapper applies to (parenthesis, unary minus, offset, @, subquery). */
export function innerExpression(node: SyntaxNode): SyntaxNode | null {
  return node.getChild('Expr');
}

/** Through parentheses. */
export function unwrap(node: SyntaxNode): SyntaxNode {
  let current = node;
  while (current.name === 'ParenExpr') {
    const inner = current.getChild('Expr');
    if (!inner) break;
    current = inner;
  }
  return current;
}

export interface BinaryParts {
  left: SyntaxNode;
  right: SyntaxNode;
  /** The operator's node name: Div, Or, Gtr, ... */
  operator: string;
  operatorNode: SyntaxNode;
  bool: boolean;
  /** 'left' for group_left, 'right' for group_right. */
  group: 'left' | 'right' | undefined;
}

export function binaryParts(node: SyntaxNode): BinaryParts | undefined {
  const left = node.firstChild;
  const right = node.lastChild;
  if (!left || !right || left === right) return undefined;
  let operatorNode: SyntaxNode | undefined;
  let bool = false;
  let group: 'left' | 'right' | undefined;
  for (let child = left.nextSibling; child && child.from < right.from; child = child.nextSibling) {
    if (BINARY_OPERATORS.has(child.name) && !operatorNode) operatorNode = child;
    if (child.name === 'BoolModifier') bool = true;
    if (child.name === 'MatchingModifierClause') {
      if (child.getChild('GroupLeft')) group = 'left';
      if (child.getChild('GroupRight')) group = 'right';
    }
  }
  return operatorNode ? { left, right, operator: operatorNode.name, operatorNode, bool, group } : undefined;
}

function aggregationGrouping(node: SyntaxNode, typeOf: TypeOf, query: string): SeriesGrouping {
  const op = node.getChild('AggregateOp');
  const name = op ? query.slice(op.from, op.to).toLowerCase() : '';
  const modifier = node.getChild('AggregateModifier');
  if (modifier?.getChild('Without')) return 'unknown';
  const labels = modifier ? groupingLabels(modifier, query) : [];
  if (GROUPING_AGGREGATIONS.has(name)) return labels;
  if (K_AGGREGATIONS.has(name)) {
    const [k] = argumentsOf(node);
    const value = k && k.name === 'NumberDurationLiteral' ? Number(query.slice(k.from, k.to)) : Number.NaN;
    return value <= 1 ? labels : 'unknown';
  }
  // count_values adds a label per value; limit_ratio keeps a share of every series.
  return 'unknown';
}

function functionGrouping(node: SyntaxNode, typeOf: TypeOf, query: string): SeriesGrouping {
  const id = node.getChild('FunctionIdentifier');
  const name = id ? query.slice(id.from, id.to) : '';
  const args = argumentsOf(node);
  if (name === 'vector' || name === 'absent' || name === 'absent_over_time') return ONE;
  if (name === 'histogram_quantile') {
    const buckets = args[1];
    const grouping = buckets ? seriesGrouping(buckets, typeOf, query) : 'unknown';
    return grouping === 'unknown' ? grouping : grouping.filter((label) => label !== 'le');
  }
  // Every other function returns at most one series per series of its vector argument
  // (element-wise maths, label_replace, the *_over_time family, rate, ...).
  const series = args.find((arg) => {
    const type = typeOf(arg);
    return type === 'vector' || type === 'matrix';
  });
  return series ? seriesGrouping(series, typeOf, query) : ONE;
}

function binaryGrouping(node: SyntaxNode, typeOf: TypeOf, query: string): SeriesGrouping {
  const parts = binaryParts(node);
  if (!parts) return 'unknown';
  const leftType = typeOf(parts.left);
  const rightType = typeOf(parts.right);
  if (leftType !== 'vector') return seriesGrouping(parts.right, typeOf, query);
  if (rightType !== 'vector') return seriesGrouping(parts.left, typeOf, query);
  const left = seriesGrouping(parts.left, typeOf, query);
  const right = seriesGrouping(parts.right, typeOf, query);
  switch (parts.operator) {
    case 'Or':
      // The union of two answers; the same grouping on both sides keeps it (sum(x) or vector(0)).
      return left !== 'unknown' && right !== 'unknown' && sameLabels(left, right) ? left : 'unknown';
    case 'And':
    case 'Unless':
      return left;
    default:
      // One-to-one matching pairs each series at most once, so the answer is no larger than
      // either side; group_left/right keeps every series of the "many" side.
      if (parts.group === 'left') return left;
      if (parts.group === 'right') return right;
      if (left !== 'unknown' && left.length === 0) return left;
      if (right !== 'unknown' && right.length === 0) return right;
      return left !== 'unknown' ? left : right;
  }
}

/** The arguments of a function call or aggregation, in order. */
export function argumentsOf(node: SyntaxNode): SyntaxNode[] {
  const body = node.getChild('FunctionCallBody');
  return body ? body.getChildren('Expr') : [];
}

function groupingLabels(modifier: SyntaxNode, query: string): string[] {
  const list = modifier.getChild('GroupingLabels');
  if (!list) return [];
  return list.getChildren('LabelName').map((label) => unquote(query.slice(label.from, label.to)));
}

function sameLabels(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((label) => b.includes(label));
}

function unquote(text: string): string {
  return /^["'`]/.test(text) ? text.slice(1, -1) : text;
}

/**
 * Operators between two instant vectors that drop a series of one side when the other side has
 * no match: arithmetic, comparisons, `and`, `unless`. Their answer is empty whenever one side is
 * (a ratio with no traffic), which is why an empty answer cannot simply be read as zero.
 */
export function vectorJoins(root: SyntaxNode, typeOf: TypeOf): PromqlFinding[] {
  const found: PromqlFinding[] = [];
  walk(root, (node) => {
    if (node.name !== 'BinaryExpr') return;
    const parts = binaryParts(node);
    if (!parts || parts.operator === 'Or') return;
    if (typeOf(parts.left) === 'vector' && typeOf(parts.right) === 'vector') {
      found.push({ message: parts.operator, from: parts.operatorNode.from, to: parts.operatorNode.to });
    }
  });
  return found;
}

/** Every node under `node` (itself included), in document order. */
export function walk(node: SyntaxNode, visit: (node: SyntaxNode) => void): void {
  visit(node);
  for (let child = node.firstChild; child; child = child.nextSibling) walk(child, visit);
}

export interface SelectorView {
  node: SyntaxNode;
  metric: string;
  /** One per matcher, the metric name excluded: its label and `label op "value"`, spaces and quotes normalised. */
  matchers: { label: string; text: string; positive: boolean }[];
}

/** Every instant selector under `node` that names its metric. */
export function selectorsUnder(node: SyntaxNode, query: string): SelectorView[] {
  const found: SelectorView[] = [];
  walk(node, (selector) => {
    if (selector.name !== 'VectorSelector') return;
    const id = selector.getChild('Identifier');
    if (!id) return;
    const list = selector.getChild('LabelMatchers');
    const matchers = (list ? [...list.getChildren('UnquotedLabelMatcher'), ...list.getChildren('QuotedLabelMatcher')] : []).map((m) => {
      const name = m.getChild('LabelName') ?? m.getChild('QuotedLabelName');
      const op = m.getChild('MatchOp');
      const positive = op !== null && (op.getChild('EqlSingle') !== null || op.getChild('EqlRegex') !== null);
      return { label: name ? unquote(query.slice(name.from, name.to)) : '', text: normalisedMatcher(query.slice(m.from, m.to)), positive };
    });
    found.push({ node: selector, metric: query.slice(id.from, id.to), matchers });
  });
  return found;
}

/** `code =~ "5.."` and `code=~'5..'` are the same matcher. */
function normalisedMatcher(text: string): string {
  const match = /^\s*("(?:[^"\\]|\\.)*"|[\w]+)\s*(=~|!~|!=|=)\s*(.*?)\s*$/s.exec(text);
  if (!match) return text.replace(/\s+/g, '');
  const value = (match[3] as string).replace(/^'(.*)'$/s, '"$1"').replace(/^`(.*)`$/s, '"$1"');
  return `${unquote(match[1] as string)}${match[2]}${value}`;
}

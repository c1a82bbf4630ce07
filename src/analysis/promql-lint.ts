import { createRequire } from 'node:module';
import type { EditorState } from '@codemirror/state';
import type { SyntaxNode, Tree } from '@lezer/common';
import { positionText } from './promql-position.js';

/**
 * PromQL read with Prometheus's own grammar (`@prometheus-io/lezer-promql`, the parser of its
 * web UI) and type-checked by the same UI's linter (`@prometheus-io/codemirror-promql`, a port
 * of the Go parser's checks: function signatures, argument types, binary operator and vector
 * matching rules). Both are loaded on first use, so a config without PromQL never loads them.
 */

export type PromqlType = 'scalar' | 'vector' | 'matrix' | 'string' | 'none';

/** A problem at a place in the query: UTF-16 offsets, as the parser counts. */
export interface PromqlFinding {
  message: string;
  from: number;
  to: number;
}

export interface PromqlLint {
  /** Prometheus would refuse the query: the first syntax error, or else every type error. */
  errors: PromqlFinding[];
  /** What the errors are: the query is empty, does not parse, or parses with type errors. */
  errorKind: 'empty' | 'syntax' | 'type' | undefined;
  /** Accepted, but probably not what was meant (the linter's own warnings). */
  warnings: PromqlFinding[];
  /** The whole expression's type; 'none' when the query has errors or no expression. */
  type: PromqlType;
  /** The whole expression's node (comments skipped); undefined when there is none. */
  root: SyntaxNode | undefined;
  /** The type of any node of this query's tree. */
  typeOf(node: SyntaxNode): PromqlType;
}

interface UiLinter {
  checkAST(node: SyntaxNode | null): string;
  getDiagnostics(): readonly { message: string; from: number; to: number; severity: string }[];
}

interface Toolkit {
  parse(query: string): Tree;
  linter(query: string): UiLinter;
  typeOf(node: SyntaxNode): PromqlType;
}

let toolkit: Toolkit | undefined;

/**
 * Through require, one copy of each: codemirror-promql ships CommonJS (its ES build does not
 * load in Node), and CodeMirror refuses a state built by a second copy of @codemirror/state.
 */
function loadToolkit(): Toolkit {
  if (toolkit) return toolkit;
  const require = createRequire(import.meta.url);
  const { parser } = require('@prometheus-io/lezer-promql') as { parser: { parse(input: string): Tree } };
  const { EditorState: State } = require('@codemirror/state') as { EditorState: typeof EditorState };
  const { Parser } = require('@prometheus-io/codemirror-promql/dist/cjs/parser/parser.js') as { Parser: new (state: EditorState) => UiLinter };
  const { getType } = require('@prometheus-io/codemirror-promql/dist/cjs/parser/type.js') as { getType(node: SyntaxNode | null): string };
  toolkit = {
    parse: (query) => parser.parse(query),
    // The linter reads the text from the state and the nodes we hand to checkAST. It is never
    // asked for the state's own tree: CodeMirror parses within a time budget and may stop short
    // on a busy machine, where our tree is parsed to the end.
    linter: (query) => new Parser(State.create({ doc: query })),
    typeOf: (node) => asType(getType(node)),
  };
  return toolkit;
}

export function lintPromql(query: string): PromqlLint {
  const kit = loadToolkit();
  const tree = kit.parse(query);
  const root = expressionOf(tree);
  const base = { root, typeOf: kit.typeOf };
  if (query.replace(/#[^\n]*/g, '').trim() === '') {
    return { ...base, errors: [{ message: 'is empty: no expression', from: 0, to: query.length }], errorKind: 'empty', warnings: [], type: 'none' };
  }
  const syntax = firstErrorNode(tree);
  if (syntax || !root) return { ...base, errors: [syntaxError(query, syntax ?? tree.topNode)], errorKind: 'syntax', warnings: [], type: 'none' };

  const linter = kit.linter(query);
  let type: PromqlType;
  try {
    type = asType(linter.checkAST(root));
  } catch (err) {
    // A fault in the checker must neither refuse a query Prometheus may accept nor stop the
    // config from loading: the query is reported as checked for syntax only.
    const why = err instanceof Error ? err.message : String(err);
    return { ...base, errors: [], errorKind: undefined, warnings: [{ message: `its types could not be checked (${why})`, from: 0, to: 0 }], type: 'none' };
  }
  const errors: PromqlFinding[] = [];
  const warnings: PromqlFinding[] = [];
  const seen = new Set<string>();
  for (const d of linter.getDiagnostics()) {
    const finding = { message: readableTypes(d.message), from: d.from, to: d.to };
    const key = `${finding.from}:${finding.to}:${finding.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    (d.severity === 'error' ? errors : warnings).push(finding);
  }
  return { ...base, errors, errorKind: errors.length > 0 ? 'type' : undefined, warnings, type: errors.length > 0 ? 'none' : type };
}

/** The expression under the PromQL top node; comments are nodes too, and come first when the query starts with one. */
function expressionOf(tree: Tree): SyntaxNode | undefined {
  for (let node = tree.topNode.firstChild; node; node = node.nextSibling) {
    if (node.name !== 'LineComment' && !node.type.isError) return node;
  }
  return undefined;
}

function firstErrorNode(tree: Tree): SyntaxNode | undefined {
  let found: SyntaxNode | undefined;
  tree.iterate({
    enter: (ref) => {
      if (found) return false;
      if (ref.type.isError) {
        found = ref.node;
        return false;
      }
      return undefined;
    },
  });
  return found;
}

/** Lezer marks where parsing failed but says nothing about why; the text around it does. */
function syntaxError(query: string, node: SyntaxNode): PromqlFinding {
  const at = node.from;
  if (query.slice(at).replace(/#[^\n]*/g, '').trim() === '') {
    const open = unclosed(query);
    const why = open ? `; ${open.what} at ${positionText(query, open.at)} is never closed` : '';
    return { message: `unexpected end of the query${why}`, from: at, to: at };
  }
  const text = node.to > node.from ? query.slice(node.from, node.to) : nextToken(query, at);
  const before = node.prevSibling;
  if (text.startsWith('(') && before?.name === 'Identifier' && node.parent?.name === 'VectorSelector') {
    return { message: `unknown function "${query.slice(before.from, before.to)}"`, from: before.from, to: node.to };
  }
  if (node.firstChild?.name === 'Identifier' && /LabelMatcher$/.test(node.parent?.name ?? '')) {
    return { message: `unexpected "${clip(text)}": label values are quoted, e.g. ${labelNameBefore(node, query)}="${clip(text)}"`, from: node.from, to: node.to };
  }
  if (/^[)\]}]/.test(text)) {
    const open = unclosed(query.slice(0, at));
    return { message: `unexpected "${text[0]}"${open ? '' : ': nothing is open to close'}`, from: at, to: at + 1 };
  }
  return { message: `unexpected "${clip(text)}"`, from: at, to: at + text.length };
}

function labelNameBefore(node: SyntaxNode, query: string): string {
  const name = node.parent?.getChild('LabelName');
  return name ? query.slice(name.from, name.to) : 'label';
}

/** The token starting at `at` (after blanks): a name, a number or duration, a string, or one character. */
function nextToken(query: string, at: number): string {
  const rest = query.slice(at).trimStart();
  const match = /^(?:[A-Za-z_:][\w:]*|[0-9][\w.]*|"(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?|`[^`]*`?|[=!<>]=|=~|!~|\S)/.exec(rest);
  return match ? match[0] : rest.slice(0, 1);
}

/** The innermost bracket or string still open at the end of `text`, skipping strings and comments. */
function unclosed(text: string): { what: string; at: number } | undefined {
  const open: { char: string; at: number }[] = [];
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (char === '"' || char === "'" || char === '`') {
      const end = stringEnd(text, i);
      if (end < 0) return { what: 'the string', at: i };
      i = end;
    } else if (char === '#') {
      const newline = text.indexOf('\n', i);
      if (newline < 0) break;
      i = newline;
    } else if (char === '(' || char === '[' || char === '{') {
      open.push({ char, at: i });
    } else if (pairs[char] !== undefined && open.at(-1)?.char === pairs[char]) {
      open.pop();
    }
  }
  const last = open.at(-1);
  return last ? { what: `"${last.char}"`, at: last.at } : undefined;
}

/** Index of the quote closing the string opened at `start`, or -1. Backquoted strings have no escapes. */
function stringEnd(text: string, start: number): number {
  const quote = text[start];
  for (let i = start + 1; i < text.length; i++) {
    if (quote !== '`' && text[i] === '\\') i += 1;
    else if (text[i] === quote) return i;
  }
  return -1;
}

const TYPE_WORDS: Record<string, string> = { matrix: 'range vector', vector: 'instant vector', scalar: 'scalar', string: 'string', none: 'nothing' };

/** The UI linter names types as its code does ("matrix", "vector"); Prometheus's messages say "range vector", "instant vector". */
function readableTypes(message: string): string {
  return message
    .replace(/^expected type (\w+) in (.+), got (\w+)$/, (_, want: string, where: string, got: string) => `expected ${TYPE_WORDS[want] ?? want} in ${where}, got ${TYPE_WORDS[got] ?? got}`)
    .replace(/, got (matrix|vector) in /, (_, got: string) => `, got ${TYPE_WORDS[got]} in `);
}

function asType(value: string): PromqlType {
  return value === 'scalar' || value === 'vector' || value === 'matrix' || value === 'string' ? value : 'none';
}

function clip(text: string, max = 30): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

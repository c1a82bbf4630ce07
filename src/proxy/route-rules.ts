import type { NamedValueMatchConfig, RouteDestination, RouteRuleConfig, ValueMatchConfig } from '../core/config-types.js';
import { equalsLowerToken } from './header-names.js';
import { readCookie } from './request-headers.js';

/** One value condition, compiled: an exact string or a regex (proven safe when the config loaded). */
class ValueMatcher {
  private readonly exact: string | null;
  private readonly regex: RegExp | null;

  constructor(config: ValueMatchConfig) {
    this.exact = 'exact' in config ? config.exact : null;
    this.regex = 'regex' in config ? new RegExp(config.regex) : null;
  }

  test(value: string): boolean {
    return this.exact !== null ? value === this.exact : (this.regex as RegExp).test(value);
  }
}

class NamedMatcher {
  readonly name: string;
  readonly value: ValueMatcher;
  constructor(config: NamedValueMatchConfig) {
    this.name = config.name;
    this.value = new ValueMatcher(config.value);
  }
}

/** One rule, compiled: each condition it has is checked, cheapest first; absent ones cost nothing. */
export class RouteRule {
  readonly index: number;
  readonly name: string;
  readonly to: RouteDestination;
  private readonly method: string | null;
  private readonly pathPrefix: string | null;
  private readonly path: RegExp | null;
  private readonly header: NamedMatcher | null;
  private readonly cookie: NamedMatcher | null;
  private readonly query: NamedMatcher | null;

  constructor(config: RouteRuleConfig, index: number) {
    const m = config.match;
    this.index = index;
    this.name = config.name;
    this.to = config.to;
    this.method = m.method ?? null;
    this.pathPrefix = m.pathPrefix ?? null;
    this.path = m.path ? new RegExp(m.path.regex) : null;
    this.header = m.header ? new NamedMatcher(m.header) : null;
    this.cookie = m.cookie ? new NamedMatcher(m.cookie) : null;
    this.query = m.query ? new NamedMatcher(m.query) : null;
  }

  matches(method: string, url: string, queryAt: number, rawHeaders: readonly string[], cookieHeader: string | undefined): boolean {
    if (this.method !== null && method !== this.method) return false;
    if (this.pathPrefix !== null && !url.startsWith(this.pathPrefix)) return false;
    if (this.path !== null && !this.path.test(queryAt < 0 ? url : url.slice(0, queryAt))) return false;
    if (this.header !== null && !headerMatches(rawHeaders, this.header)) return false;
    if (this.cookie !== null) {
      const value = readCookie(cookieHeader, this.cookie.name);
      if (value === undefined || !this.cookie.value.test(value)) return false;
    }
    if (this.query !== null && (queryAt < 0 || !queryMatches(url, queryAt, this.query))) return false;
    return true;
  }
}

/**
 * A service's routing rules, compiled once per config: the first rule whose conditions all hold
 * decides the request's slot. With no rules `match` is one length check.
 */
export class RouteRules {
  readonly rules: readonly RouteRule[];

  constructor(configs: readonly RouteRuleConfig[]) {
    this.rules = configs.map((config, index) => new RouteRule(config, index));
  }

  get size(): number {
    return this.rules.length;
  }

  match(method: string, url: string, rawHeaders: readonly string[], cookieHeader: string | undefined): RouteRule | null {
    const rules = this.rules;
    if (rules.length === 0) return null;
    const queryAt = url.indexOf('?');
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i] as RouteRule;
      if (rule.matches(method, url, queryAt, rawHeaders, cookieHeader)) return rule;
    }
    return null;
  }
}

/** Any field of that name (a repeated header is matched value by value). */
function headerMatches(raw: readonly string[], matcher: NamedMatcher): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    if (equalsLowerToken(raw[i] as string, matcher.name) && matcher.value.test(raw[i + 1] as string)) return true;
  }
  return false;
}

/** Any parameter of that name, percent-decoded (`+` as a space, as forms send it). */
function queryMatches(url: string, queryAt: number, matcher: NamedMatcher): boolean {
  let from = queryAt + 1;
  while (from <= url.length) {
    let end = url.indexOf('&', from);
    if (end < 0) end = url.length;
    const eq = url.indexOf('=', from);
    const nameEnd = eq >= 0 && eq < end ? eq : end;
    if (decode(url.slice(from, nameEnd)) === matcher.name && matcher.value.test(decode(nameEnd < end ? url.slice(nameEnd + 1, end) : ''))) return true;
    from = end + 1;
  }
  return false;
}

function decode(text: string): string {
  if (text.indexOf('%') < 0 && text.indexOf('+') < 0) return text;
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    // A malformed escape is matched as written, never an error: the rule just sees other bytes.
    return text;
  }
}

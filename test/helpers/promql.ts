/**
 * Finds the series selectors a PromQL expression names: metric name and the label names its
 * matchers and groupings use. Enough of a lexer for the rules and dashboards here (strings,
 * matchers, ranges, grouping clauses, functions, keywords); syntax itself is checked by promtool.
 */

export interface Selector {
  /** Metric name, or '' for a selector without one ({job="x"}). */
  readonly metric: string;
  /** Label names used in the selector's matchers. */
  readonly labels: readonly string[];
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan']);
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const IDENT = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const NUMBER = /(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)(?:[smhdwy]|ms)?(?:\d+(?:[smhdwy]|ms))*/y;

/** Grafana's macros and variables replaced by values PromQL accepts. */
export function substituteGrafanaVariables(expr: string): string {
  return expr.replace(/\$__(rate_interval|interval|range)\b/g, '5m').replace(/\$\{?(\w+)\}?/g, 'grafana_var_$1');
}

function skipString(s: string, i: number): number {
  const quote = s[i]!;
  let j = i + 1;
  while (j < s.length && s[j] !== quote) j += s[j] === '\\' && quote !== '`' ? 2 : 1;
  if (j >= s.length) throw new Error(`unterminated string in ${s}`);
  return j + 1;
}

function skipWs(s: string, i: number): number {
  while (i < s.length && /\s/.test(s[i]!)) i++;
  return i;
}

/** Index just past the bracket that closes the one at `i`, skipping strings. */
function skipBalanced(s: string, i: number, open: string, close: string): number {
  let depth = 0;
  for (let j = i; j < s.length; ) {
    const c = s[j]!;
    if (c === '"' || c === "'" || c === '`') {
      j = skipString(s, j);
      continue;
    }
    if (c === open) depth++;
    if (c === close && --depth === 0) return j + 1;
    j++;
  }
  throw new Error(`unbalanced ${open}${close} in ${s}`);
}

/** Label names of the matchers inside `{...}` (without the braces). */
function matcherLabels(body: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < body.length) {
    i = skipWs(body, i);
    if (i >= body.length) break;
    const c = body[i]!;
    if (c === ',') {
      i++;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      i = skipString(body, i);
      continue;
    }
    IDENT.lastIndex = i;
    const m = IDENT.exec(body);
    if (!m) throw new Error(`cannot read matchers {${body}}`);
    out.push(m[0]);
    i = skipWs(body, i + m[0].length);
    const op = /^(=~|!~|!=|=)/.exec(body.slice(i));
    if (!op) throw new Error(`no matcher operator after ${m[0]} in {${body}}`);
    i = skipWs(body, i + op[0].length);
    i = skipString(body, i);
  }
  return out;
}

/** Every selector in `expr`. Grafana's `label_values(selector, label)` is read as its selector. */
export function selectors(expr: string): Selector[] {
  const s = substituteGrafanaVariables(expr.replace(/^\s*label_values\((.*),\s*\w+\s*\)\s*$/s, '$1'));
  const out: Selector[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      i = skipString(s, i);
      continue;
    }
    if (c === '[') {
      i = skipBalanced(s, i, '[', ']');
      continue;
    }
    if (c === '{') {
      const end = skipBalanced(s, i, '{', '}');
      out.push({ metric: '', labels: matcherLabels(s.slice(i + 1, end - 1)) });
      i = end;
      continue;
    }
    NUMBER.lastIndex = i;
    const num = /[\d.]/.test(c) ? NUMBER.exec(s) : null;
    if (num) {
      i += num[0].length;
      continue;
    }
    IDENT.lastIndex = i;
    const id = IDENT.exec(s);
    if (!id) {
      i++;
      continue;
    }
    const word = id[0];
    let j = skipWs(s, i + word.length);
    if (GROUPING.has(word.toLowerCase())) {
      i = s[j] === '(' ? skipBalanced(s, j, '(', ')') : j;
      continue;
    }
    if (KEYWORDS.has(word.toLowerCase())) {
      i = j;
      continue;
    }
    if (s[j] === '(' || /^(by|without)\s*\(/i.test(s.slice(j))) {
      i = j; // a function or aggregation (`sum by (x) (...)`): its clauses and arguments are scanned next
      continue;
    }
    if (s[j] === '{') {
      const end = skipBalanced(s, j, '{', '}');
      out.push({ metric: word, labels: matcherLabels(s.slice(j + 1, end - 1)) });
      i = end;
      continue;
    }
    out.push({ metric: word, labels: [] });
    i = i + word.length;
  }
  return out;
}

/** Label names of every `by (...)`, `without (...)`, `on (...)`, `ignoring (...)` and `group_*(...)` clause. */
export function groupingLabels(expr: string): string[] {
  const s = substituteGrafanaVariables(expr);
  const out: string[] = [];
  const re = /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g;
  for (const m of s.replace(/"(?:[^"\\]|\\.)*"/g, '""').matchAll(re)) {
    for (const l of m[2]!.split(',')) if (l.trim()) out.push(l.trim());
  }
  return out;
}

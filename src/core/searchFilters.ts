// Filter tokens typed in the Find box beside the free text (issue 18): `run:ID step:12 step:10-20
// verdict:wrong label:none lint:any source:teacher prompt:ID`. Pure: the store turns the filters
// into SQL on indexed columns, the quick pick shows `problems` in its title and offers `suggest`.
// A bad token never throws: it is reported, and an unknown key stays in the text (a trace can hold
// "error: x", which must still be searchable as words).
import type { LintKind } from './rescore';
import type { Verdict } from './protocol';

export type LabelFilter = 'correct' | 'wrong' | 'hack' | 'none';
export type LintFilter = 'any' | LintKind;

export interface SearchFilters {
  runs: string[];
  /** inclusive ranges */
  steps: { from: number; to: number }[];
  verdicts: Verdict[];
  labels: LabelFilter[];
  lints: LintFilter[];
  sources: ('online' | 'offline')[];
  prompts: string[];
}

export interface ParsedSearch {
  /** the free text, filter tokens removed */
  text: string;
  filters: SearchFilters;
  /** one sentence per bad token, saying what is accepted */
  problems: string[];
}

export const LINT_FILTERS: readonly LintFilter[] = [
  'any', 'offline-negative-advantage', 'zero-std-group', 'divergence-above-1', 'embedding-truncated', 'verifier-error', 'runaway-repetition',
];

/** Every key with the values it takes (an empty list: any value, e.g. an id), in the order the quick pick offers them. */
export const FILTER_KEYS: readonly { key: string; values: readonly string[]; hint: string }[] = [
  { key: 'run', values: [], hint: 'run:ID' },
  { key: 'step', values: [], hint: 'step:12 or step:10-20' },
  { key: 'verdict', values: ['correct', 'wrong', 'error'], hint: 'verdict:correct|wrong|error' },
  { key: 'label', values: ['correct', 'wrong', 'hack', 'none'], hint: 'label:correct|wrong|hack|none' },
  { key: 'lint', values: LINT_FILTERS, hint: 'lint:any or a lint name' },
  { key: 'source', values: ['online', 'teacher'], hint: 'source:online|teacher' },
  { key: 'prompt', values: [], hint: 'prompt:ID' },
];

export function emptyFilters(): SearchFilters {
  return { runs: [], steps: [], verdicts: [], labels: [], lints: [], sources: [], prompts: [] };
}

export function hasFilters(f: SearchFilters): boolean {
  return Object.values(f).some((v: unknown[]) => v.length > 0);
}

// A filter token: a key of letters, a colon, a value (possibly "quoted", for ids with spaces).
const TOKEN = /^([A-Za-z]+):(?:"((?:[^"]|"")*)"|(\S*))$/;

/**
 * Splits the box's input into free text and filters. Tokens are whitespace-separated outside double
 * quotes, so `"run:x"` stays a phrase. Several values of one key (repeated, or comma-separated)
 * match any of them; different keys must all match.
 */
export function parseSearch(input: string): ParsedSearch {
  const filters = emptyFilters();
  const problems: string[] = [];
  const text: string[] = [];
  for (const tok of splitTokens(input)) {
    const m = TOKEN.exec(tok);
    const key = m?.[1]?.toLowerCase();
    const spec = FILTER_KEYS.find((k) => k.key === key);
    if (!m || !spec) {
      if (m) problems.push(`"${m[1]}:" is not a filter (searched as text); filters: ${FILTER_KEYS.map((k) => `${k.key}:`).join(' ')}`);
      text.push(tok);
      continue;
    }
    const raw = m[2] !== undefined ? m[2].replace(/""/g, '"') : (m[3] ?? '');
    // Ids may hold commas; only keys with a closed set of values split on them.
    const values = spec.values.length || spec.key === 'step' ? raw.split(',').filter((v) => v !== '') : raw === '' ? [] : [raw];
    if (values.length === 0) {
      problems.push(`${spec.key}: needs a value: ${spec.hint}`);
      continue;
    }
    for (const v of values) {
      const problem = addValue(filters, spec.key, v);
      if (problem) problems.push(`${spec.key}:${v}: ${problem}; use ${spec.hint}`);
    }
  }
  return { text: text.join(' ').trim(), filters, problems };
}

function addValue(f: SearchFilters, key: string, v: string): string | null {
  const lower = v.toLowerCase();
  switch (key) {
    case 'run':
      f.runs.push(v);
      return null;
    case 'prompt':
      f.prompts.push(v);
      return null;
    case 'step': {
      const m = /^(\d+)(?:-(\d+))?$/.exec(v);
      if (!m) return 'not a step number or range';
      const from = Number(m[1]);
      const to = m[2] === undefined ? from : Number(m[2]);
      if (to < from) return 'the range ends before it starts';
      f.steps.push({ from, to });
      return null;
    }
    case 'verdict':
      if (lower !== 'correct' && lower !== 'wrong' && lower !== 'error') return 'not a verdict';
      f.verdicts.push(lower);
      return null;
    case 'label':
      if (lower !== 'correct' && lower !== 'wrong' && lower !== 'hack' && lower !== 'none') return 'not a label';
      f.labels.push(lower);
      return null;
    case 'lint': {
      const lint = LINT_FILTERS.find((l) => l === lower);
      if (!lint) return `not a lint (${LINT_FILTERS.join(', ')})`;
      f.lints.push(lint);
      return null;
    }
    case 'source':
      // The protocol calls teacher trajectories "offline"; the UI calls them teacher. Both are accepted.
      if (lower === 'online') f.sources.push('online');
      else if (lower === 'teacher' || lower === 'offline') f.sources.push('offline');
      else return 'not a source';
      return null;
  }
  return 'unknown key';
}

function splitTokens(input: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const c of input) {
    if (c === '"') quoted = !quoted;
    if (!quoted && /\s/.test(c)) {
      if (cur) out.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  if (cur) out.push(cur);
  return out;
}

/**
 * What to offer for the token being typed (the input's last token): `verdict:` or `verdict:wr`
 * gives the matching `verdict:VALUE` completions, a bare prefix of a key (`ver`) the keys. Each
 * completion is the whole input with its last token replaced, so choosing one just sets the value.
 */
export function suggestFilters(input: string): { value: string; label: string; hint: string }[] {
  const ws = /\s$/.test(input) || input === '';
  const start = ws ? input.length : input.search(/\S+$/);
  const head = input.slice(0, start);
  const last = ws ? '' : input.slice(start);
  const m = /^([A-Za-z]+):(\S*)$/.exec(last);
  if (m) {
    const spec = FILTER_KEYS.find((k) => k.key === m[1]?.toLowerCase());
    if (!spec) return [];
    const typed = (m[2] ?? '').toLowerCase();
    return spec.values
      .filter((v) => v.startsWith(typed) && v !== typed)
      .map((v) => ({ value: `${head}${spec.key}:${v} `, label: `${spec.key}:${v}`, hint: spec.hint }));
  }
  if (!/^[A-Za-z]*$/.test(last)) return [];
  return FILTER_KEYS.filter((k) => k.key.startsWith(last.toLowerCase())).map((k) => ({ value: `${head}${k.key}:`, label: `${k.key}:`, hint: k.hint }));
}

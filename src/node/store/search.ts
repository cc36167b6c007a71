// The query layer of full-text search: FTS5 query syntax parsed into a tree, so that the store can
// answer every kind of query the Find box offers (words, "a phrase", prefix*, a OR b, AND, NOT,
// NEAR, parentheses) on either full-text layout:
//
// - positions (schema 1-2 stores, `detail=full`): FTS5 answers the query itself and ranks by bm25.
// - presence (schema 3, `detail=none`): the index knows which texts hold a token, not where or how
//   often. A query without phrases or NEAR is answered by the index exactly. A query with them is
//   sent as a superset (each phrase as the AND of its tokens; a NOT whose right side needs
//   positions is dropped) and every candidate's text is checked against the whole tree here.
//   Ranking (bm25, FTS5's formula and constants) is computed here from the candidates' texts.
//
// Pure apart from nothing: no store access, so the matcher and the ranking are unit-tested alone.
// Later filters (run, step, verdict, prompt) belong beside the MATCH in the store's SQL, not here.

export type QueryNode =
  | { kind: 'phrase'; tokens: string[]; prefix: boolean }
  | { kind: 'and' | 'or'; items: QueryNode[] }
  | { kind: 'not'; left: QueryNode; right: QueryNode }
  | { kind: 'near'; phrases: Extract<QueryNode, { kind: 'phrase' }>[]; distance: number };

type Phrase = Extract<QueryNode, { kind: 'phrase' }>;

// unicode61's token characters (categories L*, N*, Co); everything else separates tokens.
const TOKEN = /[\p{L}\p{N}\p{Co}]+/gu;
const MARKS = /\p{M}/gu;

/** Tokens of a text as FTS5's `unicode61 remove_diacritics 2` makes them: case-folded, diacritics removed. */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  // Folding per token keeps the common (ASCII) case cheap: NFD only where a non-ASCII letter is.
  for (const m of text.matchAll(TOKEN)) out.push(fold(m[0]));
  return out;
}

function fold(token: string): string {
  const lower = token.toLowerCase();
   
  return /^[\x00-\x7f]*$/.test(lower) ? lower : lower.normalize('NFD').replace(MARKS, '');
}

class Syntax extends Error {}

/**
 * Parses FTS5 query syntax; null when the query uses syntax this parser does not model (column
 * filters `col:`, `^`, `+`, `{}`, `-`): the caller then lets FTS5 judge it as it is.
 */
export function parseQuery(query: string): QueryNode | null {
  const toks = lex(query);
  if (toks === null) return null;
  let i = 0;
  const peek = () => toks[i];
  const take = () => toks[i++];
  const isOp = (t: Lexeme | undefined, op: string) => t !== undefined && t.type === 'word' && t.raw === op;

  const phrase = (): Phrase => {
    const t = take();
    if (!t || (t.type !== 'word' && t.type !== 'string')) throw new Syntax('expected a word or a "phrase"');
    let prefix = false;
    if (peek()?.type === 'star') {
      take();
      prefix = true;
    }
    return { kind: 'phrase', tokens: tokenize(t.raw), prefix };
  };
  const primary = (): QueryNode => {
    const t = peek();
    if (!t) throw new Syntax('unexpected end of query');
    if (t.type === 'open') {
      take();
      const inner = orExpr();
      if (peek()?.type !== 'close') throw new Syntax('unbalanced parenthesis');
      take();
      return inner;
    }
    if (t.type === 'word' && t.raw === 'NEAR' && toks[i + 1]?.type === 'open') {
      take();
      take();
      const phrases: Phrase[] = [];
      let distance = 10;
      while (peek() && peek()?.type !== 'close' && peek()?.type !== 'comma') phrases.push(phrase());
      if (peek()?.type === 'comma') {
        take();
        const n = take();
        if (!n || n.type !== 'word' || !/^\d+$/.test(n.raw)) throw new Syntax('NEAR distance must be a number');
        distance = Number(n.raw);
      }
      if (peek()?.type !== 'close' || phrases.length === 0) throw new Syntax('malformed NEAR');
      take();
      return { kind: 'near', phrases, distance };
    }
    if (t.type === 'word' && (t.raw === 'AND' || t.raw === 'OR' || t.raw === 'NOT')) throw new Syntax(`misplaced ${t.raw}`);
    return phrase();
  };
  const notExpr = (): QueryNode => {
    let left = primary();
    while (isOp(peek(), 'NOT')) {
      take();
      left = { kind: 'not', left, right: primary() };
    }
    return left;
  };
  const andExpr = (): QueryNode => {
    const items = [notExpr()];
    for (;;) {
      const t = peek();
      if (!t || t.type === 'close' || isOp(t, 'OR')) break;
      if (isOp(t, 'AND')) take();
      items.push(notExpr());
    }
    return items.length === 1 ? (items[0] as QueryNode) : { kind: 'and', items };
  };
  const orExpr = (): QueryNode => {
    const items = [andExpr()];
    while (isOp(peek(), 'OR')) {
      take();
      items.push(andExpr());
    }
    return items.length === 1 ? (items[0] as QueryNode) : { kind: 'or', items };
  };
  try {
    if (toks.length === 0) return null;
    const tree = orExpr();
    if (i !== toks.length) throw new Syntax('unexpected token');
    return tree;
  } catch (e) {
    if (e instanceof Syntax) throw new QuerySyntaxError(e.message);
    throw e;
  }
}

export class QuerySyntaxError extends Error {
  constructor(message: string) {
    super(`fts5: syntax error: ${message}`);
    this.name = 'QuerySyntaxError';
  }
}

interface Lexeme {
  type: 'word' | 'string' | 'star' | 'open' | 'close' | 'comma';
  raw: string;
}

// FTS5 barewords: ASCII letters, digits, '_', U+001A and any non-ASCII character.
const BAREWORD = /[A-Za-z0-9_\u001a\u0080-\uffff]/;

function lex(q: string): Lexeme[] | null {
  const out: Lexeme[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"') {
      let s = '';
      i++;
      for (;;) {
        if (i >= q.length) throw new QuerySyntaxError('unterminated string');
        if (q[i] === '"') {
          if (q[i + 1] === '"') {
            s += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += q[i];
        i++;
      }
      out.push({ type: 'string', raw: s });
    } else if (c === '*') {
      out.push({ type: 'star', raw: c });
      i++;
    } else if (c === '(') {
      out.push({ type: 'open', raw: c });
      i++;
    } else if (c === ')') {
      out.push({ type: 'close', raw: c });
      i++;
    } else if (c === ',') {
      out.push({ type: 'comma', raw: c });
      i++;
    } else if (BAREWORD.test(c)) {
      let s = '';
      while (i < q.length && BAREWORD.test(q[i] as string)) s += q[i++];
      out.push({ type: 'word', raw: s });
    } else if (c === ':' || c === '^' || c === '+' || c === '{' || c === '}' || c === '-') {
      return null;
    } else {
      throw new QuerySyntaxError(`unexpected character ${JSON.stringify(c)}`);
    }
  }
  return out;
}

/** True when answering the tree needs token positions (a phrase of several tokens, or NEAR). */
export function needsPositions(n: QueryNode): boolean {
  switch (n.kind) {
    case 'phrase':
      return n.tokens.length > 1;
    case 'near':
      return true;
    case 'not':
      return needsPositions(n.left) || needsPositions(n.right);
    default:
      return n.items.some(needsPositions);
  }
}

const quoted = (token: string) => `"${token.replace(/"/g, '""')}"`;

function phraseFts(p: Phrase): string {
  if (p.tokens.length === 0) return '""';
  const parts = p.tokens.map((t, k) => quoted(t) + (p.prefix && k === p.tokens.length - 1 ? '*' : ''));
  return parts.length === 1 ? (parts[0] as string) : `(${parts.join(' AND ')})`;
}

/**
 * An FTS5 query a presence-only (`detail=none`) index can answer, matching every text the tree
 * matches (and, when the tree needs positions, more: the caller checks those with `matchesText`).
 */
export function presenceQuery(n: QueryNode): string {
  switch (n.kind) {
    case 'phrase':
      return phraseFts(n);
    case 'near':
      return `(${n.phrases.map(phraseFts).join(' AND ')})`;
    case 'not':
      // "a NOT b" with b loosened would drop texts that match the tree: keep a, check b on the text.
      return needsPositions(n.right) ? presenceQuery(n.left) : `(${presenceQuery(n.left)} NOT ${presenceQuery(n.right)})`;
    default:
      return `(${n.items.map(presenceQuery).join(n.kind === 'and' ? ' AND ' : ' OR ')})`;
  }
}

/** Start positions of a phrase in a token list. */
function occurrences(p: Phrase, tokens: readonly string[]): number[] {
  const out: number[] = [];
  const n = p.tokens.length;
  if (n === 0) return out;
  for (let i = 0; i + n <= tokens.length; i++) {
    let ok = true;
    for (let k = 0; k < n; k++) {
      const want = p.tokens[k] as string;
      const got = tokens[i + k] as string;
      if (p.prefix && k === n - 1 ? !got.startsWith(want) : got !== want) {
        ok = false;
        break;
      }
    }
    if (ok) out.push(i);
  }
  return out;
}

/** Evaluates the tree on a tokenised text, with FTS5's semantics (NEAR: at most `distance` tokens between the phrases). */
export function matchesTokens(n: QueryNode, tokens: readonly string[]): boolean {
  switch (n.kind) {
    case 'phrase':
      return occurrences(n, tokens).length > 0;
    case 'and':
      return n.items.every((x) => matchesTokens(x, tokens));
    case 'or':
      return n.items.some((x) => matchesTokens(x, tokens));
    case 'not':
      return matchesTokens(n.left, tokens) && !matchesTokens(n.right, tokens);
    case 'near':
      return nearMatch(n.phrases, n.distance, tokens);
  }
}

/**
 * The tree on a text. An ASCII text (most reasoning traces) is checked with one regular expression
 * per phrase on its lower-cased text, which is what tokenising it would decide (ASCII tokens are
 * runs of [a-z0-9]) at a fraction of the cost; anything else is tokenised.
 */
export function matchesText(n: QueryNode, text: string): boolean {
   
  if (!hasNear(n) && !/[^\x00-\x7f]/.test(text)) return matchesAscii(n, text.toLowerCase());
  return matchesTokens(n, tokenize(text));
}

function hasNear(n: QueryNode): boolean {
  if (n.kind === 'near') return true;
  if (n.kind === 'phrase') return false;
  if (n.kind === 'not') return hasNear(n.left) || hasNear(n.right);
  return n.items.some(hasNear);
}

const phraseRegex = new WeakMap<Phrase, RegExp | null>();

function matchesAscii(n: QueryNode, lower: string): boolean {
  switch (n.kind) {
    case 'phrase': {
      let re = phraseRegex.get(n);
      if (re === undefined) {
        // A folded query token outside ASCII cannot occur in an ASCII text.
        const ascii = n.tokens.every((t) => /^[a-z0-9]+$/.test(t));
        re = ascii && n.tokens.length > 0
          ? new RegExp(`(?<![a-z0-9])${n.tokens.map((t, k) => (n.prefix && k === n.tokens.length - 1 ? `${t}[a-z0-9]*` : t)).join('[^a-z0-9]+')}(?![a-z0-9])`)
          : null;
        phraseRegex.set(n, re);
      }
      return re !== null && re.test(lower);
    }
    case 'and':
      return n.items.every((x) => matchesAscii(x, lower));
    case 'or':
      return n.items.some((x) => matchesAscii(x, lower));
    case 'not':
      return matchesAscii(n.left, lower) && !matchesAscii(n.right, lower);
    case 'near':
      return matchesTokens(n, tokenize(lower));
  }
}

function nearMatch(phrases: readonly Phrase[], distance: number, tokens: readonly string[]): boolean {
  const occ = phrases.map((p) => occurrences(p, tokens));
  if (occ.some((o) => o.length === 0)) return false;
  // FTS5: a clump holding an instance of every phrase, with at most `distance` tokens between the
  // end of the first instance and the start of the last. Anchor each instance as the first; the
  // earliest instance of every other phrase at or after it gives the smallest last start.
  for (let a = 0; a < phrases.length; a++) {
    const len = (phrases[a] as Phrase).tokens.length;
    for (const start of occ[a] as number[]) {
      let lastStart = start;
      let ok = true;
      for (let b = 0; b < phrases.length && ok; b++) {
        if (b === a) continue;
        const next = (occ[b] as number[]).find((s) => s >= start);
        if (next === undefined) ok = false;
        else lastStart = Math.max(lastStart, next);
      }
      if (ok && lastStart - (start + len) <= distance) return true;
    }
  }
  return false;
}

/**
 * Distinct terms of the tree's positive phrases, for ranking: a token, or `prefix*` for the last
 * token of a prefix phrase (it counts every token it starts).
 */
export function positiveTerms(n: QueryNode, out: Set<string> = new Set()): Set<string> {
  const add = (p: Phrase) => p.tokens.forEach((t, k) => out.add(p.prefix && k === p.tokens.length - 1 ? `${t}*` : t));
  switch (n.kind) {
    case 'phrase':
      add(n);
      break;
    case 'near':
      n.phrases.forEach(add);
      break;
    case 'not':
      positiveTerms(n.left, out);
      break;
    default:
      for (const x of n.items) positiveTerms(x, out);
  }
  return out;
}

/** The FTS5 query that counts the texts holding a ranking term (see positiveTerms). */
export function termQuery(term: string): string {
  return term.endsWith('*') ? `${quoted(term.slice(0, -1))}*` : quoted(term);
}

export interface RankInput {
  rowid: number;
  /** tokens in the text */
  length: number;
  /** occurrences of each ranking term, in the order of the terms */
  tf: number[];
}

/** A text's length in tokens and how often each ranking term (see positiveTerms) occurs in it. */
export function termStats(text: string, terms: readonly string[]): { length: number; tf: number[] } {
  if (!/[^\x00-\x7f]/.test(text)) {
    // ASCII: tokens are runs of [a-z0-9]; counted without making a string per token.
    const lower = text.toLowerCase();
    // Tokens counted by a loop over the characters: a regex match per token was most of ranking's
    // time (a rare word in 400 texts of 5K characters on 2M trajectories).
    let length = 0;
    let inToken = false;
    for (let i = 0; i < lower.length; i++) {
      const c = lower.charCodeAt(i);
      const alnum = (c >= 97 && c <= 122) || (c >= 48 && c <= 57);
      if (alnum && !inToken) length++;
      inToken = alnum;
    }
    const tf = terms.map((t) => {
      const prefix = t.endsWith('*');
      const word = prefix ? t.slice(0, -1) : t;
      if (!/^[a-z0-9]+$/.test(word)) return 0;
      const re = new RegExp(`(?<![a-z0-9])${word}${prefix ? '[a-z0-9]*' : ''}(?![a-z0-9])`, 'g');
      let n = 0;
      while (re.exec(lower) !== null) n++;
      return n;
    });
    return { length, tf };
  }
  const tokens = tokenize(text);
  return {
    length: tokens.length,
    tf: terms.map((t) => {
      const prefix = t.endsWith('*');
      const word = prefix ? t.slice(0, -1) : t;
      let n = 0;
      for (const tok of tokens) if (prefix ? tok.startsWith(word) : tok === word) n++;
      return n;
    }),
  };
}

/**
 * bm25 as FTS5 computes it (k1 = 1.2, b = 0.75, idf = ln((N − n + 0.5) / (n + 0.5)) floored at
 * 1e-6), negated as FTS5's `rank` is (lower is better). `docFrequency(term)` is n, `documents` N;
 * the average length is that of the ranked texts (the presence index keeps no lengths).
 */
export function bm25Rank(
  docs: readonly RankInput[],
  terms: readonly string[],
  docFrequency: ReadonlyMap<string, number>,
  documents: number,
): { rowid: number; rank: number }[] {
  const k1 = 1.2;
  const b = 0.75;
  const avg = docs.reduce((n, d) => n + d.length, 0) / Math.max(1, docs.length) || 1;
  const idf = terms.map((t) => {
    const n = docFrequency.get(t) ?? 0;
    const v = Math.log((documents - n + 0.5) / (n + 0.5));
    return v <= 0 ? 1e-6 : v;
  });
  return docs.map((d) => {
    let score = 0;
    terms.forEach((_, k) => {
      const f = d.tf[k] ?? 0;
      if (f > 0) score += (idf[k] as number) * ((f * (k1 + 1)) / (f + k1 * (1 - b + (b * d.length) / avg)));
    });
    return { rowid: d.rowid, rank: -score };
  });
}

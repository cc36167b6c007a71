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
 * How a text is read for matching and ranking without tokenising it. Tokenising makes a string per
 * token, which was most of a search's time on long traces. Two cheaper readings decide exactly as
 * tokenising does:
 * - ascii: tokens are runs of [a-z0-9] in the lower-cased text;
 * - plain: every token of the lower-cased text folds to itself (NFD leaves its characters
 *   unchanged; no combining mark; no sigma, whose lower case depends on its neighbours), so tokens
 *   are runs of unicode61's token characters in it. Real traces are mostly this: ASCII plus
 *   symbols, dashes, ≠, π.
 * Anything else (é, a combining mark, Σ) is tokenised.
 */
type Reading = { kind: 'ascii' | 'plain'; lower: string } | { kind: 'tokens'; tokens: string[] };

const NON_ASCII = /[^\x00-\x7f]/g;
// Per BMP code unit, learned on first sight: 1 a token character, 2 a separator, 3 only safe to tokenise.
const unitClass = new Uint8Array(0x10000);
const TOKEN_CHAR = /^[\p{L}\p{N}\p{Co}]$/u;
const UNSAFE_CHAR = /^[\p{M}\u03a3\u03c3\u03c2]$/u;

function classOf(unit: number): number {
  let c = unitClass[unit] as number;
  if (c === 0) {
    // A surrogate half says nothing alone; read() sends texts holding any to tokenising.
    const ch = String.fromCharCode(unit);
    // A token character that NFD changes (é, a Hangul syllable) is folded by tokenising; a separator
    // that NFD changes (≠ is = plus a combining overlay) is not, as it is in no token.
    if (unit >= 0xd800 && unit <= 0xdfff) c = 2;
    else if (UNSAFE_CHAR.test(ch)) c = 3;
    else if (TOKEN_CHAR.test(ch)) c = ch.normalize('NFD') === ch ? 1 : 3;
    else c = 2;
    unitClass[unit] = c;
  }
  return c;
}

function read(text: string): Reading {
  const lower = text.toLowerCase();
  NON_ASCII.lastIndex = 0;
  if (!NON_ASCII.test(lower)) return { kind: 'ascii', lower };
  NON_ASCII.lastIndex = 0;
  let safe = true;
  let supplementary = false;
  for (let m = NON_ASCII.exec(lower); m !== null && safe; m = NON_ASCII.exec(lower)) {
    const unit = lower.charCodeAt(m.index);
    if (unit >= 0xd800 && unit <= 0xdfff) supplementary = true;
    else if (classOf(unit) === 3) safe = false;
  }
  // Supplementary characters (outside the BMP) are rare enough to leave to the slow reading.
  if (safe && !supplementary) return { kind: 'plain', lower };
  return { kind: 'tokens', tokens: tokenize(text) };
}

/** The tree on a text, with FTS5's semantics (see Reading for how the text is read). */
export function matchesText(n: QueryNode, text: string): boolean {
  const r = read(text);
  if (r.kind === 'tokens' || hasNear(n)) return matchesTokens(n, r.kind === 'tokens' ? r.tokens : tokenize(text));
  return matchesLower(n, r.lower);
}

/**
 * True when a text's start alone shows that the text matches the tree: the tree has no NOT (so a
 * match cannot be undone by what follows) and matches the start cut back to its last whole token.
 * False means only "not shown". `prefix`'s last 4 characters are not trusted (a UTF-8 sequence
 * cut short).
 */
export function prefixMatches(n: QueryNode, prefix: string): boolean {
  if (hasNot(n)) return false;
  let end = Math.max(0, prefix.length - 4);
  // A token cut by the end might go on ("answer" of "answers"): keep only what ends in a separator.
  while (end > 0 && !isSeparatorAt(prefix, end - 1)) end--;
  return end > 0 && matchesText(n, prefix.slice(0, end));
}

function isSeparatorAt(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  if (c < 0x80) return !((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57));
  // A surrogate half or a character that tokenising folds is not trusted as a boundary.
  return classOf(c) === 2 && !(c >= 0xd800 && c <= 0xdfff);
}

function hasNot(n: QueryNode): boolean {
  if (n.kind === 'not') return true;
  if (n.kind === 'phrase' || n.kind === 'near') return false;
  return n.items.some(hasNot);
}

function hasNear(n: QueryNode): boolean {
  if (n.kind === 'near') return true;
  if (n.kind === 'phrase') return false;
  if (n.kind === 'not') return hasNear(n.left) || hasNear(n.right);
  return n.items.some(hasNear);
}

/** Whether a UTF-16 unit of a text read as `ascii` or `plain` belongs to a token. */
function isTokenUnit(c: number): boolean {
  return c < 0x80 ? (c >= 97 && c <= 122) || (c >= 48 && c <= 57) : classOf(c) === 1;
}

/**
 * Where a phrase (folded query tokens) first occurs at or after `from` in a lower-cased text read
 * as `ascii` or `plain`, or -1: its first token found by indexOf, the rest checked in place. A
 * unicode regular expression with lookbehind did the same at 3-4 times the cost on long traces.
 */
function phraseAt(lower: string, tokens: readonly string[], prefix: boolean, from: number): number {
  const first = tokens[0];
  if (first === undefined || first.length === 0) return -1;
  const end = lower.length;
  for (let i = lower.indexOf(first, from); i >= 0; i = lower.indexOf(first, i + 1)) {
    if (i > 0 && isTokenUnit(lower.charCodeAt(i - 1))) continue;
    let p = i;
    let ok = true;
    for (let k = 0; k < tokens.length && ok; k++) {
      const token = tokens[k] as string;
      if (k > 0) {
        // The previous token ended at a separator: skip the separators, then this token must start.
        while (p < end && !isTokenUnit(lower.charCodeAt(p))) p++;
        if (!lower.startsWith(token, p)) ok = false;
      }
      p += token.length;
      if (ok && prefix && k === tokens.length - 1) while (p < end && isTokenUnit(lower.charCodeAt(p))) p++;
      else if (ok && p < end && isTokenUnit(lower.charCodeAt(p))) ok = false;
    }
    if (ok) return i;
  }
  return -1;
}

function matchesLower(n: QueryNode, lower: string): boolean {
  switch (n.kind) {
    case 'phrase':
      return phraseAt(lower, n.tokens, n.prefix, 0) >= 0;
    case 'and':
      return n.items.every((x) => matchesLower(x, lower));
    case 'or':
      return n.items.some((x) => matchesLower(x, lower));
    case 'not':
      return matchesLower(n.left, lower) && !matchesLower(n.right, lower);
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

/**
 * A text's length in tokens and how often each ranking term (see positiveTerms) occurs in it.
 * `countLength` false skips the length (0), for callers that have it from the index.
 */
export function termStats(text: string, terms: readonly string[], countLength = true): { length: number; tf: number[] } {
  const r = read(text);
  if (r.kind === 'tokens') {
    return {
      length: r.tokens.length,
      tf: terms.map((t) => {
        const prefix = t.endsWith('*');
        const word = prefix ? t.slice(0, -1) : t;
        let n = 0;
        for (const tok of r.tokens) if (prefix ? tok.startsWith(word) : tok === word) n++;
        return n;
      }),
    };
  }
  const { lower } = r;
  // Tokens counted by a loop over the characters: a regex match per token was most of ranking's
  // time (a rare word in 400 texts of 5K characters on 2M trajectories).
  let length = 0;
  let inToken = false;
  for (let i = 0; countLength && i < lower.length; i++) {
    const c = lower.charCodeAt(i);
    const isToken = isTokenUnit(c);
    if (isToken && !inToken) length++;
    inToken = isToken;
  }
  const tf = terms.map((t) => {
    const prefix = t.endsWith('*');
    const word = [prefix ? t.slice(0, -1) : t];
    let n = 0;
    for (let i = phraseAt(lower, word, prefix, 0); i >= 0; i = phraseAt(lower, word, prefix, i + 1)) n++;
    return n;
  });
  return { length, tf };
}

/**
 * bm25 as FTS5 computes it (k1 = 1.2, b = 0.75, idf = ln((N − n + 0.5) / (n + 0.5)) floored at
 * 1e-6), negated as FTS5's `rank` is (lower is better). `docFrequency(term)` is n, `documents` N;
 * `averageLength` the index's mean text length in tokens, or (where unknown) that of the ranked texts.
 */
export function bm25Rank(
  docs: readonly RankInput[],
  terms: readonly string[],
  docFrequency: ReadonlyMap<string, number>,
  documents: number,
  averageLength?: number,
): { rowid: number; rank: number }[] {
  const k1 = 1.2;
  const b = 0.75;
  const avg = averageLength ?? (docs.reduce((n, d) => n + d.length, 0) / Math.max(1, docs.length) || 1);
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

/**
 * A varint as SQLite and FTS5 write them: big-endian 7-bit groups with the high bit set on all but
 * the last, the ninth byte (if reached) contributing all 8 bits.
 */
export function readVarint(buf: Uint8Array, offset: number): { value: number; next: number } {
  let value = 0;
  for (let i = 0; i < 9; i++) {
    const b = buf[offset + i];
    if (b === undefined) throw new Error('fts5: varint runs past its record');
    if (i === 8) return { value: value * 256 + b, next: offset + 9 };
    value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) return { value, next: offset + i + 1 };
  }
  throw new Error('unreachable');
}

/** FTS5's averages record (its data table's row 1): the number of rows, then each column's total tokens. */
export function readFtsAverages(block: Uint8Array): { documents: number; tokens: number } | null {
  try {
    const documents = readVarint(block, 0);
    const tokens = readVarint(block, documents.next);
    return { documents: documents.value, tokens: tokens.value };
  } catch {
    return null;
  }
}

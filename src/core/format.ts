// Pure text helpers shared by the webviews, the panels and the inline view: number formatting,
// escaping, making invisible bidi controls visible, finding the final answer and the <think>
// block, bucketing token entropies for the heatmap, and a line diff against the nearest teacher.
// Everything here is linear or near-linear in the text: traces reach 150K characters.

// --- numbers ---------------------------------------------------------------------------------

/** A number for a badge: em dash for missing, ∞ for infinities, fixed digits otherwise. */
export function fmtNum(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined) return '—';
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '∞';
  if (v === Number.NEGATIVE_INFINITY) return '−∞';
  const s = v.toFixed(digits);
  // -0.000 reads as a sign the value does not have
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s.replace(/^-/, '−');
}

/** Like fmtNum but always with a sign, for advantages and deltas. */
export function fmtSigned(v: number | null | undefined, digits = 3): string {
  const s = fmtNum(v, digits);
  if (v === null || v === undefined || Number.isNaN(v) || s.startsWith('−') || /^0\.?0*$/.test(s)) return s;
  return `+${s}`;
}

export function fmtPercent(v: number | null | undefined, digits = 0): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return `${fmtNum(v * 100, digits)}%`;
}

/** -1, 0 or 1; values within 1e-12 of zero count as zero (advantages of a zero-std group). */
export function signOf(v: number | null | undefined): -1 | 0 | 1 {
  if (v === null || v === undefined || !Number.isFinite(v) || Math.abs(v) < 1e-12) return 0;
  return v > 0 ? 1 : -1;
}

/** Human size of a character count: 980, 12.3K, 1.5M. */
export function fmtCount(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}K`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

// --- escaping --------------------------------------------------------------------------------

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] as string);
}

/**
 * Characters that reorder or hide text without being seen (Trojan Source): the bidi embeddings,
 * overrides and isolates, the directional marks, and the Arabic letter mark.
 */
export const INVISIBLE_CONTROL_RE = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/g;

export interface TextPiece {
  text: string;
  /** true when `text` is the visible stand-in for one invisible control character */
  control: boolean;
}

/** "U+202E" for a control character. */
export function controlName(ch: string): string {
  return `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Splits text so each bidi/invisible control becomes its own visible piece (`⟨U+202E⟩`); the
 * original characters are dropped, so they cannot reorder the text around them.
 */
export function splitControls(s: string): TextPiece[] {
  const out: TextPiece[] = [];
  let last = 0;
  INVISIBLE_CONTROL_RE.lastIndex = 0;
  for (let m = INVISIBLE_CONTROL_RE.exec(s); m !== null; m = INVISIBLE_CONTROL_RE.exec(s)) {
    if (m.index > last) out.push({ text: s.slice(last, m.index), control: false });
    out.push({ text: `⟨${controlName(m[0])}⟩`, control: true });
    last = m.index + 1;
  }
  if (last < s.length) out.push({ text: s.slice(last), control: false });
  return out;
}

/** The text with every invisible control replaced by its visible name, for plain-text sinks. */
export function neutraliseControls(s: string): string {
  return s.replace(INVISIBLE_CONTROL_RE, (c) => `⟨${controlName(c)}⟩`);
}

// --- think block and final answer ------------------------------------------------------------

export interface Span {
  start: number;
  end: number;
}

export interface ThinkSplit {
  /** the reasoning, tags included; null when the text has none */
  think: Span | null;
  /** true when <think> opened but never closed (a truncated response) */
  unclosed: boolean;
}

/**
 * Finds the reasoning block. Chat templates often put the opening <think> in the prompt, so a
 * response that has only a closing </think> is reasoning from its start up to that tag.
 */
export function splitThink(text: string): ThinkSplit {
  const open = text.indexOf('<think>');
  const closeFrom = open >= 0 ? open : 0;
  const close = text.indexOf('</think>', closeFrom);
  if (open >= 0 && close >= 0) return { think: { start: open, end: close + '</think>'.length }, unclosed: false };
  if (open >= 0) return { think: { start: open, end: text.length }, unclosed: true };
  if (close >= 0) return { think: { start: 0, end: close + '</think>'.length }, unclosed: false };
  return { think: null, unclosed: false };
}

/** Spans of the contents of every \boxed{...} / \fbox{...}, braces balanced. */
export function boxedSpans(text: string): Span[] {
  const spans: Span[] = [];
  const re = /\\(?:boxed|fbox)\s*\{/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    let depth = 1;
    let i = m.index + m[0].length;
    const start = i;
    for (; i < text.length && depth > 0; i++) {
      const c = text.charCodeAt(i);
      if (c === 123 /* { */) depth++;
      else if (c === 125 /* } */) depth--;
    }
    if (depth === 0) spans.push({ start, end: i - 1 });
    re.lastIndex = Math.max(re.lastIndex, start);
  }
  return spans;
}

function squash(s: string): string {
  return s.replace(/\s+/g, '');
}

/**
 * Where the final answer sits in the response: the last \boxed{} whose content matches the
 * extracted answer (ignoring whitespace), else the last literal occurrence of the extracted answer
 * after the reasoning, else the last \boxed{} at all. Null when nothing fits.
 */
export function findAnswerSpan(text: string, extracted: string | null | undefined): Span | null {
  const boxes = boxedSpans(text);
  const want = extracted ? squash(extracted) : '';
  if (want) {
    for (let i = boxes.length - 1; i >= 0; i--) {
      const b = boxes[i] as Span;
      if (squash(text.slice(b.start, b.end)) === want) return b;
    }
    const needle = extracted!.trim();
    const think = splitThink(text).think;
    const at = text.lastIndexOf(needle);
    if (at >= 0 && (think === null || at >= think.end || think.end >= text.length)) return { start: at, end: at + needle.length };
    if (at >= 0 && boxes.length === 0) return { start: at, end: at + needle.length };
  }
  const last = boxes[boxes.length - 1];
  return last ?? null;
}

// --- token entropy heatmap -------------------------------------------------------------------

/** Upper bounds (nats) of heatmap levels 0..4; level 5 is anything above the last bound. */
export const ENTROPY_LEVEL_BOUNDS = [0.1, 0.5, 1, 2, 4] as const;
export const ENTROPY_LEVELS = ENTROPY_LEVEL_BOUNDS.length + 1;

export function entropyLevel(v: number): number {
  for (let i = 0; i < ENTROPY_LEVEL_BOUNDS.length; i++) if (v <= (ENTROPY_LEVEL_BOUNDS[i] as number)) return i;
  return ENTROPY_LEVEL_BOUNDS.length;
}

export interface EntropyRun extends Span {
  level: number;
  /** mean entropy of the tokens merged into this run */
  mean: number;
  tokens: number;
}

export interface EntropyRuns {
  runs: EntropyRun[];
  /** offsets/values pairs dropped: out of range, not increasing, not finite, or unpaired */
  dropped: number;
}

/**
 * Turns sampled token entropies into runs of text at one heatmap level. Adjacent tokens on the
 * same level merge, so a 150K-character trace needs a few thousand spans, not one per token.
 * Token i covers [offsets[i], offsets[i+1]) (the last one runs to the end of the text).
 */
export function entropyRuns(textLength: number, offsets: readonly unknown[] | undefined, values: readonly unknown[] | undefined): EntropyRuns {
  if (!Array.isArray(offsets) || !Array.isArray(values)) return { runs: [], dropped: 0 };
  const n = Math.min(offsets.length, values.length);
  let dropped = Math.abs(offsets.length - values.length);
  const starts: number[] = [];
  const vals: number[] = [];
  let prev = -1;
  for (let i = 0; i < n; i++) {
    const o = offsets[i];
    const v = values[i];
    if (typeof o !== 'number' || !Number.isInteger(o) || o <= prev || o >= textLength || typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      dropped++;
      continue;
    }
    starts.push(o);
    vals.push(v);
    prev = o;
  }
  const runs: EntropyRun[] = [];
  for (let i = 0; i < starts.length; i++) {
    const start = starts[i] as number;
    const end = i + 1 < starts.length ? (starts[i + 1] as number) : textLength;
    const v = vals[i] as number;
    const level = entropyLevel(v);
    const last = runs[runs.length - 1];
    if (last && last.level === level && last.end === start) {
      last.end = end;
      last.mean = (last.mean * last.tokens + v) / (last.tokens + 1);
      last.tokens++;
    } else runs.push({ start, end, level, mean: v, tokens: 1 });
  }
  return { runs, dropped };
}

// --- diff against the nearest teacher --------------------------------------------------------

export type DiffOp = 'equal' | 'insert' | 'delete';

export interface DiffHunk {
  op: DiffOp;
  /** lines of the member (equal, insert) or of the teacher (delete) */
  lines: string[];
}

export interface LineDiff {
  hunks: DiffHunk[];
  added: number;
  removed: number;
  /** true when the texts differed too much for an exact diff and the middle was shown as replaced */
  approximate: boolean;
}

export function splitLines(s: string): string[] {
  return s.split(/\r?\n/);
}

/**
 * Myers' O((N+M)·D) line diff of `teacher` (old) → `member` (new). Beyond `maxEdits` edits the
 * texts share little, so the differing middle is reported as one delete + one insert; this keeps
 * two unrelated 150K-character traces from costing seconds.
 */
export function lineDiff(teacher: string, member: string, maxEdits = 1000): LineDiff {
  const a = splitLines(teacher);
  const b = splitLines(member);
  // Intern lines so comparisons are integer compares.
  const ids = new Map<string, number>();
  const intern = (l: string) => {
    let id = ids.get(l);
    if (id === undefined) ids.set(l, (id = ids.size));
    return id;
  };
  const A = Int32Array.from(a, intern);
  const B = Int32Array.from(b, intern);
  let pre = 0;
  while (pre < A.length && pre < B.length && A[pre] === B[pre]) pre++;
  let suf = 0;
  while (suf < A.length - pre && suf < B.length - pre && A[A.length - 1 - suf] === B[B.length - 1 - suf]) suf++;
  const n = A.length - pre - suf;
  const m = B.length - pre - suf;
  const hunks: DiffHunk[] = [];
  const push = (op: DiffOp, lines: string[]) => {
    if (lines.length === 0) return;
    const last = hunks[hunks.length - 1];
    if (last && last.op === op) last.lines.push(...lines);
    else hunks.push({ op, lines });
  };
  push('equal', b.slice(0, pre));
  let approximate = false;
  let script: Array<[DiffOp, number]> | null = null;
  if (n > 0 || m > 0) script = myers(A.subarray(pre, pre + n), B.subarray(pre, pre + m), maxEdits);
  if (script === null && (n > 0 || m > 0)) {
    approximate = true;
    push('delete', a.slice(pre, pre + n));
    push('insert', b.slice(pre, pre + m));
  } else if (script) {
    let i = pre;
    let j = pre;
    for (const [op, count] of script) {
      if (op === 'equal') { push('equal', b.slice(j, j + count)); i += count; j += count; }
      else if (op === 'delete') { push('delete', a.slice(i, i + count)); i += count; }
      else { push('insert', b.slice(j, j + count)); j += count; }
    }
  }
  push('equal', b.slice(b.length - suf));
  let added = 0;
  let removed = 0;
  for (const h of hunks) if (h.op === 'insert') added += h.lines.length; else if (h.op === 'delete') removed += h.lines.length;
  return { hunks, added, removed, approximate };
}

/** Edit script as run-length ops, or null when more than maxEdits edits are needed. */
function myers(A: Int32Array, B: Int32Array, maxEdits: number): Array<[DiffOp, number]> | null {
  const n = A.length;
  const m = B.length;
  const max = Math.min(n + m, maxEdits);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = -1;
  for (let d = 0; d <= max; d++) {
    // Only diagonals -d-1..d+1 can be read when backtracking from round d.
    trace.push(v.slice(offset - d - 1, offset + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && (v[offset + k - 1] as number) < (v[offset + k + 1] as number)) ? (v[offset + k + 1] as number) : (v[offset + k - 1] as number) + 1;
      let y = x - k;
      while (x < n && y < m && A[x] === B[y]) { x++; y++; }
      v[offset + k] = x;
      if (x >= n && y >= m) { found = d; break; }
    }
    if (found >= 0) break;
  }
  if (found < 0) return null;
  // Backtrack into single-step ops, then run-length encode.
  const ops: DiffOp[] = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const vd = trace[d] as Int32Array;
    const at = (kk: number) => vd[kk + d + 1] as number;
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const prevK = down ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) { ops.push('equal'); x--; y--; }
    ops.push(down ? 'insert' : 'delete');
    x = prevX;
    y = prevY;
  }
  while (x > 0 && y > 0) { ops.push('equal'); x--; y--; }
  ops.reverse();
  const out: Array<[DiffOp, number]> = [];
  for (const op of ops) {
    const last = out[out.length - 1];
    if (last && last[0] === op) last[1]++;
    else out.push([op, 1]);
  }
  return out;
}

/** Jaccard similarity of the two texts' sets of non-blank, whitespace-normalised lines. */
export function lineSimilarity(a: string, b: string): number {
  const set = (s: string) => new Set(splitLines(s).map((l) => l.trim().replace(/\s+/g, ' ')).filter((l) => l.length > 0));
  const A = set(a);
  const B = set(b);
  if (A.size === 0 && B.size === 0) return 1;
  let inter = 0;
  for (const l of A) if (B.has(l)) inter++;
  return inter / (A.size + B.size - inter);
}

/** The candidate whose text shares most lines with `text` (ties: the first); null when none. */
export function nearestByLines<T extends { text: string }>(text: string, candidates: readonly T[]): { candidate: T; similarity: number } | null {
  let best: { candidate: T; similarity: number } | null = null;
  for (const c of candidates) {
    const s = lineSimilarity(text, c.text);
    if (best === null || s > best.similarity) best = { candidate: c, similarity: s };
  }
  return best;
}

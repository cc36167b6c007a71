// The read-only trajectory document: its text, where each paragraph sits, and each paragraph's
// mean token entropy. Pure (no vscode) so the offset arithmetic is unit-tested; the provider in
// trajectoryDocument.ts turns this into decorations and hovers.
import type { TrajectoryEvent } from '../../core/protocol';
import { fmtCompact as num, fmtSigned as signed } from '../../core/format';
import { oneLine } from '../../core/formatText';
import { splitReasoning, type ReasoningFormat } from '../../core/reasoning';
import type { Explanation } from '../../core/explain';

export interface RenderedTrajectory {
  /** the whole document */
  content: string;
  /** number of header lines before the trajectory text */
  headerLines: number;
  paragraphs: Paragraph[];
  /** mean entropy over all sampled tokens, null when none were logged */
  meanEntropy: number | null;
  /** document lines to offer as folds: the reasoning block, by the run's format */
  folds: FoldLines[];
}

/** A fold over document lines [start, end] (0-based, inclusive). */
export interface FoldLines {
  start: number;
  end: number;
}

export interface Paragraph {
  /** 0-based document line of the paragraph's first line */
  line: number;
  /** 0-based document line of its last line */
  endLine: number;
  /** UTF-16 offsets into the trajectory text, [start, end) */
  start: number;
  end: number;
  tokens: number;
  meanEntropy: number | null;
  maxEntropy: number | null;
  level: 'low' | 'mid' | 'high' | null;
}

export interface HeaderFacts {
  runId: string;
  step: number;
  promptId: string;
}

export function headerLine(t: TrajectoryEvent): string {
  const who = t.source === 'offline' ? `offline${t.teacher ? ` (teacher ${oneLine(String(t.teacher), 40)})` : ''}` : `online #${t.index ?? '?'}`;
  const flags = [t.replaced ? 'replaced' : '', t.inserted ? 'inserted' : ''].filter(Boolean).join(', ');
  return `Trajectory ${oneLine(t.id, 80)} · ${who}${flags ? ` · ${flags}` : ''}`;
}

export function whereLine(f: HeaderFacts): string {
  return `run ${oneLine(f.runId, 80)} · step ${f.step} · prompt ${oneLine(f.promptId, 60)}`;
}

/** The short rule under the header: the summary decoration sits after it, visible in narrow editors too. */
export const SUMMARY_LINE = 2;

/**
 * The decoration after the rule line: only what decides the update (reward, advantage, verdict),
 * short enough for a narrow editor; D, H_last and the rest are in the header hover.
 */
export function summaryDecorationText(t: TrajectoryEvent): string {
  return `R_total ${num(t.r_total, 2)} · A ${signed(t.advantage, 2)} · ${t.verdict}`;
}

/** The full one-line summary, for hovers. */
export function summaryText(t: TrajectoryEvent): string {
  return `D ${num(t.divergence)}   H_last ${num(t.entropy_last)}   R_total ${num(t.r_total)}   A ${signed(t.advantage)}   ${t.verdict}`;
}

/**
 * Protocol offsets count Unicode code points (the trainer is Python); JS strings index UTF-16
 * units. Returns a converter, the identity when the text has no astral characters.
 */
export function codePointToUtf16(text: string): (cp: number) => number {
  if (!/[\ud800-\udbff]/.test(text)) return (cp) => cp;
  const map: number[] = [];
  for (let i = 0; i < text.length; i++) {
    map.push(i);
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) i++;
  }
  map.push(text.length);
  return (cp) => (cp < map.length ? (map[cp] as number) : text.length);
}

export function renderTrajectory(t: TrajectoryEvent, f: HeaderFacts, format: ReasoningFormat = 'think'): RenderedTrajectory {
  const header = [headerLine(t), whereLine(f), '─'.repeat(8)];
  const text = typeof t.text === 'string' ? t.text : '';
  // Normalise line ends so document line numbers match the paragraph arithmetic below.
  const body = text.replace(/\r\n?/g, '\n');
  const content = `${header.join('\n')}\n${body}`;
  const paragraphs = splitParagraphs(body, header.length);
  const meanEntropy = assignEntropies(paragraphs, body, text, t.token_entropies);
  return { content, headerLines: header.length, paragraphs, meanEntropy, folds: reasoningFolds(body, header.length, format) };
}

/** The reasoning block as document lines, when it spans more than one line. */
export function reasoningFolds(body: string, firstLine: number, format: ReasoningFormat): FoldLines[] {
  const r = splitReasoning(body, format).reasoning;
  if (!r || r.end <= r.start) return [];
  const lineOf = (offset: number) => {
    let n = 0;
    for (let i = body.indexOf('\n'); i >= 0 && i < offset; i = body.indexOf('\n', i + 1)) n++;
    return n;
  };
  const start = lineOf(r.start);
  const end = lineOf(r.end - 1);
  return end > start ? [{ start: firstLine + start, end: firstLine + end }] : [];
}

/** Paragraphs are separated by blank lines; a text without blank lines is one paragraph per line group. */
export function splitParagraphs(body: string, firstLine: number): Paragraph[] {
  const out: Paragraph[] = [];
  const lines = body.split('\n');
  let offset = 0;
  let cur: Paragraph | null = null;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] as string;
    const blank = l.trim() === '';
    if (blank) {
      if (cur) out.push(cur);
      cur = null;
    } else if (!cur) {
      cur = { line: firstLine + i, endLine: firstLine + i, start: offset, end: offset + l.length, tokens: 0, meanEntropy: null, maxEntropy: null, level: null };
    } else {
      cur.endLine = firstLine + i;
      cur.end = offset + l.length;
    }
    offset += l.length + 1;
  }
  if (cur) out.push(cur);
  return out;
}

function assignEntropies(paragraphs: Paragraph[], body: string, original: string, te: TrajectoryEvent['token_entropies']): number | null {
  if (!te || !Array.isArray(te.offsets) || !Array.isArray(te.values)) return null;
  const n = Math.min(te.offsets.length, te.values.length);
  if (n === 0) return null;
  const toUtf16 = codePointToUtf16(original);
  // \r\n → \n shifts later offsets left; count removed \r before each position when there were any.
  const crBefore = original.includes('\r') ? crPrefix(original) : null;
  const pts: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) {
    const o = te.offsets[i];
    const v = te.values[i];
    if (typeof o !== 'number' || typeof v !== 'number' || !Number.isFinite(o) || !Number.isFinite(v) || o < 0) continue;
    let u = toUtf16(Math.floor(o));
    if (crBefore) u -= crBefore[Math.min(u, crBefore.length - 1)] as number;
    if (u > body.length) continue;
    pts.push([u, v]);
  }
  pts.sort((a, b) => a[0] - b[0]);
  let total = 0;
  for (const [, v] of pts) total += v;
  let j = 0;
  for (const p of paragraphs) {
    let sum = 0;
    let count = 0;
    let max = -Infinity;
    // tokens that start on the blank lines between paragraphs are whitespace: left out
    while (j < pts.length && (pts[j] as [number, number])[0] < p.start) j++;
    let k = j;
    while (k < pts.length && (pts[k] as [number, number])[0] < p.end) {
      const v = (pts[k] as [number, number])[1];
      sum += v;
      count++;
      if (v > max) max = v;
      k++;
    }
    j = k;
    p.tokens = count;
    p.meanEntropy = count ? sum / count : null;
    p.maxEntropy = count ? max : null;
  }
  levelParagraphs(paragraphs);
  return pts.length ? total / pts.length : null;
}

function crPrefix(s: string): number[] {
  // count of \r that were removed before each UTF-16 index of the original string
  const out = new Array<number>(s.length + 1);
  let c = 0;
  for (let i = 0; i <= s.length; i++) {
    out[i] = c;
    if (s.charCodeAt(i) === 13 && s.charCodeAt(i + 1) === 10) c++;
  }
  return out;
}

/** Terciles of the paragraph means within this trajectory: the margin shows where it was unsure. */
function levelParagraphs(ps: Paragraph[]): void {
  const means = ps.map((p) => p.meanEntropy).filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (!means.length) return;
  const lo = means[Math.floor(means.length / 3)] as number;
  const hi = means[Math.floor((2 * means.length) / 3)] as number;
  for (const p of ps) {
    if (p.meanEntropy === null) continue;
    p.level = means.length < 3 || lo === hi ? 'mid' : p.meanEntropy < lo ? 'low' : p.meanEntropy >= hi ? 'high' : 'mid';
  }
}

export function marginText(p: Paragraph): string {
  return p.meanEntropy === null ? '' : `H̄ ${p.meanEntropy.toFixed(2)}`;
}

export interface BreakdownFacts {
  gold: string | null;
  lints: ReadonlyArray<{ message: string }>;
  label: string | null;
  notes: readonly string[];
  /** the inspector's explanations (src/core/explain.ts): each adds its arithmetic as a row */
  formulas?: readonly Explanation[];
}

/** Rows of the full breakdown hover, as [name, value] pairs; the provider escapes and formats them. */
export function breakdownRows(t: TrajectoryEvent, facts: BreakdownFacts, meanEntropy: number | null): Array<[string, string]> {
  const h = t.entropy_last;
  const expH = typeof h === 'number' && Number.isFinite(h) ? Math.exp(-h) : null;
  const rows: Array<[string, string]> = [
    ['Verdict', `${t.verdict}${t.verdict_reason ? ` (${oneLine(String(t.verdict_reason), 200)})` : ''}`],
    ['Relabel', facts.label ?? 'none'],
    ['Extracted answer', t.extracted_answer === null || t.extracted_answer === undefined ? '–' : oneLine(String(t.extracted_answer), 200)],
    ['Gold', facts.gold === null ? '–' : oneLine(facts.gold, 200)],
    ['R_m', String(t.r_m)],
    ['D (divergence)', num(t.divergence, 4)],
    ['H_last (nats)', num(h, 4)],
    ['exp(−H_last)', num(expH, 4)],
    ['R_OGER', num(t.r_oger, 4)],
    ['R_total', num(t.r_total, 4)],
    ['A (advantage)', signed(t.advantage, 4)],
    ['Source', t.source === 'offline' ? `offline${t.teacher ? `, teacher ${oneLine(String(t.teacher), 60)}` : ''}` : `online #${t.index ?? '?'}`],
    ['Replaced / inserted', `${t.replaced ? 'replaced' : 'no'} / ${t.inserted ? 'inserted' : 'no'}`],
    ['Tokens', t.tokens === undefined ? '–' : `${t.tokens}${t.truncated ? ' (truncated)' : ''}`],
    ['Embedding truncated', t.embedding_truncated ? 'yes' : 'no'],
    ['Mean token entropy', meanEntropy === null ? 'not logged' : `${num(meanEntropy, 3)} nats (sampled every ${t.token_entropies?.stride ?? 1} tokens)`],
  ];
  for (const e of facts.formulas ?? []) if (e.arithmetic) rows.push([`${e.formula.split(' = ')[0]} formula`, e.arithmetic]);
  if (facts.lints.length) rows.push(['Lints', facts.lints.map((l) => l.message).join('; ')]);
  if (facts.notes.length) rows.push(['Notes', facts.notes.map((n) => oneLine(n, 200)).join('; ')]);
  return rows;
}


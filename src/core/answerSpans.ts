// Where the reasoning and the final answer sit in a response: the reasoning block (its markers
// by format, src/core/reasoning.ts; opened in the prompt or in the response, closed or cut off)
// and the \boxed{} the verifier read. Linear in the text: traces reach 150K characters.
import { splitReasoning, type ReasoningFormat } from './reasoning';

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

/** The <think> block (kept for callers that know only that format; see splitReasoning). */
export function splitThink(text: string): ThinkSplit {
  const r = splitReasoning(text, 'think');
  return { think: r.reasoning, unclosed: r.unclosed };
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
 * in the answer part (the solution block, or what follows the reasoning), else the last \boxed{}
 * at all. Null when nothing fits.
 */
export function findAnswerSpan(text: string, extracted: string | null | undefined, format: ReasoningFormat = 'think'): Span | null {
  const boxes = boxedSpans(text);
  const want = extracted ? squash(extracted) : '';
  if (want) {
    for (let i = boxes.length - 1; i >= 0; i--) {
      const b = boxes[i] as Span;
      if (squash(text.slice(b.start, b.end)) === want) return b;
    }
    const needle = extracted!.trim();
    const split = splitReasoning(text, format);
    const at = text.lastIndexOf(needle);
    const inAnswer = split.answer !== null && at >= split.answer.start && at + needle.length <= split.answer.end;
    if (at >= 0 && (inAnswer || split.reasoning === null || split.unclosed)) return { start: at, end: at + needle.length };
    if (at >= 0 && boxes.length === 0) return { start: at, end: at + needle.length };
  }
  const last = boxes[boxes.length - 1];
  return last ?? null;
}

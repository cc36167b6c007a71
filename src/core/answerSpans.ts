// Where the reasoning and the final answer sit in a response: the <think> block (opened in the
// prompt or in the response, closed or cut off) and the \boxed{} the verifier read. Linear in the
// text: traces reach 150K characters.

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

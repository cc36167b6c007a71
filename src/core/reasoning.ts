// Reasoning formats: where a response's reasoning and its final answer part sit. Models mark their
// reasoning differently (DeepSeek-R1 and Qwen with <think>…</think>; SkyThought's Sky-T1 with
// <|begin_of_thought|>…<|end_of_thought|> then <|begin_of_solution|>…<|end_of_solution|>), and a
// run's format is detected once from its texts (docs/conventions.md). Folding, the answer
// highlight and the heatmap all split a trace with splitReasoning. Linear in the text.
import type { Span } from './answerSpans';

export const REASONING_FORMATS = ['think', 'skythought', 'none'] as const;
export type ReasoningFormat = (typeof REASONING_FORMATS)[number];
/** the setting: a format, or `auto` (each run's detected format) */
export type ReasoningSetting = ReasoningFormat | 'auto';
export const REASONING_SETTINGS: readonly ReasoningSetting[] = ['auto', ...REASONING_FORMATS];

export interface FormatMarkers {
  /** what the UI calls the format */
  label: string;
  open: string;
  close: string;
  /** the final answer's own block, when the format has one */
  solutionOpen?: string;
  solutionClose?: string;
}

export const FORMAT_MARKERS: Readonly<Record<Exclude<ReasoningFormat, 'none'>, FormatMarkers>> = Object.freeze({
  think: { label: 'DeepSeek / Qwen <think>…</think>', open: '<think>', close: '</think>' },
  skythought: {
    label: 'SkyThought <|begin_of_thought|>…<|end_of_thought|>',
    open: '<|begin_of_thought|>',
    close: '<|end_of_thought|>',
    solutionOpen: '<|begin_of_solution|>',
    solutionClose: '<|end_of_solution|>',
  },
});

export function formatLabel(f: ReasoningFormat): string {
  return f === 'none' ? 'no reasoning markers' : FORMAT_MARKERS[f].label;
}

export function isReasoningFormat(v: unknown): v is ReasoningFormat {
  return typeof v === 'string' && (REASONING_FORMATS as readonly string[]).includes(v);
}

export function isReasoningSetting(v: unknown): v is ReasoningSetting {
  return v === 'auto' || isReasoningFormat(v);
}

export interface ReasoningSplit {
  format: ReasoningFormat;
  /** the reasoning, markers included; null when the text has none */
  reasoning: Span | null;
  /**
   * the part a grader reads the final answer from: the solution block's content when the format
   * has one and it is there, else everything after the reasoning; null when the response ends
   * inside its reasoning (cut off before it answered)
   */
  answer: Span | null;
  /** the reasoning opened but never closed: the response was cut off while reasoning */
  unclosed: boolean;
}

/**
 * Splits a response by a format's markers. Chat templates often put the opening marker in the
 * prompt, so a response with only the closing marker is reasoning from its start up to it.
 */
export function splitReasoning(text: string, format: ReasoningFormat): ReasoningSplit {
  if (format === 'none') return { format, reasoning: null, answer: { start: 0, end: text.length }, unclosed: false };
  const m = FORMAT_MARKERS[format];
  const open = text.indexOf(m.open);
  const close = text.indexOf(m.close, open >= 0 ? open + m.open.length : 0);
  let reasoning: Span | null = null;
  let unclosed = false;
  if (open >= 0 && close >= 0) reasoning = { start: open, end: close + m.close.length };
  else if (open >= 0) {
    reasoning = { start: open, end: text.length };
    unclosed = true;
  } else if (close >= 0) reasoning = { start: 0, end: close + m.close.length };
  if (unclosed) return { format, reasoning, answer: null, unclosed };
  const after = reasoning ? reasoning.end : 0;
  let answer: Span = { start: after, end: text.length };
  if (m.solutionOpen && m.solutionClose) {
    const so = text.indexOf(m.solutionOpen, after);
    if (so >= 0) {
      const start = so + m.solutionOpen.length;
      const sc = text.indexOf(m.solutionClose, start);
      answer = { start, end: sc >= 0 ? sc : text.length };
    }
  }
  return { format, reasoning, answer, unclosed };
}

/** The formats whose markers a text carries (a marker of either end counts). */
export function formatsIn(text: string): ReasoningFormat[] {
  const out: ReasoningFormat[] = [];
  for (const f of ['skythought', 'think'] as const) {
    const m = FORMAT_MARKERS[f];
    if (text.includes(m.open) || text.includes(m.close)) out.push(f);
  }
  return out;
}

/**
 * A run's format from a sample of its texts: the format whose markers appear in the most texts;
 * `none` when no text carries any. SkyThought wins a tie (its markers are the more specific:
 * a SkyThought trace may quote "<think>", the reverse does not happen).
 */
export function detectFormat(texts: Iterable<string>): ReasoningFormat {
  let think = 0;
  let sky = 0;
  for (const t of texts) {
    if (typeof t !== 'string') continue;
    for (const f of formatsIn(t)) {
      if (f === 'think') think++;
      else sky++;
    }
  }
  if (think === 0 && sky === 0) return 'none';
  return sky >= think ? 'skythought' : 'think';
}

/** The format to use: the setting when it names one, else the run's recorded one, else detected from `texts`. */
export function resolveFormat(setting: ReasoningSetting, recorded: ReasoningFormat | null, texts: () => Iterable<string>): ReasoningFormat {
  if (setting !== 'auto') return setting;
  return recorded ?? detectFormat(texts());
}

// Renders a trace of up to hundreds of thousands of characters without jank:
// - the text is cut into chunks at line breaks, each a block with `content-visibility: auto`, so
//   the browser lays out and paints only what is on screen;
// - the <think> block is folded and its chunks are built only when it is first opened;
// - the heatmap uses merged runs of same-level tokens (a few thousand spans, not one per token);
// - text always enters the DOM as text nodes (appendText), never as HTML.
import { fmtCount, fmtNum } from '../../src/core/format';
import { splitThink, type Span } from '../../src/core/answerSpans';
import { entropyRuns, type EntropyRun } from '../../src/core/entropyRuns';
import type { LineDiff } from '../../src/core/lineDiff';
import { appendText, h } from '../shared/dom';

const CHUNK_CHARS = 2048;
const HARD_CHUNK_CHARS = 4096;

export interface TraceView {
  text: string;
  answer: Span | null;
  heatmap: boolean;
  thinkOpen: boolean;
  offsets?: readonly unknown[];
  values?: readonly unknown[];
}

export interface TraceResult {
  element: HTMLElement;
  /** token-entropy pairs the heatmap could not use */
  droppedEntropies: number;
  heatRuns: number;
  /** called when the think fold opens or closes */
  onThinkToggle?: (open: boolean) => void;
}

export interface TraceCallbacks {
  /** every chunk of the trace (the reasoning too when it is open) is in the DOM */
  onComplete?: () => void;
}

const runOf = new WeakMap<Element, EntropyRun>();

// Progressive rendering: the first chunks (more than a screenful) are built synchronously, the
// rest in short tasks, so a 150K-character trace shows at once and never blocks input for long.
const SYNC_CHUNKS = 10;
const CHUNKS_PER_TASK = 12;
let generation = 0;
let queue: Array<() => void> = [];
let pumping = false;
let onDrained: (() => void) | null = null;

function pump(): void {
  const gen = generation;
  const batch = queue.splice(0, CHUNKS_PER_TASK);
  for (const job of batch) job();
  if (gen !== generation) return;
  if (queue.length) setTimeout(pump, 0);
  else {
    pumping = false;
    const done = onDrained;
    onDrained = null;
    done?.();
  }
}

/** Runs `job` now while the synchronous budget lasts, else in a later task of this generation. */
function schedule(job: () => void, budget: { sync: number }): void {
  if (budget.sync > 0 && queue.length === 0) {
    budget.sync--;
    job();
    return;
  }
  const gen = generation;
  queue.push(() => { if (gen === generation) job(); });
  if (!pumping) {
    pumping = true;
    setTimeout(pump, 0);
  }
}

/** Drops pending chunks of the previous trace. */
function newGeneration(onComplete: (() => void) | null): { sync: number } {
  generation++;
  queue = [];
  pumping = false;
  onDrained = onComplete;
  return { sync: SYNC_CHUNKS };
}

/** Calls back once every chunk queued so far is in the DOM (at once when nothing is queued). */
function whenDrained(cb: () => void): void {
  if (!pumping && queue.length === 0) cb();
  else onDrained = cb;
}

/** Chunk boundaries in [start, end): cut at the first newline after CHUNK_CHARS, or hard at HARD_CHUNK_CHARS. */
function chunkBounds(text: string, start: number, end: number): number[] {
  const cuts = [start];
  let at = start;
  while (end - at > HARD_CHUNK_CHARS) {
    const nl = text.indexOf('\n', at + CHUNK_CHARS);
    const cut = nl >= 0 && nl < at + HARD_CHUNK_CHARS ? nl + 1 : at + HARD_CHUNK_CHARS;
    cuts.push(cut);
    at = cut;
  }
  cuts.push(end);
  return cuts;
}

/** Index of the first run whose end is after `pos` (runs are sorted and disjoint). */
function firstRunAfter(runs: readonly EntropyRun[], pos: number): number {
  let lo = 0;
  let hi = runs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((runs[mid] as EntropyRun).end <= pos) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function renderChunk(text: string, cs: number, ce: number, runs: readonly EntropyRun[] | null, answer: Span | null, answerTagged: { done: boolean }): HTMLElement {
  const chunk = document.createElement('div');
  chunk.className = 'chunk';
  let parent: HTMLElement = chunk;
  let answerEl: HTMLElement | null = null;
  let ri = runs ? firstRunAfter(runs, cs) : 0;
  let p = cs;
  while (p < ce) {
    // open or close the answer highlight at its bounds
    if (answer && p >= answer.start && p < answer.end && answerEl === null) {
      answerEl = document.createElement('mark');
      answerEl.className = 'answer';
      if (!answerTagged.done) {
        answerEl.setAttribute('data-testid', 'answer-span');
        answerTagged.done = true;
      }
      chunk.appendChild(answerEl);
      parent = answerEl;
    }
    let q = ce;
    if (answer) {
      if (p < answer.start) q = Math.min(q, answer.start);
      else if (p < answer.end) q = Math.min(q, answer.end);
    }
    let run: EntropyRun | null = null;
    if (runs) {
      while (ri < runs.length && (runs[ri] as EntropyRun).end <= p) ri++;
      const r = runs[ri];
      if (r && r.start <= p) { run = r; q = Math.min(q, r.end); }
      else if (r) q = Math.min(q, r.start);
    }
    const piece = text.slice(p, q);
    if (run && run.level > 0) {
      const span = document.createElement('span');
      span.className = `heat h${run.level}`;
      runOf.set(span, run);
      appendText(span, piece);
      parent.appendChild(span);
    } else appendText(parent, piece);
    p = q;
    if (answerEl && answer && p >= answer.end) {
      answerEl = null;
      parent = chunk;
    }
  }
  return chunk;
}

function renderRange(into: HTMLElement, text: string, start: number, end: number, runs: readonly EntropyRun[] | null, answer: Span | null, answerTagged: { done: boolean }, budget: { sync: number }): void {
  const cuts = chunkBounds(text, start, end);
  for (let i = 0; i + 1 < cuts.length; i++) {
    const cs = cuts[i] as number;
    const ce = cuts[i + 1] as number;
    schedule(() => into.appendChild(renderChunk(text, cs, ce, runs, answer, answerTagged)), budget);
  }
}

/** Builds the trace element: text before the reasoning, the folded reasoning, then the answer part. */
export function renderTrace(view: TraceView, callbacks: TraceCallbacks = {}): TraceResult {
  const { text } = view;
  const budget = newGeneration(null);
  const heat = view.heatmap ? entropyRuns(text.length, view.offsets, view.values) : { runs: [], dropped: 0 };
  const runs = view.heatmap ? heat.runs : null;
  const root = h('div', { class: `trace-body${view.heatmap ? ' heatmap-on' : ''}`, 'data-testid': 'trace-body', 'data-chars': text.length });
  const tagged = { done: false };
  const result: TraceResult = { element: root, droppedEntropies: heat.dropped, heatRuns: heat.runs.length };
  if (text.length === 0) {
    root.appendChild(h('p', { class: 'muted', 'data-testid': 'trace-empty' }, 'This response is empty.'));
    if (callbacks.onComplete) whenDrained(callbacks.onComplete);
    return result;
  }
  const { think, unclosed } = splitThink(text);
  if (!think) {
    renderRange(root, text, 0, text.length, runs, view.answer, tagged, budget);
  } else {
    // Three fixed containers keep the document order whatever order the chunks are built in.
    const before = h('div', { class: 'trace-part' });
    const details = h('details', { class: 'think', 'data-testid': 'think-fold' });
    const afterEl = h('div', { class: 'trace-part' });
    root.append(before, details, afterEl);
    const len = think.end - think.start;
    details.appendChild(
      h('summary', { 'data-testid': 'think-toggle' }, `Reasoning · ${fmtCount(len)} characters${unclosed ? ' · never closed (truncated?)' : ''}`),
    );
    const body = h('div', { class: 'think-body', 'data-testid': 'think-body' });
    details.appendChild(body);
    let built = false;
    const build = (b: { sync: number }) => {
      if (built) return;
      built = true;
      renderRange(body, text, think.start, think.end, runs, view.answer, tagged, b);
    };
    // The answer part first: it is what the reader checks first, and it is short.
    if (think.end < text.length) renderRange(afterEl, text, think.end, text.length, runs, view.answer, tagged, budget);
    if (think.start > 0) renderRange(before, text, 0, think.start, runs, view.answer, tagged, budget);
    if (view.thinkOpen) {
      details.open = true;
      build(budget);
    }
    details.addEventListener('toggle', () => {
      if (details.open) build({ sync: SYNC_CHUNKS });
      result.onThinkToggle?.(details.open);
    });
  }
  if (callbacks.onComplete) whenDrained(callbacks.onComplete);
  // The entropy of a span shows on hover; computed on demand rather than set on every span.
  root.addEventListener('mouseover', (e) => {
    const t = e.target as Element | null;
    if (!t || !(t instanceof HTMLElement) || t.title) return;
    const run = runOf.get(t);
    if (run) t.title = `mean token entropy ${fmtNum(run.mean, 2)} nats over ${run.tokens} token${run.tokens === 1 ? '' : 's'}`;
  });
  return result;
}

const CONTEXT_LINES = 3;

/** Renders a line diff (teacher → member) with long unchanged stretches collapsed. */
export function renderDiff(diff: LineDiff, teacherTitle: string): HTMLElement {
  const root = h('div', { class: 'diff', 'data-testid': 'diff-view' });
  root.appendChild(
    h(
      'p',
      { class: 'diff-summary muted', 'data-testid': 'diff-summary' },
      `Against ${teacherTitle}: +${diff.added} / −${diff.removed} lines${diff.approximate ? ' (texts differ too much for a line-by-line match; shown as one replacement)' : ''}`,
    ),
  );
  const frag = document.createDocumentFragment();
  diff.hunks.forEach((hunk, i) => {
    const cls = hunk.op === 'insert' ? 'ins' : hunk.op === 'delete' ? 'del' : 'eq';
    const first = i === 0;
    const last = i === diff.hunks.length - 1;
    if (hunk.op === 'equal' && hunk.lines.length > CONTEXT_LINES * 2 + 1) {
      const head = first ? [] : hunk.lines.slice(0, CONTEXT_LINES);
      const tail = last ? [] : hunk.lines.slice(-CONTEXT_LINES);
      const hidden = hunk.lines.slice(head.length, hunk.lines.length - tail.length);
      if (head.length) frag.appendChild(hunkBlock('eq', head));
      const more = h('button', { class: 'link diff-more', 'data-testid': 'diff-expand', type: 'button' }, `⋯ ${hidden.length} unchanged lines`);
      const holder = h('div', { class: 'diff-collapsed' }, more);
      more.addEventListener('click', () => holder.replaceWith(hunkBlock('eq', hidden)));
      frag.appendChild(holder);
      if (tail.length) frag.appendChild(hunkBlock('eq', tail));
    } else frag.appendChild(hunkBlock(cls, hunk.lines));
  });
  root.appendChild(frag);
  return root;
}

function hunkBlock(cls: string, lines: string[]): HTMLElement {
  const block = h('div', { class: `hunk ${cls}`, 'data-testid': `diff-${cls}` });
  // One text block per hunk of at most a few thousand characters keeps the DOM small.
  let buf: string[] = [];
  let size = 0;
  const flush = () => {
    if (!buf.length) return;
    const c = h('div', { class: 'chunk' });
    appendText(c, buf.join('\n'));
    block.appendChild(c);
    buf = [];
    size = 0;
  };
  for (const l of lines) {
    buf.push(l);
    size += l.length + 1;
    if (size > CHUNK_CHARS) flush();
  }
  flush();
  return block;
}

// Renders a trace of up to hundreds of thousands of characters without jank:
// - the text is cut into chunks at line breaks, each a block with `content-visibility: auto`, so
//   the browser lays out and paints only what is on screen;
// - every chunk of the visible parts gets its (empty) element at once and is filled in order, the
//   first screenfuls synchronously and the rest in short tasks; any chunk can be filled out of
//   order, which is how find and the position bar reveal a far-away offset at once;
// - the reasoning (its markers by the run's format, src/core/reasoning.ts) is folded, and its
//   chunks are made only when it is first opened;
// - the heatmap uses merged runs of same-level tokens (a few thousand spans, not one per token);
// - text always enters the DOM as text nodes (appendText), never as HTML; the optional
//   Markdown/LaTeX renderer (render/) builds its DOM the same way.
import { fmtCount, fmtNum } from '../../src/core/format';
import type { Span } from '../../src/core/answerSpans';
import { formatLabel, splitReasoning, type ReasoningFormat } from '../../src/core/reasoning';
import { entropyRuns, type EntropyRun } from '../../src/core/entropyRuns';
import type { LineDiff } from '../../src/core/lineDiff';
import { appendText, h } from '../shared/dom';
import type { TraceRenderer } from '../shared/renderer';

const CHUNK_CHARS = 2048;
const HARD_CHUNK_CHARS = 4096;


export interface TraceView {
  text: string;
  format: ReasoningFormat;
  answer: Span | null;
  heatmap: boolean;
  reasoningOpen: boolean;
  offsets?: readonly unknown[];
  values?: readonly unknown[];
  /** Markdown/LaTeX rendering; null: the raw text */
  renderer?: TraceRenderer | null;
}

export interface ChunkRef {
  el: HTMLElement;
  start: number;
  end: number;
  filled: boolean;
}

export interface TraceHandle {
  element: HTMLElement;
  /** token-entropy pairs the heatmap could not use */
  droppedEntropies: number;
  heatRuns: number;
  /** the reasoning span (markers included) and whether it was cut off */
  reasoning: Span | null;
  unclosed: boolean;
  /** rendered as Markdown/LaTeX (offsets inside a chunk then map only approximately) */
  rendered: boolean;
  /** called when the reasoning fold opens or closes */
  onReasoningToggle?: (open: boolean) => void;
  isReasoningOpen(): boolean;
  setReasoningOpen(open: boolean): void;
  /** Makes `offset` part of the page now (opens the fold around it, builds its chunk) and returns that chunk. */
  reveal(offset: number): ChunkRef | null;
  /** chunks that exist in the page, in text order */
  chunks(): ChunkRef[];
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
let onDrained: Array<() => void> = [];
/** tasks the current generation's build has taken so far (each one costs a timer of at least 4 ms) */
let buildTasks = 0;

function pump(): void {
  buildTasks++;
  const gen = generation;
  const batch = queue.splice(0, CHUNKS_PER_TASK);
  for (const job of batch) job();
  if (gen !== generation) return;
  if (queue.length) setTimeout(pump, 0);
  else {
    pumping = false;
    const done = onDrained;
    onDrained = [];
    for (const cb of done) cb();
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
  buildTasks = 0;
  queue = [];
  pumping = false;
  onDrained = onComplete ? [onComplete] : [];
  return { sync: SYNC_CHUNKS };
}

/** Calls back once every chunk queued so far is in the DOM (at once when nothing is queued). */
function whenDrained(cb: () => void): void {
  if (!pumping && queue.length === 0) cb();
  else onDrained.push(cb);
}

/**
 * Chunk boundaries in [start, end): cut at the first blank line (rendered: a Markdown block
 * boundary) or newline after CHUNK_CHARS, or hard at HARD_CHUNK_CHARS.
 */
export function chunkBounds(text: string, start: number, end: number, preferBlankLines = false): number[] {
  const cuts = [start];
  let at = start;
  while (end - at > HARD_CHUNK_CHARS) {
    let cut = -1;
    if (preferBlankLines) {
      const blank = text.indexOf('\n\n', at + CHUNK_CHARS);
      if (blank >= 0 && blank < at + HARD_CHUNK_CHARS) cut = blank + 2;
    }
    if (cut < 0) {
      const nl = text.indexOf('\n', at + CHUNK_CHARS);
      cut = nl >= 0 && nl < at + HARD_CHUNK_CHARS ? nl + 1 : at + HARD_CHUNK_CHARS;
    }
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

function fillRaw(chunk: HTMLElement, text: string, cs: number, ce: number, runs: readonly EntropyRun[] | null, answer: Span | null): void {
  let parent: HTMLElement = chunk;
  let answerEl: HTMLElement | null = null;
  let ri = runs ? firstRunAfter(runs, cs) : 0;
  let p = cs;
  while (p < ce) {
    // open or close the answer highlight at its bounds
    if (answer && p >= answer.start && p < answer.end && answerEl === null) {
      answerEl = document.createElement('mark');
      answerEl.className = 'answer';
      // the piece that opens the answer carries the test id, whichever chunk is built first
      if (p === answer.start) answerEl.setAttribute('data-testid', 'answer-span');
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
}

interface Region {
  container: HTMLElement;
  start: number;
  end: number;
  chunks: ChunkRef[] | null;
}

/** Builds the trace element: text before the reasoning, the folded reasoning, then the answer part. */
export function renderTrace(view: TraceView, callbacks: TraceCallbacks = {}): TraceHandle {
  const { text } = view;
  const budget = newGeneration(null);
  const renderer = view.heatmap ? null : view.renderer ?? null;
  const heat = view.heatmap ? entropyRuns(text.length, view.offsets, view.values) : { runs: [], dropped: 0 };
  const runs = view.heatmap ? heat.runs : null;
  const root = h('div', { class: `trace-body${view.heatmap ? ' heatmap-on' : ''}${renderer ? ' rendered' : ''}`, 'data-testid': 'trace-body', 'data-chars': text.length });
  const split = splitReasoning(text, view.format);
  const reasoning = text.length ? split.reasoning : null;
  const regions: Region[] = [];
  let details: HTMLDetailsElement | null = null;

  const fill = (c: ChunkRef) => {
    if (c.filled) return;
    c.filled = true;
    if (renderer) renderer.renderInto(c.el, text.slice(c.start, c.end));
    else fillRaw(c.el, text, c.start, c.end, runs, view.answer);
  };
  /** Makes the (empty) chunk elements of a region; they are filled by schedule() or reveal(). */
  const makeChunks = (r: Region): ChunkRef[] => {
    if (r.chunks) return r.chunks;
    const cuts = chunkBounds(text, r.start, r.end, renderer !== null);
    const chunks: ChunkRef[] = [];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const el = document.createElement('div');
      el.className = 'chunk';
      const c: ChunkRef = { el, start: cuts[i] as number, end: cuts[i + 1] as number, filled: false };
      el.setAttribute('data-start', String(c.start));
      chunks.push(c);
    }
    r.container.append(...chunks.map((c) => c.el));
    r.chunks = chunks;
    return chunks;
  };
  // Opening the reasoning from the code fires the fold's toggle event too, which builds it again:
  // each chunk is queued once, or that second pass doubled the build's tasks (each one a clamped
  // timer of at least 4 ms), a third of the 150K trace's build time.
  const queued = new WeakSet<ChunkRef>();
  const build = (r: Region, b: { sync: number }) => {
    for (const c of makeChunks(r)) {
      if (c.filled || queued.has(c)) continue;
      queued.add(c);
      schedule(() => fill(c), b);
    }
  };

  const handle: TraceHandle = {
    element: root,
    droppedEntropies: heat.dropped,
    heatRuns: heat.runs.length,
    reasoning,
    unclosed: split.unclosed,
    rendered: renderer !== null,
    isReasoningOpen: () => details?.open ?? false,
    setReasoningOpen: (open) => {
      if (!details || details.open === open) return;
      details.open = open;
      if (open) build(regions[1] as Region, { sync: SYNC_CHUNKS });
    },
    reveal: (offset) => {
      const at = Math.max(0, Math.min(offset, Math.max(0, text.length - 1)));
      const r = regions.find((x) => at >= x.start && at < x.end) ?? regions[regions.length - 1];
      if (!r) return null;
      if (details && r === regions[1] && !details.open) handle.setReasoningOpen(true);
      const chunks = makeChunks(r);
      const c = chunks.find((x) => at >= x.start && at < x.end) ?? chunks[chunks.length - 1];
      if (!c) return null;
      fill(c);
      return c;
    },
    chunks: () => regions.flatMap((r) => r.chunks ?? []),
  };

  if (text.length === 0) {
    root.appendChild(h('p', { class: 'muted', 'data-testid': 'trace-empty' }, 'This response is empty.'));
    if (callbacks.onComplete) whenDrained(callbacks.onComplete);
    return handle;
  }
  if (!reasoning) {
    const whole: Region = { container: root, start: 0, end: text.length, chunks: null };
    regions.push(whole);
    build(whole, budget);
  } else {
    // Three fixed containers keep the document order whatever order the chunks are built in.
    const before: Region = { container: h('div', { class: 'trace-part' }), start: 0, end: reasoning.start, chunks: null };
    details = h('details', { class: 'think', 'data-testid': 'think-fold' }) as HTMLDetailsElement;
    const inside: Region = { container: h('div', { class: 'think-body', 'data-testid': 'think-body' }), start: reasoning.start, end: reasoning.end, chunks: null };
    const after: Region = { container: h('div', { class: 'trace-part' }), start: reasoning.end, end: text.length, chunks: null };
    regions.push(before, inside, after);
    root.append(before.container, details, after.container);
    const len = reasoning.end - reasoning.start;
    details.appendChild(
      h('summary', { 'data-testid': 'think-toggle', title: `Reasoning marked by ${formatLabel(view.format)}` }, `Reasoning · ${fmtCount(len)} characters${split.unclosed ? ' · never closed (cut off?)' : ''}`),
    );
    details.appendChild(inside.container);
    // The answer part first: it is what the reader checks first, and it is short.
    if (after.end > after.start) build(after, budget);
    if (before.end > before.start) build(before, budget);
    if (view.reasoningOpen) {
      details.open = true;
      build(inside, budget);
    }
    const d = details;
    d.addEventListener('toggle', () => {
      if (d.open) build(inside, { sync: SYNC_CHUNKS });
      handle.onReasoningToggle?.(d.open);
    });
  }
  // The task count is kept on the element, where a test (or a profile) can read what a build cost.
  whenDrained(() => {
    root.setAttribute('data-build-tasks', String(buildTasks));
    callbacks.onComplete?.();
  });
  // The entropy of a span shows on hover; computed on demand rather than set on every span.
  root.addEventListener('mouseover', (e) => {
    const t = e.target as Element | null;
    if (!t || !(t instanceof HTMLElement) || t.title) return;
    const run = runOf.get(t);
    if (run) t.title = `mean token entropy ${fmtNum(run.mean, 2)} nats over ${run.tokens} token${run.tokens === 1 ? '' : 's'}`;
  });
  return handle;
}

/** Calls back once the chunks queued so far are built (the find highlights follow late chunks). */
export function afterPendingChunks(cb: () => void): void {
  whenDrained(cb);
}

/**
 * A DOM Range over text offsets [start, end) of a raw (not rendered) chunk. A neutralised control
 * character counts as the one character it replaced.
 */
export function rangeInChunk(c: ChunkRef, start: number, end: number): Range | null {
  const walker = document.createTreeWalker(c.el, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  let pos = c.start;
  let started = false;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const t = node as Text;
    const ctrl = t.parentElement?.classList.contains('control-char') ?? false;
    const len = ctrl ? 1 : t.length;
    if (!started && start < pos + len) {
      range.setStart(t, ctrl ? 0 : start - pos);
      started = true;
    }
    if (started && end <= pos + len) {
      range.setEnd(t, ctrl ? t.length : end - pos);
      return range;
    }
    pos += len;
  }
  return null;
}

/**
 * In a rendered chunk offsets do not map to the DOM: the `nth` occurrence of `query` in the
 * chunk's visible text instead (null when the match sits inside rendered maths).
 */
export function rangeOfNth(c: ChunkRef, query: string, nth: number, caseSensitive: boolean): Range | null {
  const nodes: Text[] = [];
  const walker = document.createTreeWalker(c.el, NodeFilter.SHOW_TEXT, {
    // KaTeX's MathML copy is for screen readers; the visible glyphs are in its HTML part.
    acceptNode: (n) => ((n.parentElement?.closest('.katex-mathml') ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT)),
  });
  for (let node = walker.nextNode(); node; node = walker.nextNode()) nodes.push(node as Text);
  const joined = nodes.map((n) => n.data).join('');
  const hay = caseSensitive ? joined : joined.toLowerCase();
  const needle = caseSensitive ? query : query.toLowerCase();
  if (!needle || hay.length !== joined.length) return null;
  let at = -1;
  for (let k = 0, from = 0; k <= nth; k++) {
    at = hay.indexOf(needle, from);
    if (at < 0) return null;
    from = at + needle.length;
  }
  const range = document.createRange();
  let pos = 0;
  let started = false;
  for (const n of nodes) {
    if (!started && at < pos + n.length) {
      range.setStart(n, at - pos);
      started = true;
    }
    if (started && at + needle.length <= pos + n.length) {
      range.setEnd(n, at + needle.length - pos);
      return range;
    }
    pos += n.length;
  }
  return null;
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

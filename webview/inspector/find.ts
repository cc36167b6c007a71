// Find in the trace (Ctrl/Cmd+F inside the inspector). It searches the trace's text, not the page,
// so it finds what is folded or not yet built; the current hit is revealed (the reasoning unfolds
// around it, its chunk is built at once) and scrolled to. Enter / Shift+Enter (F3 / Shift+F3) move
// to the next / previous hit, Escape closes. Hits are highlighted with the CSS Custom Highlight
// API, which paints ranges without changing the DOM, and marked on the position bar.
import type { Span } from '../../src/core/answerSpans';
import { findInText, firstHitFrom, hitCountText, stepHit, type FindResult } from '../../src/core/traceFind';
import { h } from '../shared/dom';
import { reportAfterPaint } from '../shared/perf';
import { rangeInChunk, rangeOfNth, type ChunkRef, type TraceHandle } from './trace';
import type { PosBar, PosMark } from './posbar';
import { scrollIntoScroller } from './scrolling';

export interface FindContext {
  text(): string;
  handle(): TraceHandle | null;
  scroller(): HTMLElement | null;
  posbar(): PosBar | null;
  /** the offset at the top of the trace pane, where a new search starts */
  viewOffset(): number;
}

/** Ranges painted at most per search: enough for any screen, bounded for a query like "e". */
const MAX_PAINTED = 2000;
const POSBAR_TICKS = 400;

interface HighlightRegistry { set(name: string, h: unknown): void; delete(name: string): void }
type HighlightCtor = new (...ranges: Range[]) => unknown;

function registry(): { reg: HighlightRegistry; Ctor: HighlightCtor } | null {
  const css = (globalThis as { CSS?: { highlights?: HighlightRegistry } }).CSS;
  const Ctor = (globalThis as { Highlight?: HighlightCtor }).Highlight;
  return css?.highlights && Ctor ? { reg: css.highlights, Ctor } : null;
}

export class FindBar {
  readonly element: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly count: HTMLElement;
  private readonly caseButton: HTMLButtonElement;
  private caseSensitive = false;
  private result: FindResult = { hits: [], capped: false };
  private current = -1;
  private searchedText: string | null = null;
  private searchedQuery = '';
  private searchedCase = false;

  constructor(private readonly ctx: FindContext) {
    this.input = h('input', { type: 'text', class: 'find-input', 'data-testid': 'find-input', placeholder: 'Find in trace', 'aria-label': 'Find in trace', spellcheck: 'false', autocomplete: 'off' }) as HTMLInputElement;
    this.count = h('span', { class: 'find-count muted', 'data-testid': 'find-count', 'aria-live': 'polite' }, '');
    this.caseButton = h('button', { type: 'button', class: 'icon-button', 'data-testid': 'find-case', title: 'Match case (Alt+C)', 'aria-pressed': 'false' }, 'Aa') as HTMLButtonElement;
    const prev = h('button', { type: 'button', class: 'icon-button', 'data-testid': 'find-prev', title: 'Previous match (Shift+Enter)', 'aria-label': 'Previous match' }, '↑');
    const next = h('button', { type: 'button', class: 'icon-button', 'data-testid': 'find-next', title: 'Next match (Enter)', 'aria-label': 'Next match' }, '↓');
    const close = h('button', { type: 'button', class: 'icon-button', 'data-testid': 'find-close', title: 'Close (Escape)', 'aria-label': 'Close find' }, '×');
    this.element = h('div', { class: 'find-bar', 'data-testid': 'find-bar', role: 'search', hidden: true }, this.input, this.caseButton, this.count, prev, next, close);
    this.input.addEventListener('input', () => this.search(performance.now()));
    this.input.addEventListener('keydown', (ev) => {
      ev.stopPropagation();
      if (ev.key === 'Enter' || ev.key === 'F3') {
        ev.preventDefault();
        this.step(ev.shiftKey ? -1 : 1);
      } else if (ev.key === 'Escape') {
        ev.preventDefault();
        this.close();
      } else if (ev.altKey && (ev.key === 'c' || ev.key === 'C')) {
        ev.preventDefault();
        this.toggleCase();
      } else if ((ev.ctrlKey || ev.metaKey) && (ev.key === 'f' || ev.key === 'F')) {
        ev.preventDefault();
        this.input.select();
      }
    });
    prev.addEventListener('click', () => this.step(-1));
    next.addEventListener('click', () => this.step(1));
    close.addEventListener('click', () => this.close());
    this.caseButton.addEventListener('click', () => this.toggleCase());
  }

  isOpen(): boolean {
    return !this.element.hidden;
  }

  open(): void {
    this.element.hidden = false;
    const sel = document.getSelection()?.toString() ?? '';
    if (sel && !sel.includes('\n') && sel.length <= 200) this.input.value = sel;
    this.input.focus();
    this.input.select();
    if (this.input.value) this.search(performance.now());
  }

  close(): void {
    this.element.hidden = true;
    this.clearPaint();
    this.ctx.posbar()?.setMarks(['hit', 'current-hit'], []);
    this.result = { hits: [], capped: false };
    this.current = -1;
    this.searchedText = null;
    this.count.textContent = '';
  }

  /** The trace changed (another member, heatmap, rendering): search it again if open. */
  retarget(): void {
    if (!this.isOpen()) return;
    this.searchedText = null;
    if (this.input.value) this.search(performance.now(), false);
    else this.paintCount();
  }

  /** Late chunks were built: paint the hits they hold. */
  repaint(): void {
    if (this.isOpen() && this.result.hits.length) this.paint();
  }

  private toggleCase(): void {
    this.caseSensitive = !this.caseSensitive;
    this.caseButton.setAttribute('aria-pressed', String(this.caseSensitive));
    this.search(performance.now());
  }

  private search(t0: number, reveal = true): void {
    const text = this.ctx.text();
    const q = this.input.value;
    if (text === this.searchedText && q === this.searchedQuery && this.caseSensitive === this.searchedCase) return;
    this.searchedText = text;
    this.searchedQuery = q;
    this.searchedCase = this.caseSensitive;
    this.result = findInText(text, q, { caseSensitive: this.caseSensitive });
    this.current = firstHitFrom(this.result.hits, this.ctx.viewOffset());
    this.update(reveal, t0);
  }

  private step(dir: 1 | -1): void {
    const t0 = performance.now();
    if (this.input.value !== this.searchedQuery || this.ctx.text() !== this.searchedText) {
      this.search(t0);
      return;
    }
    this.current = stepHit(this.current, this.result.hits.length, dir);
    this.update(true, t0);
  }

  private update(reveal: boolean, t0: number): void {
    this.paintCount();
    const bar = this.ctx.posbar();
    const hits = this.result.hits;
    // Position-bar ticks: every hit for a rare word, a sample of them for a common one.
    const every = Math.max(1, Math.ceil(hits.length / POSBAR_TICKS));
    bar?.setMarks('hit', hits.filter((_, i) => i % every === 0).map((s) => ({ kind: 'hit', start: s.start, end: s.end, label: 'find match' }) as PosMark));
    const cur = hits[this.current];
    bar?.setMarks('current-hit', cur ? [{ kind: 'current-hit', start: cur.start, end: cur.end, label: `current match (${this.current + 1})` }] : []);
    if (cur && reveal) this.reveal(cur);
    this.paint();
    reportAfterPaint('inspector', 'find', t0, this.ctx.text().length);
  }

  private paintCount(): void {
    this.count.textContent = this.input.value ? hitCountText(this.current, this.result) : '';
    this.element.setAttribute('data-hits', String(this.result.hits.length));
    this.element.setAttribute('data-current', String(this.current));
  }

  private rangeFor(c: ChunkRef, hit: Span, index: number): Range | null {
    const handle = this.ctx.handle();
    if (!handle?.rendered) return rangeInChunk(c, hit.start, Math.min(hit.end, c.end));
    // the nth hit inside this chunk
    let nth = 0;
    for (let i = index - 1; i >= 0 && (this.result.hits[i] as Span).start >= c.start; i--) nth++;
    return rangeOfNth(c, this.input.value, nth, this.caseSensitive);
  }

  private reveal(hit: Span): void {
    const handle = this.ctx.handle();
    const scroller = this.ctx.scroller();
    if (!handle || !scroller) return;
    const c = handle.reveal(hit.start);
    if (!c) return;
    const range = this.rangeFor(c, hit, this.current);
    // The chunk may be skipped content (content-visibility): placed over a few frames as the
    // chunks around it take their real sizes.
    scrollIntoScroller(scroller, () => {
      const target = range?.getBoundingClientRect();
      return target && (target.height > 0 || target.width > 0) ? target : c.el.getBoundingClientRect();
    });
  }

  private clearPaint(): void {
    const r = registry();
    r?.reg.delete('rl-find');
    r?.reg.delete('rl-find-current');
  }

  private paint(): void {
    const r = registry();
    const handle = this.ctx.handle();
    if (!r || !handle) return;
    const hits = this.result.hits;
    const ranges: Range[] = [];
    let currentRange: Range | null = null;
    let hi = 0;
    for (const c of handle.chunks()) {
      if (!c.filled) continue;
      while (hi < hits.length && (hits[hi] as Span).start < c.start) hi++;
      for (let i = hi; i < hits.length && (hits[i] as Span).start < c.end && ranges.length < MAX_PAINTED; i++) {
        const range = this.rangeFor(c, hits[i] as Span, i);
        if (!range) continue;
        if (i === this.current) currentRange = range;
        else ranges.push(range);
      }
    }
    if (ranges.length) r.reg.set('rl-find', new r.Ctor(...ranges));
    else r.reg.delete('rl-find');
    if (currentRange) r.reg.set('rl-find-current', new r.Ctor(currentRange));
    else r.reg.delete('rl-find-current');
  }
}

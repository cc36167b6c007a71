// A minimap-style position bar beside the trace: the whole response top to bottom, by character
// offset (not by pixels, which a half-built, partly folded 150K-character trace does not know yet),
// with marks for the answer, the point where the response was cut off, runaway repetition and find
// hits, the folded reasoning shaded, and the stretch on screen. Clicking it (or a mark) reveals
// that offset, unfolding the reasoning when it is folded.
import type { Span } from '../../src/core/answerSpans';
import { h } from '../shared/dom';

export interface PosMark {
  kind: 'answer' | 'truncation' | 'repetition' | 'hit' | 'current-hit';
  start: number;
  end: number;
  label: string;
}

export interface PosBar {
  element: HTMLElement;
  setMarks(kind: PosMark['kind'] | PosMark['kind'][], marks: PosMark[]): void;
  /** the offsets on screen, [start, end) */
  setViewport(span: Span | null): void;
  setFolded(span: Span | null): void;
}

const MIN_MARK_PCT = 0.6;

export function createPosBar(length: number, onJump: (offset: number) => void): PosBar {
  const bar = h('div', { class: 'posbar', 'data-testid': 'posbar', role: 'group', 'aria-label': 'Position in the response: click to jump' });
  const folded = h('div', { class: 'posbar-folded', 'data-testid': 'posbar-folded', hidden: true });
  const viewport = h('div', { class: 'posbar-viewport', 'data-testid': 'posbar-viewport', hidden: true });
  bar.append(folded, viewport);
  const layers = new Map<PosMark['kind'], HTMLElement[]>();
  const pct = (offset: number) => (length > 0 ? Math.max(0, Math.min(100, (100 * offset) / length)) : 0);
  const place = (el: HTMLElement, span: Span, min = MIN_MARK_PCT) => {
    const top = pct(span.start);
    const height = Math.max(min, pct(span.end) - top);
    // Sizes go through the CSSOM: the CSP forbids style attributes, not style properties.
    el.style.top = `${Math.min(top, 100 - height)}%`;
    el.style.height = `${height}%`;
  };

  bar.addEventListener('click', (e) => {
    const target = e.target as HTMLElement;
    const mark = target.closest<HTMLElement>('[data-offset]');
    if (mark) {
      onJump(Number(mark.getAttribute('data-offset')));
      return;
    }
    const r = bar.getBoundingClientRect();
    if (r.height > 0) onJump(Math.floor(((e.clientY - r.top) / r.height) * length));
  });

  return {
    element: bar,
    setMarks(kind, marks) {
      for (const k of Array.isArray(kind) ? kind : [kind]) {
        for (const el of layers.get(k) ?? []) el.remove();
        layers.set(k, []);
      }
      for (const m of marks) {
        const el = h('button', {
          type: 'button',
          class: `posbar-mark ${m.kind}`,
          'data-testid': `posbar-${m.kind}`,
          'data-offset': m.start,
          title: m.label,
          'aria-label': m.label,
          tabindex: m.kind === 'hit' ? -1 : 0,
        });
        place(el, m, m.kind === 'repetition' ? MIN_MARK_PCT : m.kind === 'hit' ? 0.3 : MIN_MARK_PCT);
        bar.appendChild(el);
        (layers.get(m.kind) as HTMLElement[]).push(el);
      }
    },
    setViewport(span) {
      viewport.hidden = span === null;
      if (span) place(viewport, span, 1.5);
    },
    setFolded(span) {
      folded.hidden = span === null;
      if (span) {
        place(folded, span, 0.5);
        folded.title = 'folded reasoning: click to unfold there';
      }
    },
  };
}

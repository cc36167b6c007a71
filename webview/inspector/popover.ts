// One popover for every explained number: hovering or focusing a badge shows its formula, the
// arithmetic with this member's inputs and what the number means (src/core/explain.ts). A badge is
// registered with explain(); the popover follows the pointer and the keyboard (Tab to a badge,
// Escape closes). Text only, through text nodes.
import type { Explanation } from '../../src/core/explain';
import { h, textEl } from '../shared/dom';

const registered = new WeakMap<Element, Explanation | (() => Explanation)>();
let pop: HTMLElement | null = null;
let owner: Element | null = null;
let hideTimer: ReturnType<typeof setTimeout> | undefined;

function popover(): HTMLElement {
  if (pop && pop.isConnected) return pop;
  pop = h('div', { class: 'explain-popover', role: 'tooltip', id: 'explain-popover', 'data-testid': 'explain-popover', hidden: true });
  pop.addEventListener('mouseenter', () => clearTimeout(hideTimer));
  pop.addEventListener('mouseleave', () => hide());
  document.body.appendChild(pop);
  return pop;
}

/** Registers a badge's explanation (or a function computing it on first show). */
export function explain<T extends HTMLElement>(el: T, e: Explanation | (() => Explanation)): T {
  registered.set(el, e);
  el.classList.add('explained');
  el.setAttribute('tabindex', '0');
  el.setAttribute('aria-describedby', 'explain-popover');
  return el;
}

function show(el: Element): void {
  const entry = registered.get(el);
  if (!entry) return;
  const e = typeof entry === 'function' ? entry() : entry;
  if (typeof entry === 'function') registered.set(el, e);
  clearTimeout(hideTimer);
  const p = popover();
  p.replaceChildren(
    textEl('div', { class: 'explain-title' }, e.title),
    textEl('div', { class: 'explain-math mono', 'data-testid': 'explain-arithmetic' }, e.arithmetic ?? e.formula),
  );
  if (e.arithmetic && !e.arithmetic.startsWith(e.formula)) p.appendChild(textEl('div', { class: 'explain-formula mono muted' }, e.formula));
  for (const n of e.notes) p.appendChild(textEl('div', { class: 'explain-note' }, n));
  p.setAttribute('data-explains', e.key);
  p.hidden = false;
  owner = el;
  const r = el.getBoundingClientRect();
  const vw = document.documentElement.clientWidth;
  const vh = document.documentElement.clientHeight;
  const pw = Math.min(440, vw - 16);
  p.style.maxWidth = `${pw}px`;
  const ph = p.offsetHeight;
  const left = Math.max(8, Math.min(r.left, vw - pw - 8));
  const below = r.bottom + 6;
  const top = below + ph > vh - 8 && r.top - ph - 6 > 8 ? r.top - ph - 6 : below;
  p.style.left = `${left}px`;
  p.style.top = `${top}px`;
}

function hide(delay = 0): void {
  clearTimeout(hideTimer);
  hideTimer = setTimeout(() => {
    if (pop) pop.hidden = true;
    owner = null;
  }, delay);
}

/** Hides the popover (a re-render removed its badge, or Escape). */
export function hideExplanation(): void {
  hide();
}

export function explanationShown(): boolean {
  return !!pop && !pop.hidden;
}

// Delegated listeners: badges come and go with every re-render.
document.addEventListener('mouseover', (ev) => {
  const el = (ev.target as Element | null)?.closest?.('.explained');
  if (el && el !== owner) show(el);
  else if (!el && owner && !(ev.target as Element | null)?.closest?.('.explain-popover')) hide(150);
});
document.addEventListener('focusin', (ev) => {
  const el = (ev.target as Element | null)?.closest?.('.explained');
  if (el) show(el);
  else if (owner) hide();
});
document.addEventListener('scroll', () => { if (owner) hide(); }, true);

// DOM building that never parses data as HTML: text always goes in through text nodes.
import { splitControls } from '../../src/core/formatText';

type Attrs = Record<string, string | number | boolean | null | undefined>;

/** Creates an element; attributes are set with setAttribute, children appended as nodes or text. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Array<Node | string | null | undefined | false>): HTMLElementTagNameMap[K];
export function h(tag: string, attrs?: Attrs, ...children: Array<Node | string | null | undefined | false>): HTMLElement;
export function h(tag: string, attrs: Attrs = {}, ...children: Array<Node | string | null | undefined | false>): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    // Inline handlers and style attributes are CSP-blocked anyway; refusing them here keeps
    // a data value from ever being routed into one.
    if (/^on/i.test(k) || k === 'style') throw new Error(`refusing attribute ${k}`);
    el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

/**
 * Appends untrusted text: plain text nodes, with every bidi/invisible control replaced by a
 * visible marker so it cannot reorder what the reader sees.
 */
export function appendText(parent: Node, text: string): void {
  if (text.length === 0) return;
  // Fast path: most chunks have no control characters.
  if (!/[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/.test(text)) {
    parent.appendChild(document.createTextNode(text));
    return;
  }
  for (const p of splitControls(text)) {
    if (p.control) {
      const s = document.createElement('span');
      s.className = 'control-char';
      s.setAttribute('data-testid', 'control-char');
      s.title = 'invisible direction control, shown and neutralised';
      s.textContent = p.text;
      parent.appendChild(s);
    } else parent.appendChild(document.createTextNode(p.text));
  }
}

/** A text node-only element for untrusted text. */
export function textEl(tag: keyof HTMLElementTagNameMap, attrs: Attrs, text: string): HTMLElement {
  const el = h(tag, attrs);
  appendText(el, text);
  return el;
}

export function clear(el: Element): void {
  el.replaceChildren();
}

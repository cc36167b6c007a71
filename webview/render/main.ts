// Optional Markdown and LaTeX rendering of traces (rewardLens.inspector.renderMarkdown, and the
// inspector's toggle). Its own bundle, loaded only when turned on, so the inspector stays small.
//
// Model output is hostile input, so:
// - markdown-it parses with raw HTML off, and without links, images, autolinks and reference
//   definitions: `<script>` and `[x](javascript:…)` stay literal text;
// - the token stream is turned into DOM here with createElement and text nodes (appendText); no
//   HTML string from the parser or from KaTeX is ever parsed, and no attribute of a token is
//   copied except a list's numeric start;
// - KaTeX renders with trust off and its HTML output only (its MathML part sets style attributes,
//   which the CSP refuses); an expression that asks for a trusted command (\href, \url,
//   \includegraphics, \htmlData, …) or does not parse is shown as its literal source.
import katex from 'katex';
import MarkdownIt, { type StateBlock, type StateInline, type Token } from 'markdown-it';
import { appendText } from '../shared/dom';
import type { TraceRenderer } from '../shared/renderer';

const md = new MarkdownIt('default', { html: false, linkify: false, typographer: false, breaks: true });
md.disable(['link', 'image', 'autolink', 'reference', 'html_inline', 'html_block', 'linkify']);

/** $…$, $$…$$, \(…\) and \[…\] inside a paragraph; before `escape`, which would eat `\(`. */
function mathInline(state: StateInline, silent: boolean): boolean {
  const src = state.src;
  const pos = state.pos;
  let open: string;
  let close: string;
  let display: boolean;
  if (src.startsWith('$$', pos)) [open, close, display] = ['$$', '$$', true];
  else if (src.charCodeAt(pos) === 0x24) [open, close, display] = ['$', '$', false];
  else if (src.startsWith('\\(', pos)) [open, close, display] = ['\\(', '\\)', false];
  else if (src.startsWith('\\[', pos)) [open, close, display] = ['\\[', '\\]', true];
  else return false;
  const start = pos + open.length;
  let end = src.indexOf(close, start);
  if (open === '$') {
    // Pandoc's rule, so prices ("$5 and $6") stay text: no space inside the dollars, no digit after.
    if (start >= src.length || /\s/.test(src[start] as string)) return false;
    while (end > 0 && src.charCodeAt(end - 1) === 0x5c) end = src.indexOf(close, end + 1);
    if (end < 0 || /\s/.test(src[end - 1] as string) || /\d/.test(src[end + 1] ?? '')) return false;
  }
  if (end < 0 || end === start) return false;
  if (!silent) {
    const tok = state.push('math_inline', 'math', 0);
    tok.content = src.slice(start, end);
    tok.markup = open;
    tok.meta = { display };
  }
  state.pos = end + close.length;
  return true;
}

/** A block of display maths: lines from `$$` or `\[` to the line that closes it. */
function mathBlock(state: StateBlock, startLine: number, endLine: number, silent: boolean): boolean {
  const first = state.bMarks[startLine]! + state.tShift[startLine]!;
  const lineEnd = state.eMarks[startLine]!;
  const src = state.src;
  let close: string;
  if (src.startsWith('$$', first)) close = '$$';
  else if (src.startsWith('\\[', first)) close = '\\]';
  else return false;
  let body = '';
  let line = startLine;
  const rest = src.slice(first + 2, lineEnd);
  const same = rest.indexOf(close);
  if (same >= 0) {
    if (rest.slice(same + 2).trim() !== '') return false; // maths then more text: an inline matter
    body = rest.slice(0, same);
  } else {
    const lines = [rest];
    let found = false;
    for (line = startLine + 1; line < endLine; line++) {
      const s = state.bMarks[line]! + state.tShift[line]!;
      const text = src.slice(s, state.eMarks[line]);
      const at = text.indexOf(close);
      if (at >= 0) {
        lines.push(text.slice(0, at));
        found = true;
        break;
      }
      lines.push(text);
    }
    if (!found) return false;
    body = lines.join('\n');
  }
  if (silent) return true;
  state.line = line + 1;
  const tok = state.push('math_block', 'math', 0);
  tok.block = true;
  tok.content = body;
  tok.markup = close === '$$' ? '$$' : '\\[';
  tok.map = [startLine, state.line];
  tok.meta = { display: true };
  return true;
}

md.inline.ruler.before('escape', 'math_inline', mathInline);
md.block.ruler.before('fence', 'math_block', mathBlock, { alt: ['paragraph', 'reference', 'blockquote', 'list'] });

/** Commands KaTeX only runs when trusted; an expression that asks for one is shown as source. */
function renderMath(parent: HTMLElement, tex: string, display: boolean, open: string): void {
  const holder = document.createElement(display ? 'div' : 'span');
  holder.className = display ? 'math math-display' : 'math math-inline';
  let untrusted = '';
  try {
    katex.render(tex, holder, {
      displayMode: display,
      output: 'html',
      throwOnError: true,
      strict: 'ignore',
      maxExpand: 500,
      maxSize: 20,
      trust: (ctx) => {
        untrusted = ctx.command;
        return false;
      },
    });
    if (untrusted) throw new Error(`uses ${untrusted}, which is not rendered`);
    holder.setAttribute('role', 'math');
    holder.setAttribute('aria-label', tex.length > 300 ? `${tex.slice(0, 299)}…` : tex);
  } catch (e) {
    holder.replaceChildren();
    holder.className = 'math-raw';
    holder.setAttribute('data-testid', 'math-raw');
    holder.title = `Not rendered: ${(e as Error).message.slice(0, 200)}`;
    // the source as written, delimiters included
    const close = open === '\\(' ? '\\)' : open === '\\[' ? '\\]' : open;
    appendText(holder, `${open}${tex}${close}`);
  }
  parent.appendChild(holder);
}

const BLOCK_TAGS: Record<string, keyof HTMLElementTagNameMap> = {
  paragraph_open: 'p', bullet_list_open: 'ul', ordered_list_open: 'ol', list_item_open: 'li', blockquote_open: 'blockquote',
  table_open: 'table', thead_open: 'thead', tbody_open: 'tbody', tr_open: 'tr', th_open: 'th', td_open: 'td',
};
const INLINE_TAGS: Record<string, keyof HTMLElementTagNameMap> = { strong_open: 'strong', em_open: 'em', s_open: 's' };

function renderInline(parent: HTMLElement, children: readonly Token[]): void {
  const stack: HTMLElement[] = [parent];
  const top = () => stack[stack.length - 1] as HTMLElement;
  for (const t of children) {
    if (t.type in INLINE_TAGS) {
      const el = document.createElement(INLINE_TAGS[t.type] as string);
      top().appendChild(el);
      stack.push(el);
    } else if (t.type.endsWith('_close') && t.nesting === -1) {
      if (stack.length > 1) stack.pop();
    } else if (t.type === 'text') appendText(top(), t.content);
    else if (t.type === 'softbreak' || t.type === 'hardbreak') top().appendChild(document.createElement('br'));
    else if (t.type === 'code_inline') {
      const c = document.createElement('code');
      appendText(c, t.content);
      top().appendChild(c);
    } else if (t.type === 'math_inline') renderMath(top(), t.content, (t.meta as { display?: boolean } | null)?.display === true, t.markup);
    else appendText(top(), t.content || t.markup);
  }
}

function renderTokens(root: HTMLElement, tokens: readonly Token[]): void {
  const stack: HTMLElement[] = [root];
  const top = () => stack[stack.length - 1] as HTMLElement;
  for (const t of tokens) {
    if (t.type === 'heading_open') {
      const el = document.createElement('div');
      el.className = `md-heading md-${t.tag}`;
      top().appendChild(el);
      stack.push(el);
    } else if (t.type in BLOCK_TAGS) {
      const el = document.createElement(BLOCK_TAGS[t.type] as string);
      if (t.type === 'ordered_list_open') {
        const raw = t.attrGet('start');
        const start = raw === null ? NaN : Number(raw);
        if (Number.isSafeInteger(start) && start >= 0) el.setAttribute('start', String(start));
      }
      top().appendChild(el);
      stack.push(el);
    } else if (t.nesting === -1) {
      if (stack.length > 1) stack.pop();
    } else if (t.type === 'inline') renderInline(top(), t.children ?? []);
    else if (t.type === 'fence' || t.type === 'code_block') {
      const pre = document.createElement('pre');
      const code = document.createElement('code');
      appendText(code, t.content);
      pre.appendChild(code);
      top().appendChild(pre);
    } else if (t.type === 'math_block') renderMath(top(), t.content, true, t.markup);
    else if (t.type === 'hr') top().appendChild(document.createElement('hr'));
    else if (t.content) appendText(top(), t.content);
  }
}

const renderer: TraceRenderer = {
  renderInto(el, text) {
    try {
      renderTokens(el, md.parse(text, {}));
    } catch {
      // A parser failure on odd input must not lose the text: show it raw.
      el.replaceChildren();
      appendText(el, text);
    }
  },
};

window.__rewardLensRenderer = renderer;

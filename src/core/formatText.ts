// Text made safe for the places it is shown: HTML escaping, invisible bidi and direction
// controls made visible (Trojan Source), single-line labels, and Markdown escaping for tooltips
// that are not trusted. Pure: used by the webviews, the panels, the tree and the inline view.

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] as string);
}

/**
 * Characters that reorder or hide text without being seen (Trojan Source): the bidi embeddings,
 * overrides and isolates, the directional marks, and the Arabic letter mark.
 */
export const INVISIBLE_CONTROL_RE = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/g;

export interface TextPiece {
  text: string;
  /** true when `text` is the visible stand-in for one invisible control character */
  control: boolean;
}

/** "U+202E" for a control character. */
export function controlName(ch: string): string {
  return `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Splits text so each bidi/invisible control becomes its own visible piece (`⟨U+202E⟩`); the
 * original characters are dropped, so they cannot reorder the text around them.
 */
export function splitControls(s: string): TextPiece[] {
  const out: TextPiece[] = [];
  let last = 0;
  INVISIBLE_CONTROL_RE.lastIndex = 0;
  for (let m = INVISIBLE_CONTROL_RE.exec(s); m !== null; m = INVISIBLE_CONTROL_RE.exec(s)) {
    if (m.index > last) out.push({ text: s.slice(last, m.index), control: false });
    out.push({ text: `⟨${controlName(m[0])}⟩`, control: true });
    last = m.index + 1;
  }
  if (last < s.length) out.push({ text: s.slice(last), control: false });
  return out;
}

/** The text with every invisible control replaced by its visible name, for plain-text sinks. */
export function neutraliseControls(s: string): string {
  return s.replace(INVISIBLE_CONTROL_RE, (c) => `⟨${controlName(c)}⟩`);
}

/** Collapses whitespace, cuts to max characters and drops control and bidi characters (labels, Problems-panel lines are single-line). */
export function oneLine(s: string, max: number): string {
  const flat = s.replace(/[\u0000-\u001f\u007f\u200e\u200f\u202a-\u202e\u2066-\u2069]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Escapes text for a MarkdownString that is not trusted (no command links, no HTML). */
export function mdEscape(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>~&]/g, (c) => `\\${c}`);
}

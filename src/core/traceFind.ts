// Find in a trace: every occurrence of a query in the trace's text, whether or not that part is
// folded or built in the page yet (the webview searches the string and then reveals the hit).
// Pure, so the matching and the next/previous arithmetic are unit-tested without a browser.
import type { Span } from './answerSpans';

export const FIND_MAX_HITS = 10_000;

export interface FindOptions {
  caseSensitive?: boolean;
  /** stop after this many hits (the count then reads "10000+") */
  max?: number;
}

export interface FindResult {
  hits: Span[];
  /** more hits exist than were returned */
  capped: boolean;
}

/** The text as a regular expression that matches it literally. */
export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Non-overlapping occurrences of `query` in `text`, in order (UTF-16 offsets). */
export function findInText(text: string, query: string, opts: FindOptions = {}): FindResult {
  const max = opts.max ?? FIND_MAX_HITS;
  if (!query || !text) return { hits: [], capped: false };
  const hits: Span[] = [];
  if (opts.caseSensitive) {
    for (let at = text.indexOf(query); at >= 0; at = text.indexOf(query, at + query.length)) {
      if (hits.length >= max) return { hits, capped: true };
      hits.push({ start: at, end: at + query.length });
    }
    return { hits, capped: false };
  }
  // A case-insensitive regular expression, not toLowerCase(): lower-casing can change a string's
  // length (U+0130), which would shift every offset after it.
  const re = new RegExp(escapeRegExp(query), 'giu');
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (hits.length >= max) return { hits, capped: true };
    hits.push({ start: m.index, end: m.index + m[0].length });
    if (m[0].length === 0) re.lastIndex++;
  }
  return { hits, capped: false };
}

/** Index of the first hit starting at or after `offset` (wrapping to 0), or -1 without hits. */
export function firstHitFrom(hits: readonly Span[], offset: number): number {
  if (hits.length === 0) return -1;
  let lo = 0;
  let hi = hits.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((hits[mid] as Span).start < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo < hits.length ? lo : 0;
}

/** The next (dir 1) or previous (dir −1) hit index, wrapping around. */
export function stepHit(current: number, count: number, dir: 1 | -1): number {
  if (count === 0) return -1;
  if (current < 0) return dir === 1 ? 0 : count - 1;
  return (current + dir + count) % count;
}

/** "3 of 17", "No results", "10000+". */
export function hitCountText(current: number, r: FindResult): string {
  if (r.hits.length === 0) return 'No results';
  const total = r.capped ? `${r.hits.length}+` : String(r.hits.length);
  return current >= 0 ? `${current + 1} of ${total}` : total;
}

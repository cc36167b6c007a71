// Turns one raw line of events.jsonl into an event or a reason it is malformed. Pure apart from
// TextDecoder, so it can run in a worker or a child process as it is.
import { parseEventLine, type RolloutEvent } from '../../core/protocol';

/** Lines longer than this are refused unread: no protocol event needs it, and it bounds memory. */
export const MAX_LINE_BYTES = 8 * 1024 * 1024;
const EXCERPT_CHARS = 200;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const lenientUtf8 = new TextDecoder('utf-8', { fatal: false });

export type LineResult = { ok: true; event: RolloutEvent } | { ok: false; reason: string; excerpt: string };

export function excerptOf(bytes: Uint8Array): string {
  const head = lenientUtf8.decode(bytes.subarray(0, EXCERPT_CHARS * 4));
  return head.length > EXCERPT_CHARS ? head.slice(0, EXCERPT_CHARS) + '…' : head;
}

/** Deeper than this, a line is refused: the store re-serialises unknown fields, and recursion that deep overflows the stack. */
export const MAX_NESTING = 64;

/**
 * The first reason a parsed event cannot be stored: a number JSON.parse turned into ±Infinity
 * (e.g. 1e999), or nesting deeper than MAX_NESTING. Iterative, so hostile depth cannot overflow it.
 */
export function firstNonFinite(value: unknown): string | null {
  const stack: { v: unknown; path: string; depth: number }[] = [{ v: value, path: '', depth: 0 }];
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop() as { v: unknown; path: string; depth: number };
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return `${path || '(value)'} is not a finite number`;
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= MAX_NESTING) return `${path} nests deeper than ${MAX_NESTING} levels`;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) {
        const item = v[i];
        if (typeof item === 'object' || typeof item === 'number') stack.push({ v: item, path: `${path}/${i}`, depth: depth + 1 });
      }
      continue;
    }
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i] as string;
      const item = (v as Record<string, unknown>)[k];
      // Strings (the hot case: trajectory text) need no look.
      if (typeof item === 'object' || typeof item === 'number') stack.push({ v: item, path: `${path}/${k}`, depth: depth + 1 });
    }
  }
  return null;
}

/** Parses one line's bytes (without its newline). */
export function parseLine(bytes: Uint8Array): LineResult {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0x0d) end--; // CRLF files
  const body = bytes.subarray(0, end);
  if (body.length === 0) return { ok: false, reason: 'empty line', excerpt: '' };
  let text: string;
  try {
    text = strictUtf8.decode(body);
  } catch {
    return { ok: false, reason: `invalid UTF-8 at byte ${firstInvalidUtf8(body)} of the line`, excerpt: excerptOf(body) };
  }
  if (text.trim().length === 0) return { ok: false, reason: 'blank line', excerpt: '' };
  const check = parseEventLine(text);
  if (!check.ok) return { ok: false, reason: check.reason, excerpt: excerptOf(body) };
  const bad = firstNonFinite(check.event);
  if (bad) return { ok: false, reason: bad, excerpt: excerptOf(body) };
  return { ok: true, event: check.event };
}

function firstInvalidUtf8(bytes: Uint8Array): number {
  // Binary search on the longest valid prefix would be faster, but this only runs on bad lines.
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    const need = b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (need < 0) return i;
    try {
      strictUtf8.decode(bytes.subarray(i, i + need + 1));
    } catch {
      return i;
    }
    i += need;
  }
  return bytes.length;
}

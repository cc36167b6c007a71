// Runaway repetition: a response stuck in a loop, emitting the same passage again and again until
// it hits the length limit. Long reasoning traces repeat phrases ("Let me check", a formula) all
// the time; what marks a loop is a long window of words that recurs many times. The lint counts,
// for every window of REPETITION.window consecutive words, how often it occurs; a window seen
// REPETITION.minRepeats times or more flags the response. Linear in the text (one rolling hash per
// word), so it runs at ingest on 150K-character traces. Pinned in docs/conventions.md.
import type { Span } from './answerSpans';

export const REPETITION = Object.freeze({
  /** words per window: long enough that ordinary prose and maths do not repeat it by chance */
  window: 24,
  /**
   * occurrences of one window that count as a loop. On the 30 SkyThought AIME traces
   * (shared data), the 12 cut off at the length limit repeat a window 24 to 383 times; the 18 that
   * finished repeat one at most 4 times (a solution restating its reasoning once or twice).
   */
  minRepeats: 8,
});

export interface RepetitionOptions {
  window: number;
  minRepeats: number;
}

export interface RepetitionReport {
  /** true when some window occurs at least minRepeats times */
  runaway: boolean;
  /** the most occurrences of any one window (0 for a text shorter than one window) */
  maxRepeats: number;
  /** where the loop starts: the first occurrence of the most repeated window; null when not runaway */
  start: number | null;
  /** characters covered by occurrences of windows that repeat at least minRepeats times */
  repeatedChars: number;
  /** those occurrences, merged, in text order (UTF-16 offsets) */
  spans: Span[];
  /** the most repeated window's text, shortened, for a message */
  sample: string;
}

const NONE: RepetitionReport = Object.freeze({ runaway: false, maxRepeats: 0, start: null, repeatedChars: 0, spans: [], sample: '' }) as RepetitionReport;

/** What \s matches, by code unit (a regex test per character was most of the lint's time). */
function isSpace(c: number): boolean {
  if (c > 32 && c < 0xa0) return false; // printable ASCII and C1: almost every character of a trace
  return c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || (c >= 0x2000 && c <= 0x200a) || c === 0x1680 || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

// Scratch buffers reused across calls: at ingest the lint runs on every online response, and
// allocating eight arrays per text was a third of its time. Grown on demand, never shrunk.
let cap = 0;
let starts = new Int32Array(0);
let ends = new Int32Array(0);
let hashes = new Int32Array(0);
let slotOf = new Int32Array(0);
let tableCap = 0;
let tH1 = new Int32Array(0);
let tH2 = new Int32Array(0);
let tCount = new Int32Array(0);
let tFirst = new Int32Array(0);

export function repetitionReport(text: string, opts: RepetitionOptions = REPETITION): RepetitionReport {
  const w = Math.max(1, Math.floor(opts.window));
  const minRepeats = Math.max(2, Math.floor(opts.minRepeats));
  if (typeof text !== 'string' || text.length === 0) return NONE;
  const n = text.length;
  // A word is at least one character followed by a separator: at most ceil(n / 2) words.
  const most = (n >> 1) + 1;
  if (most > cap) {
    cap = Math.max(most, cap * 2);
    starts = new Int32Array(cap);
    ends = new Int32Array(cap);
    hashes = new Int32Array(cap);
    slotOf = new Int32Array(cap);
  }
  // Words: maximal runs of non-whitespace, with their offsets and a 32-bit FNV-1a hash each. One
  // flat loop over the characters: this scan is most of the lint's time at ingest.
  let words = 0;
  let inWord = false;
  let h = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    const space = c <= 32 ? c === 32 || (c >= 9 && c <= 13) : c >= 0xa0 && isSpace(c);
    if (space) {
      if (inWord) {
        ends[words] = i;
        hashes[words] = h;
        words++;
        inWord = false;
      }
    } else {
      if (!inWord) {
        inWord = true;
        starts[words] = i;
        h = 0x811c9dc5;
      }
      h = Math.imul(h ^ c, 0x01000193);
    }
  }
  if (inWord) {
    ends[words] = n;
    hashes[words] = h;
    words++;
  }
  if (words < w) return NONE;
  // Two polynomial hashes of each window of w words, mod 2^32 with odd bases (Math.imul keeps
  // them exact), rolled in O(1) per word; windows are counted in an open-addressing table keyed by
  // both (a collision of both in one text of a few thousand windows is negligible).
  const B1 = 0x01000193;
  const B2 = 0x5bd1e995;
  let p1 = 1;
  let p2 = 1;
  for (let k = 0; k < w - 1; k++) {
    p1 = Math.imul(p1, B1);
    p2 = Math.imul(p2, B2);
  }
  const windows = words - w + 1;
  let size = 1024;
  while (size < windows * 2) size *= 2;
  const mask = size - 1;
  if (size > tableCap) {
    tableCap = size;
    tH1 = new Int32Array(size);
    tH2 = new Int32Array(size);
    tCount = new Int32Array(size);
    tFirst = new Int32Array(size);
  }
  tCount.fill(0, 0, size); // 0: empty slot
  let maxRepeats = 0;
  let maxSlot = -1;
  let h1 = 0;
  let h2 = 0;
  for (let k = 0; k < words; k++) {
    const x = hashes[k] as number;
    if (k >= w) {
      const out = hashes[k - w] as number;
      h1 = (h1 - Math.imul(out, p1)) | 0;
      h2 = (h2 - Math.imul(out, p2)) | 0;
    }
    h1 = (Math.imul(h1, B1) + x) | 0;
    h2 = (Math.imul(h2, B2) + x) | 0;
    if (k < w - 1) continue;
    const first = k - w + 1;
    let slot = (h1 ^ Math.imul(h2, 0x27d4eb2d)) & mask;
    while (tCount[slot] !== 0 && (tH1[slot] !== h1 || tH2[slot] !== h2)) slot = (slot + 1) & mask;
    if (tCount[slot] === 0) {
      tH1[slot] = h1;
      tH2[slot] = h2;
      tFirst[slot] = first;
    }
    const c = ((tCount[slot] as number) + 1) | 0;
    tCount[slot] = c;
    slotOf[first] = slot;
    // The most repeated window as counts grow; a tie goes to the window that occurs first.
    if (c > maxRepeats || (c === maxRepeats && (tFirst[slot] as number) < (tFirst[maxSlot] as number))) {
      maxRepeats = c;
      maxSlot = slot;
    }
  }
  if (maxRepeats < minRepeats) return { ...NONE, maxRepeats };
  // Every occurrence of a looping window, merged into spans.
  const spans: Span[] = [];
  let covered = 0;
  for (let first = 0; first < windows; first++) {
    if ((tCount[slotOf[first] as number] as number) < minRepeats) continue;
    const s = starts[first] as number;
    const e = ends[first + w - 1] as number;
    const last = spans[spans.length - 1];
    // occurrences that touch, or are separated by whitespace only, are one stretch of loop
    if (last && (s <= last.end || (s - last.end <= 16 && text.slice(last.end, s).trim() === ''))) {
      if (e > last.end) last.end = e;
    } else spans.push({ start: s, end: e });
  }
  for (const sp of spans) covered += sp.end - sp.start;
  const firstWord = tFirst[maxSlot] as number;
  const start = starts[firstWord] as number;
  const sampleText = text.slice(start, ends[firstWord + w - 1] as number).replace(/\s+/g, ' ');
  return {
    runaway: true,
    maxRepeats,
    start,
    repeatedChars: covered,
    spans,
    sample: sampleText.length > 80 ? `${sampleText.slice(0, 79)}…` : sampleText,
  };
}

/** The lint's message for a flagged response. */
export function repetitionMessage(id: string, r: RepetitionReport, textChars: number): string {
  const share = textChars > 0 ? Math.round((100 * r.repeatedChars) / textChars) : 0;
  return `${id} loops: a ${REPETITION.window}-word passage recurs ${r.maxRepeats} times (${share}% of the text is repeats), from “${r.sample}”`;
}

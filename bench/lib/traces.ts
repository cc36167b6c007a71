// Realistic trajectory text for the store benchmarks: cuts of real long chain-of-thought outputs
// (the shared traces: Sky-T1 on AIME 2024, 3-154K characters each) instead of generated words, so
// that compression ratios, FTS5 index sizes and tokeniser costs are those of reasoning text
// (LaTeX, digits, "Wait, let me check" loops), not of a synthetic vocabulary.
//
// A cut starts at a word boundary at a seeded offset into one trace; a cut longer than its trace
// continues into the next one. Each text is compressed alone in the store, so the overlap between
// cuts of 30 sources does not flatter its compression; it would flatter a codec that shares a
// dictionary across texts, which is why the store does not use one (docs/store.md).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './common';

export const TRACES_FILE = path.join(REPO_ROOT, '..', 'shared', 'data', 'traces', 'skythought_aime24_outputs.jsonl');

let cached: string[] | null = null;

/** The 30 trace texts. Throws with what to do when the shared data is not beside the repository. */
export function traceSources(): string[] {
  if (cached) return cached;
  if (!existsSync(TRACES_FILE)) {
    throw new Error(`realistic text needs ${TRACES_FILE} (the shared data set beside the repository); it is missing`);
  }
  cached = readFileSync(TRACES_FILE, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => ((JSON.parse(l) as { code?: string[] }).code?.[0] ?? '').replace(/<\|(begin|end)_of_(thought|solution)\|>/g, ''))
    .filter((t) => t.length > 0);
  return cached;
}

export class TraceCutter {
  private readonly sources = traceSources();

  /** ~98.5% between 1 and 8 KB (log-uniform), ~1.5% between 50 and 150 KB: the store benchmarks' spread. */
  length(r: () => number): number {
    return r() < 0.015 ? 50_000 + Math.floor(r() * 100_000) : Math.floor(1000 * 8 ** r());
  }

  /** A cut of about `chars` characters, wrapped as a response: `<think>` reasoning `</think>` and a boxed answer. */
  text(r: () => number, chars: number, answer: string, marker?: string): string {
    const body = this.cut(r, Math.max(0, chars - 40 - (marker ? marker.length + 1 : 0)));
    return `<think>\n${marker ? `${marker} ` : ''}${body}\n</think>\n\nThe answer is $\\boxed{${answer}}$.`;
  }

  cut(r: () => number, chars: number): string {
    let k = Math.floor(r() * this.sources.length);
    const first = this.sources[k] as string;
    let at = Math.floor(r() * Math.max(1, first.length - Math.min(chars, first.length)));
    const space = first.indexOf(' ', at);
    if (space >= 0 && space - at < 40) at = space + 1;
    const parts: string[] = [];
    let need = chars;
    while (need > 0) {
      const src = this.sources[k % this.sources.length] as string;
      const piece = src.slice(at, at + need);
      parts.push(piece);
      need -= piece.length;
      k++;
      at = 0;
    }
    return parts.join(parts.length > 1 ? '\n\n' : '');
  }
}

// Token entropies bucketed into heatmap levels and merged into runs of text, so a 150K-character
// trace needs a few thousand spans rather than one per token.
import type { Span } from './answerSpans';

/** Upper bounds (nats) of heatmap levels 0..4; level 5 is anything above the last bound. */
export const ENTROPY_LEVEL_BOUNDS = [0.1, 0.5, 1, 2, 4] as const;
export const ENTROPY_LEVELS = ENTROPY_LEVEL_BOUNDS.length + 1;

export function entropyLevel(v: number): number {
  for (let i = 0; i < ENTROPY_LEVEL_BOUNDS.length; i++) if (v <= (ENTROPY_LEVEL_BOUNDS[i] as number)) return i;
  return ENTROPY_LEVEL_BOUNDS.length;
}

export interface EntropyRun extends Span {
  level: number;
  /** mean entropy of the tokens merged into this run */
  mean: number;
  tokens: number;
}

export interface EntropyRuns {
  runs: EntropyRun[];
  /** offsets/values pairs dropped: out of range, not increasing, not finite, or unpaired */
  dropped: number;
}

/**
 * Turns sampled token entropies into runs of text at one heatmap level. Adjacent tokens on the
 * same level merge, so a 150K-character trace needs a few thousand spans, not one per token.
 * Token i covers [offsets[i], offsets[i+1]) (the last one runs to the end of the text).
 */
export function entropyRuns(textLength: number, offsets: readonly unknown[] | undefined, values: readonly unknown[] | undefined): EntropyRuns {
  if (!Array.isArray(offsets) || !Array.isArray(values)) return { runs: [], dropped: 0 };
  const n = Math.min(offsets.length, values.length);
  let dropped = Math.abs(offsets.length - values.length);
  const starts: number[] = [];
  const vals: number[] = [];
  let prev = -1;
  for (let i = 0; i < n; i++) {
    const o = offsets[i];
    const v = values[i];
    if (typeof o !== 'number' || !Number.isInteger(o) || o <= prev || o >= textLength || typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      dropped++;
      continue;
    }
    starts.push(o);
    vals.push(v);
    prev = o;
  }
  const runs: EntropyRun[] = [];
  for (let i = 0; i < starts.length; i++) {
    const start = starts[i] as number;
    const end = i + 1 < starts.length ? (starts[i + 1] as number) : textLength;
    const v = vals[i] as number;
    const level = entropyLevel(v);
    const last = runs[runs.length - 1];
    if (last && last.level === level && last.end === start) {
      last.end = end;
      last.mean = (last.mean * last.tokens + v) / (last.tokens + 1);
      last.tokens++;
    } else runs.push({ start, end, level, mean: v, tokens: 1 });
  }
  return { runs, dropped };
}

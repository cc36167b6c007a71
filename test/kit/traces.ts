// Real long reasoning traces from the shared data (../shared/data/traces): Sky-T1 outputs on
// AIME 2024 in SkyThought's <|begin_of_thought|>…<|end_of_thought|> <|begin_of_solution|>…
// format, up to 153,700 characters; 12 of the 30 were cut off at the length limit while looping.
// Unit tests (reasoning markers, the repetition lint, find), the browser tests and the end-to-end
// suite read them from here.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const SKYTHOUGHT_TRACES = join(resolve(__dirname, '..', '..'), '..', 'shared', 'data', 'traces', 'skythought_aime24_outputs.jsonl');

export interface RealTrace {
  /** row index in the file */
  idx: number;
  question: string;
  gold: string;
  text: string;
  /** the grader's extracted answer */
  pred: string | null;
  correct: boolean;
  /** the response reached <|end_of_solution|> (else it was cut off) */
  finished: boolean;
}

let cache: RealTrace[] | null = null;

/** All 30 traces; throws with the path when the shared data is missing (tests must not pass vacuously). */
export function skyThoughtTraces(): RealTrace[] {
  if (cache) return cache;
  if (!existsSync(SKYTHOUGHT_TRACES)) throw new Error(`the real SkyThought traces are missing: ${SKYTHOUGHT_TRACES} (the shared data beside the repository)`);
  cache = readFileSync(SKYTHOUGHT_TRACES, 'utf8').trim().split('\n').map((line) => {
    const r = JSON.parse(line) as { idx: number; question: string; gt: string; code: string[]; pred: string[]; score: boolean[] };
    const text = r.code[0] ?? '';
    return { idx: r.idx, question: r.question, gold: String(r.gt), text, pred: r.pred[0] ?? null, correct: r.score[0] === true, finished: text.includes('<|end_of_solution|>') };
  });
  return cache;
}

/** The longest trace (153,700 characters, cut off in a loop). */
export function longestSkyThought(): RealTrace {
  return skyThoughtTraces().reduce((a, b) => (b.text.length > a.text.length ? b : a));
}

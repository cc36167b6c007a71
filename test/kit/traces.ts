// Real long reasoning traces from the shared data (../shared/data/traces): Sky-T1 outputs on
// AIME 2024 in SkyThought's <|begin_of_thought|>…<|end_of_thought|> <|begin_of_solution|>…
// format, up to 153,700 characters; 12 of the 30 were cut off at the length limit while looping.
// Unit tests (reasoning markers, the repetition lint, find), the browser tests and the end-to-end
// suite read them from here.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { rescoreGroup } from '../../src/core/rescore';
import type { TrajectoryEvent, Verdict } from '../../src/core/protocol';
import type { ViewGroup, ViewMember } from '../../src/core/messages';

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

/**
 * A group of real SkyThought responses as the inspector receives it: `online` picks rows by index
 * (the first is the focus of most tests), two teachers are finished traces; reward values come
 * from the reward core, so the group is consistent.
 */
export function skyThoughtGroup(online: readonly number[] = [21, 0, 6, 0, 2, 29], groupId = 41): ViewGroup {
  const all = skyThoughtTraces();
  const pick = (i: number) => all[i] as RealTrace;
  const gold = pick(online[0] as number).gold;
  const events: TrajectoryEvent[] = online.map((i, k) => {
    const t = pick(i);
    // each row was graded against its own problem; the group borrows the first row's prompt
    const verdict: Verdict = t.correct ? 'correct' : 'wrong';
    return {
      id: `sky-${groupId}-on${k}`, source: 'online', index: k, text: t.text, tokens: Math.round(t.text.length / 4), truncated: !t.finished,
      r_m: verdict === 'correct' ? 1 : 0, verdict, verdict_reason: verdict === 'correct' ? 'math-verify: equal' : 'math-verify: not equal',
      extracted_answer: t.pred, divergence: 0.2 + 0.07 * k, entropy_last: 0.05 + 0.3 * k, replaced: false,
    };
  });
  for (const [j, i] of [7, 9].entries()) {
    const t = pick(i);
    events.push({ id: `sky-${groupId}-off${j}`, source: 'offline', index: j, teacher: j === 0 ? 'Sky-T1-32B' : 'QwQ-32B', text: t.text, r_m: 1, verdict: 'correct', extracted_answer: t.pred, replaced: false, inserted: j === 0 });
  }
  const reward = { variant: 'oger' as const, replace: 1, advantage: { std: 'sample' as const, eps: 1e-6 } };
  for (const s of rescoreGroup(events, reward)) {
    const e = events.find((x) => x.id === s.id) as TrajectoryEvent;
    if (e.source === 'online') { e.r_oger = s.rOger; e.replaced = s.replaced; }
    e.r_total = s.rTotal;
    e.advantage = s.advantage;
  }
  const trajectories: ViewMember[] = events.map((event, k) => ({ trajectoryKey: groupId * 100 + k, event, lints: [], label: { current: null, notes: [], history: [] }, activeVerdict: null }));
  const on = events.filter((e) => e.source === 'online');
  return {
    groupId, runId: 'sky-run', step: 3, promptId: `aime24-${pick(online[0] as number).idx}`, prompt: pick(online[0] as number).question, gold, reward, variant: 'oger', lints: [], zeroStd: false,
    accuracy: on.filter((e) => e.verdict === 'correct').length / on.length, meanROger: null, trajectories,
  };
}

// A small variant study as protocol-v1 events, for Compare Runs end to end: GRPO, LUFFY and OGER
// trained on the same five addition prompts (drawn again every step, as in an epoch), each with
// the layout its variant logs (GRPO no teachers, LUFFY one teacher in the last slot, OGER three
// teachers replacing the lowest-divergence member) and rewards from the reward core.
import { scoreGroup } from '../../src/core/reward';
import type { Variant } from '../../src/core/reward';

export const STUDY_RUNS = ['study-grpo-s1', 'study-luffy-s1', 'study-oger-s1'] as const;
export const STUDY_STEPS = 4;
export const STUDY_PROMPTS = 5;
const ONLINE = 4;

interface Arm {
  runId: string;
  variant: Variant;
  replace: number;
  teachers: string[];
  lr: number;
  encoder: Record<string, unknown> | null;
  /** how many of the 4 online answers are right on prompt p at step s */
  correct(p: number, s: number): number;
}

const ARMS: Arm[] = [
  { runId: STUDY_RUNS[0], variant: 'grpo', replace: 0, teachers: [], lr: 1e-4, encoder: null, correct: (p, s) => (p === 3 ? 0 : Math.min(ONLINE, (p + s) % 4)) },
  { runId: STUDY_RUNS[1], variant: 'luffy', replace: 1, teachers: ['DeepSeek-R1'], lr: 1e-4, encoder: null, correct: (p, s) => (p === 3 ? 1 : Math.min(ONLINE, (p + s + 1) % 5)) },
  {
    runId: STUDY_RUNS[2], variant: 'oger', replace: 1, teachers: ['DeepSeek-R1', 'Qwen3-32B', 'GLM-4.5-Air'], lr: 5e-5,
    encoder: { id: 'hashed-ngrams-256', strategy: 'truncate' }, correct: (p, s) => (p === 3 ? 2 : Math.min(ONLINE, (p + 2 * s + 1) % 5)),
  },
];

const think = (body: string, answer: number): string => `<think>\n${body}\n</think>\nThe final answer is $\\boxed{${answer}}$.`;

function entropies(text: string, level: number): { offsets: number[]; values: number[]; stride: number } {
  const offsets: number[] = [];
  const values: number[] = [];
  for (let at = 0, i = 0; at < text.length; at += 4, i += 1) {
    offsets.push(at);
    values.push(Number((level * (0.5 + Math.abs(Math.sin(i * 0.37)))).toFixed(3)));
  }
  return { offsets, values, stride: 1 };
}

function group(arm: Arm, armIndex: number, step: number, p: number): Record<string, unknown> {
  const a = 120 + 11 * p;
  const b = 230 + 7 * p;
  const gold = a + b;
  const right = arm.correct(p, step);
  const online = Array.from({ length: ONLINE }, (_, i) => {
    const ok = i < right;
    const answer = ok ? gold : gold + 10 * (i + 1);
    const style = ['Column by column: units, then tens with the carry, then hundreds.', `Split ${b} into ${b - (b % 100)} and ${b % 100} and add them in turn.`, `Round ${b} up to ${b + (10 - (b % 10))}, add, then take the difference back.`, 'Add the hundreds, then the rest.'][i] as string;
    return { ok, answer, text: think(`${style}\n${a} + ${b}: I get ${answer}.`, answer), divergence: 0.15 + 0.1 * i + 0.02 * armIndex, entropyLast: 0.2 + 0.15 * i + 0.1 * armIndex };
  });
  const teachers = arm.teachers.map((t, j) => ({ teacher: t, text: think(`${t} adds ${a} and ${b} in one line: ${gold}.`, gold), j }));
  const score = scoreGroup({
    variant: arm.variant,
    replace: arm.replace,
    advantage: { std: 'sample', eps: 1e-6 },
    online: online.map((m) => ({ divergence: m.divergence, entropyLast: m.entropyLast, correct: m.ok })),
    offline: teachers.map(() => ({ correct: true })),
  });
  const inFinal = new Map(score.group.map((m) => [`${m.source}:${m.index}`, m]));
  const promptId = `add-${p}`;
  return {
    v: 1, type: 'group', run_id: arm.runId, step, prompt_id: promptId, prompt: `What is ${a} + ${b}? Put the answer in \\boxed{}.`, gold: String(gold),
    trajectories: [
      ...online.map((m, i) => {
        const s = score.online[i]!;
        const final = inFinal.get(`online:${i}`);
        return {
          id: `${promptId}-s${step}-on${i}`, source: 'online', index: i, text: m.text, tokens: Math.ceil(m.text.length / 4), truncated: false,
          r_m: m.ok ? 1 : 0, verdict: m.ok ? 'correct' : 'wrong', verdict_reason: m.ok ? 'equal' : 'not equal', extracted_answer: String(m.answer),
          divergence: s.divergence, entropy_last: m.entropyLast, r_oger: s.explorationReward, r_total: s.totalReward, advantage: final ? final.advantage : null,
          replaced: score.replaced.includes(i), embedding_truncated: false, token_entropies: entropies(m.text, 0.6 + 0.2 * armIndex - 0.05 * step),
        };
      }),
      ...teachers.map((t) => {
        const final = inFinal.get(`offline:${t.j}`);
        return {
          id: `${promptId}-s${step}-off${t.j}`, source: 'offline', index: t.j, teacher: t.teacher, text: t.text, tokens: Math.ceil(t.text.length / 4),
          r_m: 1, verdict: 'correct', extracted_answer: String(gold), r_total: final ? final.totalReward : null, advantage: final ? final.advantage : null,
          replaced: false, inserted: final !== undefined,
        };
      }),
    ],
  };
}

/** The three runs' events: run_start, then per step its groups and a step event, then run_end. */
export function studyEvents(): Record<string, unknown>[] {
  const events: Record<string, unknown>[] = [];
  ARMS.forEach((arm, armIndex) => {
    events.push({
      v: 1, type: 'run_start', run_id: arm.runId, time: new Date(Date.UTC(2026, 0, 2, armIndex)).toISOString(), variant: arm.variant, model: 'tiny-qwen2-study',
      config: { lr: arm.lr, rollout_n: ONLINE, batch_prompts: STUDY_PROMPTS, seed: 1, steps: STUDY_STEPS },
      reward: { variant: arm.variant, replace: arm.replace, advantage: { std: 'sample', eps: 1e-6 } }, encoder: arm.encoder,
      verifier: { id: 'e2e0000000000000000000000000000000000000000000000000000000000000', name: 'default', path: null },
    });
    for (let step = 0; step < STUDY_STEPS; step++) {
      for (let p = 0; p < STUDY_PROMPTS; p++) events.push(group(arm, armIndex, step, p));
      events.push({
        v: 1, type: 'step', run_id: arm.runId, step,
        metrics: { 'actor/entropy': 1.1 - 0.15 * step + 0.1 * armIndex, 'actor/entropy_on_policy': 1.0 - (0.2 - 0.06 * armIndex) * step },
      });
    }
    events.push({ v: 1, type: 'run_end', run_id: arm.runId, status: 'completed', reason: null, step: STUDY_STEPS - 1 });
  });
  return events;
}

/** The prompts at step `s` on which some runs solve and some do not (the table's "Runs disagree" filter). */
export function disagreeingPrompts(s: number): string[] {
  const out: string[] = [];
  for (let p = 0; p < STUDY_PROMPTS; p++) {
    const solved = ARMS.map((a) => a.correct(p, s) > 0);
    if (solved.some(Boolean) && !solved.every(Boolean)) out.push(`add-${p}`);
  }
  return out;
}

/** Online accuracy of run `r` on prompt p at step s. */
export function studyAccuracy(r: number, p: number, s: number): number {
  return (ARMS[r] as Arm).correct(p, s) / ONLINE;
}

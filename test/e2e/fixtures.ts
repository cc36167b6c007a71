// Protocol-v1 runs for the end-to-end suites, written as events.jsonl. Reward values come from the
// reward core itself (scoreGroup), so the store's audit finds nothing to flag and a what-if
// re-score in the UI starts from consistent numbers.
import { writeFileSync } from 'node:fs';
import { scoreGroup } from '../../src/core/reward';
import { skyThoughtTraces } from '../kit/traces';

export interface MemberSpec {
  text: string;
  correct: boolean;
  divergence?: number;
  entropyLast?: number;
  teacher?: string;
  extracted?: string | null;
  reason?: string | null;
  /** cut off at the length limit */
  truncated?: boolean;
}

export interface GroupSpecE2E {
  step: number;
  promptId: string;
  prompt: string;
  gold: string;
  online: MemberSpec[];
  offline: MemberSpec[];
}

function entropies(text: string): { offsets: number[]; values: number[]; stride: number } {
  const offsets: number[] = [];
  const values: number[] = [];
  for (let at = 0, i = 0; at < text.length; at += 4, i += 1) {
    offsets.push(at);
    values.push(Number((0.2 + 1.8 * Math.abs(Math.sin(i * 0.37))).toFixed(3)));
  }
  return { offsets, values, stride: 1 };
}

export function groupEvent(runId: string, g: GroupSpecE2E): Record<string, unknown> {
  const score = scoreGroup({
    variant: 'oger',
    replace: 1,
    advantage: { std: 'sample', eps: 1e-6 },
    online: g.online.map((m, i) => ({ divergence: m.divergence ?? 0.1 + 0.05 * i, entropyLast: m.entropyLast ?? 0.3 + 0.1 * i, correct: m.correct })),
    offline: g.offline.map((m) => ({ correct: m.correct })),
    insertedOffline: [0],
  });
  const inFinal = new Map(score.group.map((m) => [`${m.source}:${m.index}`, m]));
  const trajectories = [
    ...g.online.map((m, i) => {
      const final = inFinal.get(`online:${i}`);
      const s = score.online[i]!;
      return {
        id: `${g.promptId}-s${g.step}-on${i}`, source: 'online', index: i, teacher: null, text: m.text, tokens: Math.ceil(m.text.length / 4),
        truncated: m.truncated ?? false, r_m: m.correct ? 1 : 0, verdict: m.correct ? 'correct' : 'wrong', verdict_reason: m.reason ?? (m.correct ? 'match' : 'mismatch'),
        extracted_answer: m.extracted ?? null, divergence: s.divergence, entropy_last: m.entropyLast ?? 0.3 + 0.1 * i,
        r_oger: s.explorationReward, r_total: s.totalReward, advantage: final ? final.advantage : null,
        replaced: score.replaced.includes(i), inserted: false, embedding_truncated: false, token_entropies: entropies(m.text),
      };
    }),
    ...g.offline.map((m, j) => {
      const final = inFinal.get(`offline:${j}`);
      return {
        id: `${g.promptId}-s${g.step}-off${j}`, source: 'offline', index: j, teacher: m.teacher ?? 'DeepSeek-R1', text: m.text, tokens: Math.ceil(m.text.length / 4),
        truncated: false, r_m: m.correct ? 1 : 0, verdict: m.correct ? 'correct' : 'wrong', verdict_reason: m.reason ?? 'match',
        extracted_answer: m.extracted ?? null, divergence: null, entropy_last: null, r_oger: null, r_total: final ? final.totalReward : null,
        advantage: final ? final.advantage : null, replaced: false, inserted: final !== undefined, embedding_truncated: false,
      };
    }),
  ];
  return { v: 1, type: 'group', run_id: runId, time: new Date(Date.UTC(2026, 0, 1, 0, g.step)).toISOString(), step: g.step, prompt_id: g.promptId, prompt: g.prompt, gold: g.gold, trajectories };
}

export function runStart(runId: string): Record<string, unknown> {
  return {
    v: 1, type: 'run_start', run_id: runId, time: '2026-01-01T00:00:00Z', variant: 'oger',
    config: { variant: 'oger', replace: 1, steps: 3, note: 'end-to-end fixture' }, model: 'tiny-qwen2-e2e',
    reward: { variant: 'oger', replace: 1, advantage: { std: 'sample', eps: 1e-6 } },
    encoder: { id: 'e2e-encoder', strategy: 'truncate', pooling: 'cls', max_length: 512 },
    verifier: { id: 'e2e0000000000000000000000000000000000000000000000000000000000000', name: 'default', path: null },
  };
}

export function stepEvent(runId: string, step: number): Record<string, unknown> {
  return {
    v: 1, type: 'step', run_id: runId, step, time: new Date(Date.UTC(2026, 0, 1, 0, step)).toISOString(),
    metrics: { 'actor/entropy': 1.2 - 0.1 * step, 'batch/solved': 0.5 + 0.1 * step, 'oger/reward_mean': 0.2 + 0.05 * step, 'oger/reward_max': 0.6, 'response_length/mean': 120 + 10 * step },
  };
}

export function writeEvents(path: string, events: Record<string, unknown>[]): void {
  writeFileSync(path, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
}

const think = (body: string, answer: string): string => `<think>\n${body}\n</think>\nThe final answer is $\\boxed{${answer}}$.`;

/** A small, ordinary OGER run: 3 steps × 2 prompts, 4 online + 2 teachers each. */
export function ordinaryRun(runId: string): Record<string, unknown>[] {
  const events: Record<string, unknown>[] = [runStart(runId)];
  for (let step = 0; step < 3; step += 1) {
    events.push(stepEvent(runId, step));
    events.push(groupEvent(runId, {
      step, promptId: `sum-${step}`, prompt: `What is ${17 + step} + ${25 + step}?`, gold: String(42 + 2 * step),
      online: [
        { text: think(`We add ${17 + step} and ${25 + step}.\n\nTens first: 30 + ${12 + 2 * step}.\n\nSo the sum is ${42 + 2 * step}.`, String(42 + 2 * step)), correct: true, extracted: String(42 + 2 * step) },
        { text: think(`Carry the one... I think it is ${41 + 2 * step}.`, String(41 + 2 * step)), correct: false, extracted: String(41 + 2 * step) },
        { text: think(`Count up from ${17 + step} by ${25 + step}. That lands on ${42 + 2 * step}.`, String(42 + 2 * step)), correct: true, extracted: String(42 + 2 * step) },
        { text: think('Too many steps; I lose track.', '7'), correct: false, extracted: '7' },
      ],
      offline: [
        { text: think(`${17 + step} + ${25 + step} = ${42 + 2 * step}.`, String(42 + 2 * step)), correct: true, teacher: 'DeepSeek-R1', extracted: String(42 + 2 * step) },
        { text: think(`Adding the units and the tens gives ${42 + 2 * step}.`, String(42 + 2 * step)), correct: true, teacher: 'Qwen3-32B', extracted: String(42 + 2 * step) },
      ],
    }));
    events.push(groupEvent(runId, {
      step, promptId: `half-${step}`, prompt: 'What is one half written as a decimal?', gold: '0.5',
      online: [
        { text: think('One half is 1 divided by 2.\n\nThat is 0.5.', '0.5'), correct: true, extracted: '0.5' },
        { text: think('Half of one is a fifth? No: 0.2.', '0.2'), correct: false, extracted: '0.2' },
        { text: think('1/2 = 0.50', '0.50'), correct: true, extracted: '0.50' },
        { text: think('Dividing gives 0.5.', '0.5'), correct: true, extracted: '0.5' },
      ],
      offline: [
        { text: think('1/2 = 0.5', '0.5'), correct: true, teacher: 'GLM-4.5-Air', extracted: '0.5' },
        { text: think('Half is 0.5.', '0.5'), correct: true, teacher: 'DeepSeek-R1', extracted: '0.5' },
      ],
    }));
  }
  events.push({ v: 1, type: 'run_end', run_id: runId, status: 'completed', reason: 'fixture written in full', step: 2 });
  return events;
}

/** The OXA warm start of warmStartRun: 8 optimizer steps logged every 2, so records at -9 … -1. */
export const WARM_START_STEPS = 8;

/**
 * ordinaryRun after an OXA warm start, as the trainer streams one (docs/protocol.md, `step`): the
 * warm start's records at steps -9, -7, …, -1 with `phase: "warm_start"` and only `sft/` metrics and
 * the on-policy entropy probe, then RL steps that log the on-policy entropy too.
 */
export function warmStartRun(runId: string): Record<string, unknown>[] {
  const [start, ...rest] = ordinaryRun(runId);
  const warm: Record<string, unknown>[] = [];
  for (let k = 0; k <= WARM_START_STEPS; k += 2) {
    const metrics: Record<string, number> = { 'actor/entropy_on_policy': 0.62 + 0.03 * k, 'sft/lr': 0.001 };
    if (k === 0) Object.assign(metrics, { 'sft/oxa_mu': 1.31, 'sft/oxa_sigma': 0.08, 'sft/oxa_promote_selected': 2000 });
    else Object.assign(metrics, { 'sft/loss': 1.1 - 0.1 * k, 'sft/nll': 1.1 - 0.1 * k, 'sft/unlikelihood': 0.02, 'sft/entropy_promote': 0.9 - 0.02 * k, 'sft/entropy_suppress': 0.35 - 0.02 * k });
    warm.push({ v: 1, type: 'step', run_id: runId, step: k - WARM_START_STEPS - 1, phase: 'warm_start', time: new Date(Date.UTC(2025, 11, 31, 23, 50 + k)).toISOString(), metrics });
  }
  const rl = rest.map((e) => (e.type === 'step' ? { ...e, metrics: { ...(e.metrics as Record<string, number>), 'actor/entropy_on_policy': 0.86 - 0.04 * (e.step as number) } } : e));
  return [start as Record<string, unknown>, ...warm, ...rl];
}

/**
 * Payloads a hostile model could emit. Each would, if it ran, leave a mark the test looks for:
 * a `__pwned` global in the webview or its parents, a changed document.title, a console line with
 * PWNED, or a navigation away. `literal` is a fragment that must be visible as text.
 */
export const HOSTILE_PAYLOADS: { name: string; text: string; literal: string }[] = [
  { name: 'script tag', text: `<script>window.__pwned='script';try{window.parent.__pwned='script'}catch(e){};document.title='PWNED script';console.log('PWNED script')</script>`, literal: '<script>' },
  { name: 'img onerror', text: `<img src=x onerror="window.__pwned='img';document.title='PWNED img';console.log('PWNED img')">`, literal: '<img src=x onerror=' },
  { name: 'svg onload', text: `<svg onload="window.__pwned='svg';console.log('PWNED svg')"></svg>`, literal: '<svg onload=' },
  { name: 'javascript link', text: `<a href="javascript:window.__pwned='link';console.log('PWNED link')">click me</a>`, literal: 'javascript:' },
  { name: 'css injection', text: `</style><style>body{display:none !important}*{visibility:hidden !important}</style>`, literal: '</style><style>body{display:none' },
  { name: 'latex href', text: String.raw`$\href{javascript:window.__pwned='latex'}{\text{see proof}}$ and \(\htmlData{x=1}{y}\)`, literal: String.raw`\href{javascript:` },
  { name: 'iframe srcdoc', text: `<iframe srcdoc="<script>parent.__pwned='srcdoc';console.log('PWNED srcdoc')</script>"></iframe>`, literal: '<iframe srcdoc=' },
  { name: 'markdown link', text: `[click](javascript:console.log('PWNED md')) ![x](x" onerror="console.log('PWNED mdimg'))`, literal: '[click](javascript:' },
  { name: 'bidi controls', text: 'access \u202Eresu_nimda\u202C level \u2066hidden\u2069 and \u200Fmark', literal: 'resu_nimda' },
];

/** One run whose every text field a renderer might touch carries the hostile payloads. */
export function hostileRun(runId: string): Record<string, unknown>[] {
  const all = HOSTILE_PAYLOADS.map((p) => p.text).join('\n\n');
  const online: MemberSpec[] = HOSTILE_PAYLOADS.slice(0, 4).map((p, i) => ({
    text: `<think>\n${p.text}\n\n${all}\n</think>\n${p.text} The final answer is $\\boxed{42}$.`,
    correct: i % 2 === 0,
    extracted: i === 0 ? `<img src=x onerror="console.log('PWNED extracted')">` : '42',
    reason: i === 1 ? `<script>console.log('PWNED reason')</script>` : null,
  }));
  const offline: MemberSpec[] = [
    { text: `<think>\n${all}\n</think>\n\\boxed{42}`, correct: true, teacher: `<img src=x onerror="console.log('PWNED teacher')">`, extracted: '42' },
    { text: `</think>\u202E${all}`, correct: true, teacher: 'Qwen3-32B', extracted: '42' },
  ];
  return [
    runStart(runId),
    stepEvent(runId, 0),
    groupEvent(runId, {
      step: 0, promptId: 'hostile-prompt',
      prompt: `Solve <b onmouseover="console.log('PWNED prompt')">this</b>: ${all}`,
      gold: `42<script>console.log('PWNED gold')</script>`,
      online, offline,
    }),
    { v: 1, type: 'run_end', run_id: runId, status: 'completed', reason: `<script>console.log('PWNED runend')</script>`, step: 0 },
  ];
}

/**
 * A run of real Sky-T1 responses in SkyThought's markers (../shared/data/traces): one group whose
 * first online member is the 153,700-character response that loops until it is cut off, beside
 * finished ones and two teachers. Each response was graded against its own AIME problem; the group
 * borrows the first one's prompt.
 */
/** The SkyThought run's one step: not one the ordinary run has, so its tree row is unambiguous. */
export const SKY_STEP = 24;

export function skyThoughtRun(runId: string): Record<string, unknown>[] {
  const traces = skyThoughtTraces();
  const pick = (i: number) => traces[i]!;
  const first = pick(21);
  const member = (i: number, divergence?: number, teacher?: string): MemberSpec => {
    const t = pick(i);
    return { text: t.text, correct: t.correct, extracted: t.pred, truncated: !t.finished, teacher, divergence };
  };
  return [
    runStart(runId),
    stepEvent(runId, SKY_STEP),
    groupEvent(runId, {
      step: SKY_STEP, promptId: `aime24-${first.idx}`, prompt: first.question, gold: first.gold,
      // online #1 is the closest to the teachers, so the teacher takes its slot
      online: [member(21, 0.45), member(0, 0.12), member(6, 0.3), member(2, 0.25), member(29, 0.5)],
      offline: [member(7, undefined, 'Sky-T1-32B'), member(9, undefined, 'QwQ-32B')],
    }),
    { v: 1, type: 'run_end', run_id: runId, status: 'completed', reason: 'fixture written in full', step: SKY_STEP },
  ];
}

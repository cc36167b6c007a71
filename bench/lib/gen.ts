// Cheap, deterministic generation of protocol events for benchmarks and fault tests: texts are
// cut from a pool of pre-built paragraphs (so generating gigabytes costs memcpy, not a PRNG call per
// word), while the reward fields come from the real core (rescoreGroup), so lints and advantages
// in the generated store are the ones a trainer would have logged.
import { rescoreGroup, type ScoredTrajectory } from '../../src/core/rescore';
import type { GroupEvent, RunStartEvent, StepEvent, TrajectoryEvent, Verdict } from '../../src/core/protocol';
import { rng } from './common';

const WORDS = (
  'the so we then thus hence therefore since because let suppose consider note that which gives equals ' +
  'solve compute check verify substitute factor expand simplify divide multiply add subtract square root ' +
  'sum product integer prime modulo remainder fraction ratio angle triangle circle radius area length ' +
  'polynomial root coefficient equation inequality function value case first second third wait maybe ' +
  'actually hmm alternatively answer final boxed result number digits even odd positive negative'
).split(' ');

/** Pseudo-words with a long tail, so FTS sees rare as well as common terms. */
function pseudoWords(r: () => number, n: number): string[] {
  const syl = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'ti', 'vo', 'ze', 'qua', 'pli', 'dor', 'fen', 'gar', 'hux'];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = 2 + Math.floor(r() * 3);
    let w = '';
    for (let j = 0; j < k; j++) w += syl[Math.floor(r() * syl.length)];
    out.push(w);
  }
  return out;
}

export class TextPool {
  readonly paragraphs: string[] = [];
  private readonly r: () => number;

  constructor(seed = 11, count = 2048) {
    this.r = rng(seed);
    const rare = pseudoWords(this.r, 4000);
    for (let p = 0; p < count; p++) {
      const words: string[] = [];
      const len = 40 + Math.floor(this.r() * 120);
      for (let i = 0; i < len; i++) {
        const u = this.r();
        if (u < 0.75) words.push(WORDS[Math.floor(this.r() ** 2 * WORDS.length)] as string);
        else if (u < 0.9) words.push(String(Math.floor(this.r() * 1000)));
        else if (u < 0.95) words.push(`$x^{${Math.floor(this.r() * 9)}} + ${Math.floor(this.r() * 99)}$`);
        else words.push(rare[Math.floor(this.r() ** 3 * rare.length)] as string);
      }
      this.paragraphs.push(`${words.join(' ')}.\n\n`);
    }
  }

  /** Realistic spread: ~98.5% between 1 and 8 KB, ~1.5% between 50 and 150 KB. */
  length(r: () => number): number {
    return r() < 0.015 ? 50_000 + Math.floor(r() * 100_000) : Math.floor(1000 * 8 ** r());
  }

  text(r: () => number, chars: number, answer: string, marker?: string): string {
    const parts: string[] = ['<think>\n'];
    let n = 8;
    if (marker) {
      parts.push(`${marker} `);
      n += marker.length + 1;
    }
    while (n < chars) {
      const p = this.paragraphs[Math.floor(r() * this.paragraphs.length)] as string;
      parts.push(p);
      n += p.length;
    }
    parts.push(`</think>\n\nThe answer is $\\boxed{${answer}}$.`);
    return parts.join('');
  }
}

export interface GenOptions {
  runId: string;
  steps: number;
  groupsPerStep: number;
  online: number;
  offline: number;
  seed?: number;
  /** when set, 1 in `rareEvery` trajectories carries this marker word (for selective searches) */
  rareMarker?: string;
  rareEvery?: number;
  /** token entropies on online members (stride 16) */
  tokenEntropies?: boolean;
}

export function runStart(runId: string, variant: RunStartEvent['variant'] = 'oger'): RunStartEvent {
  return {
    v: 1,
    type: 'run_start',
    run_id: runId,
    time: new Date(0).toISOString(),
    variant,
    config: { generated: true, group_size: 8 },
    model: 'bench/generated',
    reward: { variant, replace: 1, advantage: { std: 'sample', eps: 1e-6 } },
    encoder: { id: 'bench-encoder', strategy: 'truncate', pooling: 'cls', max_length: 512 },
    verifier: { id: 'bench-verifier', name: 'generated' },
  };
}

/** Yields one step's events at a time: its step event, then its groups. */
/** Where texts come from: TextPool (generated words) or TraceCutter (cuts of real traces, lib/traces.ts). */
export interface TextSource {
  length(r: () => number): number;
  text(r: () => number, chars: number, answer: string, marker?: string): string;
}

export function* generateSteps(o: GenOptions, pool: TextSource = new TextPool()): Generator<(StepEvent | GroupEvent)[]> {
  const r = rng(o.seed ?? 3);
  const settings = { variant: 'oger' as const, replace: 1, advantage: { std: 'sample' as const, eps: 1e-6 } };
  let serial = 0;
  for (let step = 0; step < o.steps; step++) {
    const events: (StepEvent | GroupEvent)[] = [];
    events.push({
      v: 1,
      type: 'step',
      run_id: o.runId,
      step,
      metrics: {
        'actor/entropy': 0.3 + r(),
        'critic/score/mean': r(),
        'response_length/mean': 1000 + r() * 3000,
        'actor/pg_loss': r() - 0.5,
      },
    });
    for (let g = 0; g < o.groupsPerStep; g++) {
      const promptId = `p${step}-${g}`;
      const answer = String(Math.floor(r() * 1000));
      const accuracy = r();
      const members: TrajectoryEvent[] = [];
      for (let i = 0; i < o.online + o.offline; i++) {
        const online = i < o.online;
        const idx = online ? i : i - o.online;
        const u = r();
        const verdict: Verdict = online ? (u < 0.01 ? 'error' : r() < accuracy ? 'correct' : 'wrong') : 'correct';
        const chars = pool.length(r);
        serial++;
        const marker = o.rareMarker && o.rareEvery && serial % o.rareEvery === 0 ? o.rareMarker : undefined;
        const text = pool.text(r, chars, verdict === 'correct' ? answer : String(Math.floor(r() * 1000)), marker);
        const t: TrajectoryEvent = {
          id: `${promptId}-${online ? 'on' : 'off'}${idx}`,
          source: online ? 'online' : 'offline',
          index: idx,
          teacher: online ? null : ['deepseek-r1', 'qwen3-32b', 'glm-4.5-air'][idx % 3] as string,
          text,
          tokens: Math.round(text.length / 3.6),
          truncated: chars > 100_000,
          r_m: verdict === 'correct' ? 1 : 0,
          verdict,
          verdict_reason: verdict === 'error' ? 'error: timeout' : null,
          extracted_answer: answer,
          divergence: online ? (r() < 0.02 ? 1 + r() * 0.1 : 0.05 + 0.9 * r() * r()) : null,
          entropy_last: online ? -Math.log(1 - r()) * 0.6 : null,
          replaced: false,
          inserted: online ? undefined : idx === 0,
          embedding_truncated: text.length > 2000,
        };
        if (online && o.tokenEntropies) {
          const n = Math.max(1, Math.floor(t.tokens as number / 16));
          const offsets: number[] = new Array(n);
          const values: number[] = new Array(n);
          const step16 = text.length / n;
          for (let k = 0; k < n; k++) {
            offsets[k] = Math.floor(k * step16);
            values[k] = Math.round(r() * 3000) / 1000;
          }
          t.token_entropies = { offsets, values, stride: 16 };
        }
        members.push(t);
      }
      // The logged rewards are the core's own, so the store's lints and aggregates are realistic.
      const scored = rescoreGroup(members as ScoredTrajectory[], settings);
      scored.forEach((s, k) => {
        const t = members[k] as TrajectoryEvent;
        t.r_oger = s.source === 'online' ? s.rOger : null;
        t.r_total = s.rTotal;
        t.advantage = s.advantage;
        t.replaced = s.replaced;
      });
      events.push({
        v: 1,
        type: 'group',
        run_id: o.runId,
        step,
        prompt_id: promptId,
        prompt: `Problem ${promptId}: find the value of $x$ such that ${answer} is reached. Let's think step by step.`,
        gold: answer,
        trajectories: members,
      });
    }
    yield events;
  }
}

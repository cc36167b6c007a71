// Sample data for the Compare Runs page outside VS Code (the browser test and previews): a small
// variant study's runs, built through the same core functions the host uses, plus hostile text
// where a prompt preview, a run id and a member's answer would be.
import { buildRows, compareCurves, tableView, toCompareMember, DEFAULT_FILTER, DEFAULT_SORT, type ComparePromptView, type CompareRunView, type RunCells } from '../../src/core/compare';
import { diffSettings } from '../../src/core/compareConfig';
import type { HostToCompare } from '../../src/core/compareMessages';
import { HOSTILE_TEXT, sampleGroup, sampleSeries } from './ui';

export const SAMPLE_COMPARE_RUNS = ['study-grpo-s1', 'study-luffy-s1', 'study-oger-s1'] as const;
/** a prompt whose preview carries markup and bidi controls: it must show as text */
export const HOSTILE_PROMPT_ID = 'p-hostile';

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}

export function sampleCompare(steps = 300, prompts = 40): Extract<HostToCompare, { type: 'compare' }> {
  const variants = ['grpo', 'luffy', 'oger'] as const;
  const series = SAMPLE_COMPARE_RUNS.map((_, i) => sampleSeries(steps - i * 20, 3 + i));
  const runs: CompareRunView[] = SAMPLE_COMPARE_RUNS.map((runId, i) => ({
    runId, variant: variants[i] as CompareRunView['variant'], model: 'tiny-qwen2', status: 'completed', stepCount: (series[i] ?? []).length,
    lastStep: (series[i] ?? []).at(-1)?.step ?? null, entropyKey: 'actor/entropy',
  }));
  const perRun: RunCells[][] = runs.map((r, i) => {
    const rand = rng(11 + i);
    const out: RunCells[] = [];
    for (let p = 0; p < prompts; p++) {
      if (i === 1 && p % 7 === 3) continue; // the LUFFY run never drew these prompts
      const n = i === 1 ? 7 : 8;
      const correct = Math.min(n, Math.floor(rand() * (n + 1) * (0.6 + 0.2 * i)));
      const promptId = p === 0 ? HOSTILE_PROMPT_ID : `p${p}`;
      const preview = p === 0 ? HOSTILE_TEXT.replace(/\s+/g, ' ').slice(0, 160) : `What is ${100 + p} + ${37 * p}? Put the answer in \\boxed{}.`;
      out.push({ promptId, preview, cell: { groupId: 1000 * (i + 1) + p, step: r.lastStep ?? 0, n, correct, meanROger: correct ? 0.1 + 0.3 * rand() : null, tokenEntropy: 0.2 + rand(), hLast: rand() } });
    }
    return out;
  });
  const rows = buildRows(perRun);
  const config = diffSettings(runs.map((r, i) => ({
    variant: r.variant, model: r.model, config: { lr: i === 2 ? 5e-5 : 1e-4, batch_prompts: 4, rollout_n: 8, seed: 1 },
    reward: { variant: r.variant, replace: i === 0 ? 0 : 1, advantage: { std: 'sample', eps: 1e-6 } },
    encoder: i === 0 ? null : { id: 'hashed-ngrams-256', strategy: 'truncate' }, verifier: { id: 'f'.repeat(64), name: 'math-verify' },
  })));
  return {
    type: 'compare', runs, curves: compareCurves(series, runs.map((r) => r.entropyKey)), config,
    table: tableView(rows, { kind: 'last' }, runs.map((r) => r.lastStep), DEFAULT_SORT, DEFAULT_FILTER, runs.length), selectedStep: null,
  };
}

/** One prompt's groups side by side, as the host sends them (sampleGroup's members cut by toCompareMember). */
export function sampleComparePrompt(promptId: string): Extract<HostToCompare, { type: 'prompt' }> {
  const groups = SAMPLE_COMPARE_RUNS.map((runId, i) => {
    const g = sampleGroup({ groupId: 1000 * (i + 1), seed: 5 + i, chars: 600, online: i === 1 ? 7 : 8, offline: i === 0 ? 0 : i === 1 ? 1 : 3, hostile: i === 2 });
    return { groupId: g.groupId, runId, step: 280 - 20 * i, accuracy: g.accuracy, meanROger: 0.21, zeroStd: i === 0, members: g.trajectories.map(toCompareMember) };
  });
  const prompt: ComparePromptView = { promptId, prompt: 'What is 100 + 37? Put the answer in \\boxed{}.', gold: '137', groups };
  return { type: 'prompt', prompt };
}

// TRL GRPOTrainer's log_completions output: `completions/completions_{step:05d}.parquet` with
// columns step, prompt, completion, one numeric column per reward function, and advantage.
// Imported as a `grpo` run: rows grouped by prompt within a step, R = sum of the reward functions
// (TRL's default weights are 1), verdict = R > 0, the logged advantage kept. TRL normalises with
// torch's sample std and eps 1e-4, which is what the run's reward settings say.
import { readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import type { RewardSettings } from '../../core/protocol';
import type { RunStore } from '../store/store';
import type { MalformedInput } from '../store/writer';
import { asText, groupRows, importRunStart, ImportWriter, plain, stepMetrics, type ImportSummary, type SourceRow } from './common';
import type { ImportOptions } from './verl';

export const TRL_SETTINGS: RewardSettings = { variant: 'grpo', replace: 0, advantage: { std: 'sample', eps: 1e-4 } };
const KNOWN = new Set(['step', 'prompt', 'completion', 'advantage']);

/** The completions parquet files of a TRL output dir (or of its completions/ folder), in step order. */
export async function trlStepFiles(dir: string): Promise<{ step: number; path: string }[]> {
  const folder = existsSync(join(dir, 'completions')) ? join(dir, 'completions') : dir;
  const names = await readdir(folder);
  return names
    .map((n) => /^completions_(\d+)\.parquet$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ step: Number(m[1]), path: join(folder, m[0]) }))
    .sort((a, b) => a.step - b.step);
}

const finite = (v: unknown): number | null => {
  const x = typeof v === 'bigint' ? Number(v) : v;
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
};

/** Rows of one parquet file; a row without prompt/completion or with no reward at all is malformed. */
export function trlRows(objects: Record<string, unknown>[], fileStep: number): { rows: SourceRow[]; malformed: MalformedInput[]; rewardColumns: string[] } {
  const rows: SourceRow[] = [];
  const malformed: MalformedInput[] = [];
  const columns = new Set<string>();
  for (const o of objects) for (const k of Object.keys(o)) columns.add(k);
  // Reward functions are the numeric columns TRL adds beside its own; any other column is kept as an extra field.
  const rewardColumns = [...columns].filter((c) => !KNOWN.has(c) && objects.some((o) => typeof o[c] === 'number' || typeof o[c] === 'bigint'));
  objects.forEach((o, i) => {
    const at = { line: i + 1, byteOffset: 0 };
    const step = finite(o.step);
    if (o.prompt === undefined || o.prompt === null || typeof o.completion !== 'string') {
      malformed.push({ ...at, reason: 'row needs prompt and completion', excerpt: JSON.stringify(plain(o)).slice(0, 200) });
      return;
    }
    const rewards: Record<string, number | null> = {};
    let total = 0;
    let any = false;
    for (const c of rewardColumns) {
      const v = finite(o[c]);
      rewards[c] = v; // None (not applicable) stays null, as TRL's reward functions mean it
      if (v !== null) {
        total += v;
        any = true;
      }
    }
    if (!any) {
      malformed.push({ ...at, reason: `row has no reward value (columns ${rewardColumns.join(', ') || 'none'})`, excerpt: asText(o.completion).slice(0, 200) });
      return;
    }
    const extra: Record<string, unknown> = { rewards };
    for (const [k, v] of Object.entries(o)) if (!KNOWN.has(k) && !rewardColumns.includes(k)) extra[k] = plain(v);
    rows.push({
      ...at,
      step: step !== null && Number.isInteger(step) && step >= 0 ? step : fileStep,
      prompt: asText(plain(o.prompt)),
      gold: asText(plain(o.solution ?? o.answer ?? '')),
      response: o.completion,
      reward: total,
      advantage: finite(o.advantage),
      extra,
    });
  });
  return { rows, malformed, rewardColumns };
}

export async function importTrl(store: RunStore, dir: string, options: ImportOptions = {}): Promise<ImportSummary> {
  const abs = resolve(dir);
  const runId = options.runId ?? `trl-${basename(abs)}`;
  const files = await trlStepFiles(abs);
  if (files.length === 0) throw new Error(`${dir} holds no TRL completions files (completions/completions_{step:05d}.parquet)`);
  const writer = new ImportWriter(store, 'trl', runId, importRunStart(runId, 'trl', abs, TRL_SETTINGS, options.model ?? null));
  for (const f of files) {
    if (await writer.alreadyImported(f.path)) {
      writer.summary.skippedFiles++;
      continue;
    }
    let objects: Record<string, unknown>[];
    try {
      objects = (await parquetReadObjects({ file: await asyncBufferFromFile(f.path), compressors })) as Record<string, unknown>[];
    } catch (e) {
      await writer.writeFile(f.path, [], [{ line: 1, byteOffset: 0, reason: `unreadable parquet: ${(e as Error).message}`, excerpt: '' }], 0);
      continue;
    }
    const { rows, malformed } = trlRows(objects, f.step);
    writer.summary.rows += rows.length;
    const groups = groupRows(runId, 'trl', rows, TRL_SETTINGS);
    const steps = [...new Set(rows.map((r) => r.step))];
    await writer.writeFile(
      f.path,
      [
        ...groups.map((g) => ({ line: g.at.line, byteOffset: 0, event: g.event })),
        ...steps.map((s) => ({ line: objects.length, byteOffset: 0, event: stepMetrics(runId, s, rows) })),
      ],
      malformed,
      objects.length,
    );
  }
  return writer.summary;
}

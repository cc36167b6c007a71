// verl's trainer.rollout_data_dir: one `{step}.jsonl` per step, one line per response with
// input, output, gts, score, step and every key of reward_extra_info. Imported as a `grpo` run:
// rows grouped by prompt within a step, verdict = score > 0, advantages recomputed (verl does not
// dump them) with sample std and eps 1e-6 as verl's GRPO does.
import { readdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { RewardSettings } from '../../core/protocol';
import { excerptOf } from '../ingest/lines';
import type { RunStore } from '../store/store';
import type { MalformedInput } from '../store/writer';
import { asText, groupRows, importRunStart, ImportWriter, parsePythonJson, plain, stepMetrics, type ImportSummary, type SourceRow } from './common';

export const VERL_SETTINGS: RewardSettings = { variant: 'grpo', replace: 0, advantage: { std: 'sample', eps: 1e-6 } };
const KNOWN = new Set(['input', 'output', 'gts', 'score', 'step']);

export interface ImportOptions {
  runId?: string;
  model?: string;
}

/** The step files of a rollout dir, in step order. */
export async function verlStepFiles(dir: string): Promise<{ step: number; path: string }[]> {
  const names = await readdir(dir);
  return names
    .map((n) => /^(\d+)\.jsonl$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ step: Number(m[1]), path: join(dir, m[0]) }))
    .sort((a, b) => a.step - b.step);
}

function scoreOf(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  // A custom compute_score may return a dict with `score`.
  if (v && typeof v === 'object' && typeof (v as { score?: unknown }).score === 'number') return (v as { score: number }).score;
  return null;
}

/** Parses one step file into rows and malformed lines (bad JSON, missing fields), by line number. */
export function parseVerlStep(content: Buffer, fileStep: number): { rows: SourceRow[]; malformed: MalformedInput[]; lines: number } {
  const rows: SourceRow[] = [];
  const malformed: MalformedInput[] = [];
  let offset = 0;
  let line = 0;
  while (offset < content.length) {
    let nl = content.indexOf(0x0a, offset);
    if (nl < 0) nl = content.length;
    line++;
    const bytes = content.subarray(offset, nl);
    const at = { line, byteOffset: offset };
    offset = nl + 1;
    const text = bytes.toString('utf8').trim();
    if (text.length === 0) continue; // verl files end with a newline; blank lines carry nothing
    let obj: unknown;
    try {
      obj = parsePythonJson(text);
    } catch (e) {
      malformed.push({ ...at, reason: `invalid JSON: ${(e as Error).message}`, excerpt: excerptOf(bytes) });
      continue;
    }
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) {
      malformed.push({ ...at, reason: 'not a JSON object', excerpt: excerptOf(bytes) });
      continue;
    }
    const o = obj as Record<string, unknown>;
    const score = scoreOf(o.score);
    if (typeof o.output !== 'string' || o.input === undefined || score === null) {
      malformed.push({ ...at, reason: 'a verl rollout line needs input, output (string) and a numeric score', excerpt: excerptOf(bytes) });
      continue;
    }
    const step = typeof o.step === 'number' && Number.isInteger(o.step) && o.step >= 0 ? o.step : fileStep;
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) if (!KNOWN.has(k)) extra[k] = plain(v);
    if (typeof o.score === 'object') extra.score_detail = plain(o.score);
    rows.push({ ...at, step, prompt: asText(o.input), gold: asText(o.gts), response: o.output, reward: score, advantage: null, extra });
  }
  return { rows, malformed, lines: line };
}

export async function importVerl(store: RunStore, dir: string, options: ImportOptions = {}): Promise<ImportSummary> {
  const abs = resolve(dir);
  const runId = options.runId ?? `verl-${basename(abs)}`;
  const files = await verlStepFiles(abs);
  if (files.length === 0) throw new Error(`${dir} holds no verl step files ({step}.jsonl)`);
  const writer = new ImportWriter(store, 'verl', runId, importRunStart(runId, 'verl', abs, VERL_SETTINGS, options.model ?? null));
  for (const f of files) {
    if (await writer.alreadyImported(f.path)) {
      writer.summary.skippedFiles++;
      continue;
    }
    const { rows, malformed, lines } = parseVerlStep(await readFile(f.path), f.step);
    writer.summary.rows += rows.length;
    const groups = groupRows(runId, 'verl', rows, VERL_SETTINGS);
    const steps = [...new Set(rows.map((r) => r.step))];
    await writer.writeFile(
      f.path,
      [
        ...groups.map((g) => ({ line: g.at.line, byteOffset: g.at.byteOffset, event: g.event })),
        ...steps.map((s) => ({ line: lines, byteOffset: 0, event: stepMetrics(runId, s, rows) })),
      ],
      malformed,
      lines,
    );
  }
  return writer.summary;
}

// verl's trainer.rollout_data_dir: one `{step}.jsonl` per step, one line per response, written by
// verl's own _dump_generations. The v1 trainer (verl 0.9's default) writes input, output, gts,
// score, step and uid, where uid is its TransferQueue key {uid}_{session}_{index}: rows are grouped
// by that uid (one dataset prompt; the same prompt text drawn twice is two groups) and ordered by
// session. Older dumps without a uid are grouped by prompt text. Every other column is kept.
// Imported as a `grpo` run with advantages recomputed (verl does not dump them) with sample std
// and eps 1e-6, as verl's GRPO does, and verdict = score > 0, unless the rows carry the Reward Lens
// trainer's columns (docs/scale-out.md): then its verdict, reason and extracted answer are kept
// (a verifier error stays `error`), and so are its D, H_last, R_OGER, R_total, advantage and teachers.
import { readdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { RewardSettings, TrajectoryEvent, Verdict } from '../../core/protocol';
import { excerptOf } from '../ingest/lines';
import type { RunStore } from '../store/store';
import type { MalformedInput } from '../store/writer';
import { asText, groupRows, importRunStart, ImportWriter, parsePythonJson, plain, stepMetrics, type ImportSummary, type SourceRow } from './common';

export const VERL_SETTINGS: RewardSettings = { variant: 'grpo', replace: 0, advantage: { std: 'sample', eps: 1e-6 } };
const KNOWN = new Set(['input', 'output', 'gts', 'score', 'step']);
const VERDICTS: ReadonlySet<string> = new Set(['correct', 'wrong', 'error']);
const V1_KEY = /^(.+)_(\d+)_(\d+)$/;
export const VERL_LENS_VERIFIER = 'Reward Lens verdicts in the verl dump';

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
    const lens = lensFields(o);
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) if (!KNOWN.has(k) && !lens.used.has(k)) extra[k] = plain(v);
    if (typeof o.score === 'object') extra.score_detail = plain(o.score);
    const row: SourceRow = { ...at, step, prompt: asText(o.input), gold: asText(o.gts), response: o.output, reward: lens.reward ?? score, advantage: lens.advantage, extra };
    const key = typeof o.uid === 'string' && o.uid.length > 0 ? V1_KEY.exec(o.uid) : null;
    if (key) {
      row.groupKey = `uid:${key[1]}`;
      row.order = Number(key[2]) * 1e6 + Number(key[3]);
    } else if (typeof o.uid === 'string' && o.uid.length > 0) {
      row.groupKey = `uid:${o.uid}`;
    }
    if (lens.fields) row.fields = lens.fields;
    rows.push(row);
  }
  return { rows, malformed, lines: line };
}

function finiteOrNull(v: unknown): number | null | undefined {
  if (v === null) return null;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** The protocol fields a row of the Reward Lens trainer's dump carries, and which columns they used. */
function lensFields(o: Record<string, unknown>): { fields: Partial<TrajectoryEvent> | null; used: Set<string>; reward: number | null; advantage: number | null } {
  const used = new Set<string>();
  if (typeof o.verdict !== 'string' || !VERDICTS.has(o.verdict)) return { fields: null, used, reward: null, advantage: null };
  const verdict = o.verdict as Verdict;
  const fields: Partial<TrajectoryEvent> = { verdict, r_m: verdict === 'correct' ? 1 : 0 };
  used.add('verdict');
  for (const k of ['verdict_reason', 'extracted_answer'] as const) {
    const v = o[k];
    if (v === null || typeof v === 'string') {
      fields[k] = v;
      used.add(k);
    }
  }
  if (!('verdict_reason' in fields)) fields.verdict_reason = null;
  for (const k of ['divergence', 'r_oger', 'r_total'] as const) {
    const v = finiteOrNull(o[k]);
    if (v !== undefined) {
      fields[k] = v;
      used.add(k);
    }
  }
  const h = finiteOrNull(o.entropy_last);
  if (h !== undefined && (h === null || h >= 0)) {
    fields.entropy_last = h;
    used.add('entropy_last');
  }
  if (o.source === 'online' || o.source === 'offline') {
    fields.source = o.source;
    used.add('source');
    if (o.source === 'offline') fields.inserted = true;
  }
  if (o.teacher === null || typeof o.teacher === 'string') {
    fields.teacher = o.teacher;
    used.add('teacher');
  }
  const advantage = finiteOrNull(o.advantage);
  if (advantage !== undefined) used.add('advantage');
  const reward = typeof fields.r_total === 'number' ? fields.r_total : null;
  return { fields, used, reward, advantage: advantage ?? null };
}

export async function importVerl(store: RunStore, dir: string, options: ImportOptions = {}): Promise<ImportSummary> {
  const abs = resolve(dir);
  const runId = options.runId ?? `verl-${basename(abs)}`;
  const files = await verlStepFiles(abs);
  if (files.length === 0) throw new Error(`${dir} holds no verl step files ({step}.jsonl)`);
  // The run's verifier identity says where its verdicts came from: the first step file tells.
  const first = parseVerlStep(await readFile((files[0] as { path: string }).path), (files[0] as { step: number }).step);
  const verifierName = first.rows.some((r) => r.fields?.verdict !== undefined) ? VERL_LENS_VERIFIER : undefined;
  const writer = new ImportWriter(store, 'verl', runId, importRunStart(runId, 'verl', abs, VERL_SETTINGS, options.model ?? null, verifierName));
  for (const [n, f] of files.entries()) {
    if (await writer.alreadyImported(f.path)) {
      writer.summary.skippedFiles++;
      continue;
    }
    const { rows, malformed, lines } = n === 0 ? first : parseVerlStep(await readFile(f.path), f.step);
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

// What the verl and TRL importers share: rows of one step grouped by prompt and turned into
// protocol-v1 group events, checked by the same line parser as events.jsonl, and written one
// source file per transaction with that file's offset, so an import resumes file by file and a
// re-import changes nothing.
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { GroupEvent, RewardSettings, RolloutEvent, RunStartEvent, StepEvent, TrajectoryEvent } from '../../core/protocol';
import { groupAdvantages } from '../../core/reward';
import { parseLine } from '../ingest/lines';
import { sha256Hex } from '../store/codec';
import type { RunStore } from '../store/store';
import type { MalformedLine, StoreChange } from '../store/types';
import { TRAJECTORY_KEYS, type IngestLine, type MalformedInput } from '../store/writer';

/** One response row of a source file, already reduced to what a trajectory needs. */
export interface SourceRow {
  /** 1-based row/line number in its file */
  line: number;
  byteOffset: number;
  step: number;
  prompt: string;
  gold: string;
  response: string;
  /** the reward the trainer used (verl score, TRL sum of reward functions) */
  reward: number;
  /** the advantage the trainer logged, when it did */
  advantage: number | null;
  /** source columns with no protocol field: kept on the trajectory */
  extra: Record<string, unknown>;
  /** what groups rows within a step (verl's uid); absent: the prompt text */
  groupKey?: string;
  /** position in its group (verl's session); absent: file order */
  order?: number;
  /** protocol fields the source wrote itself (verdicts of the Reward Lens verl trainer): they win over the ones derived from the reward */
  fields?: Partial<TrajectoryEvent>;
}

export interface ImportSummary {
  source: 'verl' | 'trl';
  runId: string;
  files: number;
  /** files already imported whole (their stored offset is their size), not read again */
  skippedFiles: number;
  rows: number;
  events: number;
  groups: number;
  trajectories: number;
  duplicates: number;
  malformed: MalformedLine[];
  changes: StoreChange[];
}

export function promptIdOf(prompt: string): string {
  return sha256Hex(prompt).slice(0, 16);
}

/** Unknown source columns become extra trajectory fields; a name that a protocol field owns gets a prefix. */
export function extraFields(prefix: string, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(extra)) out[TRAJECTORY_KEYS.has(k) ? `${prefix}_${k}` : k] = v;
  return out;
}

/** Rows of one step grouped by prompt, or by `groupKey` where the source has one (first appearance order), as group events. */
export function groupRows(runId: string, source: string, rows: readonly SourceRow[], settings: RewardSettings): { at: SourceRow; event: GroupEvent }[] {
  const byPrompt = new Map<string, SourceRow[]>();
  for (const r of rows) {
    const key = `${r.step}\u0000${r.groupKey ?? r.prompt}`;
    const list = byPrompt.get(key) ?? [];
    list.push(r);
    byPrompt.set(key, list);
  }
  const out: { at: SourceRow; event: GroupEvent }[] = [];
  // Two groups of one step with the same prompt (verl drew it twice): the later ones get a suffix,
  // since a group is keyed by (run, step, prompt_id).
  const seenPrompt = new Map<string, number>();
  for (const unordered of byPrompt.values()) {
    const members = unordered.some((m) => m.order !== undefined) ? [...unordered].sort((a, b) => (a.order ?? 0) - (b.order ?? 0)) : unordered;
    const first = members[0] as SourceRow;
    const base = promptIdOf(first.prompt);
    const seenKey = `${first.step}\u0000${base}`;
    const nth = (seenPrompt.get(seenKey) ?? 0) + 1;
    seenPrompt.set(seenKey, nth);
    const promptId = nth === 1 ? base : `${base}~${nth}`;
    const logged = members.every((m) => m.advantage !== null);
    // verl's dump has no advantages: recompute GRPO's from the rewards with the run's settings.
    const advantages = logged ? members.map((m) => m.advantage as number) : groupAdvantages(members.map((m) => m.reward), settings.advantage);
    const perSource = { online: 0, offline: 0 };
    const trajectories: TrajectoryEvent[] = members.map((m, k) => {
      const src = m.fields?.source === 'offline' ? 'offline' : 'online';
      const index = perSource[src]++;
      return {
        id: `${source}-s${m.step}-${promptId}-${k}`,
        source: 'online',
        index: k,
        text: m.response,
        r_m: m.reward > 0 ? 1 : 0,
        verdict: m.reward > 0 ? 'correct' : 'wrong',
        verdict_reason: `${source} reward ${m.reward}`,
        r_total: m.reward,
        advantage: advantages[k] ?? null,
        replaced: false,
        ...extraFields(source, m.extra),
        ...(logged ? {} : { advantage_recomputed: true }),
        ...(m.fields ?? {}),
        ...(m.fields?.source ? { index } : {}),
      };
    });
    out.push({
      at: first,
      event: { v: 1, type: 'group', run_id: runId, step: first.step, prompt_id: promptId, prompt: first.prompt, gold: first.gold, trajectories },
    });
  }
  return out;
}

export function stepMetrics(runId: string, step: number, rows: readonly SourceRow[]): StepEvent {
  const rewards = rows.filter((r) => r.step === step).map((r) => r.reward);
  const mean = rewards.reduce((s, x) => s + x, 0) / Math.max(1, rewards.length);
  return {
    v: 1, type: 'step', run_id: runId, step,
    metrics: {
      'critic/score/mean': rewards.length ? mean : null,
      'critic/score/max': rewards.length ? Math.max(...rewards) : null,
      'critic/score/min': rewards.length ? Math.min(...rewards) : null,
      'batch/solved': rewards.length ? rewards.filter((r) => r > 0).length / rewards.length : null,
    },
  };
}

export function importRunStart(runId: string, source: 'verl' | 'trl', dir: string, settings: RewardSettings, model: string | null, verifierName = `${source} logged reward > 0`): RunStartEvent {
  return {
    v: 1, type: 'run_start', run_id: runId, time: new Date().toISOString(), variant: 'grpo',
    config: { imported_from: source, source_dir: dir }, model: model ?? 'unknown', reward: settings, encoder: null,
    // No verifier source exists for an import: its identity is the rule that turns rewards into verdicts.
    verifier: { id: sha256Hex(verifierName), name: verifierName, path: null },
  };
}

export class ImportWriter {
  private runStartPending: RunStartEvent | null;
  readonly summary: ImportSummary;
  private readonly changes = new Map<string, StoreChange>();

  constructor(private readonly store: RunStore, source: 'verl' | 'trl', runId: string, runStart: RunStartEvent) {
    this.runStartPending = runStart;
    this.summary = { source, runId, files: 0, skippedFiles: 0, rows: 0, events: 0, groups: 0, trajectories: 0, duplicates: 0, malformed: [], changes: [] };
  }

  /** True when the file was imported whole before (resumed imports skip it). */
  async alreadyImported(path: string): Promise<boolean> {
    const size = (await stat(path)).size;
    const { byteOffset } = await this.store.ingestOffset(resolve(path));
    return byteOffset === size && size > 0;
  }

  /** Validates the converted events exactly as ingest validates lines, and writes them with the source file's offset. */
  async writeFile(path: string, events: { line: number; byteOffset: number; event: RolloutEvent }[], malformed: MalformedInput[], endLine: number): Promise<void> {
    const file = resolve(path);
    const size = (await stat(path)).size;
    const checked: IngestLine[] = [];
    const bad = [...malformed];
    if (this.runStartPending) {
      events.unshift({ line: 0, byteOffset: 0, event: this.runStartPending });
      this.runStartPending = null;
    }
    for (const e of events) {
      const r = parseLine(Buffer.from(JSON.stringify(e.event), 'utf8'));
      if (r.ok) checked.push({ line: e.line, byteOffset: e.byteOffset, event: r.event });
      else bad.push({ line: e.line, byteOffset: e.byteOffset, reason: `converted event is invalid: ${r.reason}`, excerpt: r.excerpt });
    }
    const res = await this.store.writeBatch({ file, events: checked, malformed: bad, endOffset: size, endLine });
    this.summary.files++;
    this.summary.events += res.events;
    this.summary.groups += res.groups;
    this.summary.trajectories += res.trajectories;
    this.summary.duplicates += res.duplicates;
    this.summary.malformed.push(...res.malformed.map((m) => ({ file, ...m })));
    for (const c of res.changes) {
      const prev = this.changes.get(c.runId);
      if (!prev) this.changes.set(c.runId, { ...c, steps: [...c.steps] });
      else {
        prev.steps = [...new Set([...prev.steps, ...c.steps])].sort((a, b) => a - b);
        prev.groups += c.groups;
        prev.trajectories += c.trajectories;
        prev.runStarted ||= c.runStarted;
      }
    }
    this.summary.changes = [...this.changes.values()];
  }
}

/** JSON.parse that also accepts the NaN / Infinity tokens Python's json.dumps writes (as null). */
export function parsePythonJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch (first) {
    let out = '';
    let inString = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i] as string;
      if (inString) {
        out += c;
        if (c === '\\') out += line[++i] ?? '';
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') {
        inString = true;
        out += c;
      } else if (line.startsWith('NaN', i)) {
        out += 'null';
        i += 2;
      } else if (line.startsWith('-Infinity', i)) {
        out += 'null';
        i += 8;
      } else if (line.startsWith('Infinity', i)) {
        out += 'null';
        i += 7;
      } else {
        out += c;
      }
    }
    try {
      return JSON.parse(out);
    } catch {
      throw first;
    }
  }
}

export function asText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  return JSON.stringify(v);
}

/** Parquet INT64 columns arrive as bigint; JSON (and the store) want numbers. */
export function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (typeof v === 'number' && !Number.isFinite(v)) return null;
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

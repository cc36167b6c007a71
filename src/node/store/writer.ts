// Writes parsed protocol events into the store: one call = one transaction that also records the
// malformed lines it covers and the file offset after them, so a crash at any moment leaves the
// store either before or after the whole batch, never in between.
import { lintGroup, type Lint, type LintKind } from '../../core/rescore';
import type { GroupEvent, RewardSettings, RolloutEvent, RunEndEvent, RunStartEvent, StepEvent, TrajectoryEvent } from '../../core/protocol';
import { GROUP_AGGREGATES, groupAggregates, onlineRepetition, STEP_STATS_UPSERT, StepSums, type AggregateValues } from './aggregates';
import { float32Blob, packText, uint32Blob, type PackedText } from './codec';
import { packMembers } from './columns';
import { insertMany, placeholders, type Db, type SqlValue } from './sqlite';
import type { StoreChange } from './types';
import { detectFormat } from '../../core/reasoning';
import { repetitionMessage } from '../../core/repetition';

export interface IngestLine {
  /** 1-based line number */
  line: number;
  byteOffset: number;
  event: RolloutEvent;
  /**
   * A group's compressed texts and sums, made by prepareGroup() ahead of the write (ingest does it
   * as it parses, while SQLite writes the batch before): the transaction then only inserts.
   */
  prepared?: PreparedGroup;
}

export interface MalformedInput {
  line: number;
  byteOffset: number;
  reason: string;
  excerpt: string;
}

export interface IngestBatch {
  /** the key under which the offset is remembered (an absolute path for files) */
  file: string;
  events: IngestLine[];
  malformed: MalformedInput[];
  /** the byte offset and line count after the last line this batch covers */
  endOffset: number;
  endLine: number;
}

export interface BatchResult {
  events: number;
  groups: number;
  trajectories: number;
  /** events already in the store (a replay), skipped */
  duplicates: number;
  /** the batch's malformed lines plus those only found while writing (e.g. a reused trajectory id) */
  malformed: MalformedInput[];
  changes: StoreChange[];
}

export const DEFAULT_REWARD: RewardSettings = { variant: 'oger', replace: 1, advantage: { std: 'sample', eps: 1e-6 } };

export const LINT_BITS: Record<LintKind, number> = {
  'offline-negative-advantage': 1,
  'zero-std-group': 2,
  'divergence-above-1': 4,
  'embedding-truncated': 8,
  'verifier-error': 16,
  'runaway-repetition': 32,
};

const RUN_START_KEYS = new Set(['v', 'type', 'run_id', 'time', 'variant', 'config', 'model', 'reward', 'encoder', 'verifier']);
const RUN_END_KEYS = new Set(['v', 'type', 'run_id', 'time', 'status', 'reason', 'step']);
const STEP_KEYS = new Set(['v', 'type', 'run_id', 'time', 'step', 'metrics']);
export const GROUP_KEYS = new Set(['v', 'type', 'run_id', 'time', 'step', 'prompt_id', 'prompt', 'gold', 'trajectories']);
const TOKEN_KEYS = new Set(['offsets', 'values', 'stride']);

/** Optional trajectory fields, in bit order of the `present` mask (absent and null differ). */
export const OPTIONAL_TRAJECTORY_FIELDS = [
  'index', 'teacher', 'tokens', 'truncated', 'verdict_reason', 'extracted_answer', 'divergence',
  'entropy_last', 'r_oger', 'r_total', 'advantage', 'inserted', 'embedding_truncated', 'token_entropies',
] as const;
export const TRAJECTORY_KEYS = new Set<string>(['id', 'source', 'text', 'r_m', 'verdict', 'replaced', ...OPTIONAL_TRAJECTORY_FIELDS]);

export function extraOf(obj: Record<string, unknown>, known: Set<string>): string | null {
  let extra: Record<string, unknown> | null = null;
  for (const k of Object.keys(obj)) {
    if (!known.has(k)) (extra ??= {})[k] = obj[k];
  }
  return extra ? JSON.stringify(extra) : null;
}

const bool = (b: boolean | undefined): number | null => (b === undefined ? null : b ? 1 : 0);
const num = (x: number | null | undefined): number | null => (typeof x === 'number' ? x : null);

export function promptPreview(prompt: string): string {
  const flat = prompt.replace(/\s+/g, ' ').trim();
  return flat.length > 160 ? flat.slice(0, 159) + '…' : flat;
}

interface PendingGroup {
  at: IngestLine;
  event: GroupEvent;
}

/** The settings-free, CPU-heavy part of storing a group: compressed texts, blobs, sums, row values. */
export interface PreparedGroup {
  prompt: PackedText;
  preview: string;
  extra: string | null;
  aggregates: AggregateValues;
  /** per trajectory, in event order: the row values after its keys (see TRAJECTORY_COLUMNS) */
  rows: SqlValue[][];
  /** per trajectory: [stride, offsets blob, entropies blob, extra] or null */
  tokens: (SqlValue[] | null)[];
  /** per trajectory: the plain text for the full-text index, as UTF-8 bytes when packText made them */
  fts: (string | Buffer)[];
  /** the members' scoring components, packed for whole-run reads (group_components) */
  members: Buffer;
}

/** Compresses a group's texts and builds its rows: pure CPU, no store access, so it can run before the transaction. */
export function prepareGroup(g: GroupEvent): PreparedGroup {
  const rows: SqlValue[][] = new Array(g.trajectories.length);
  const tokens: (SqlValue[] | null)[] = new Array(g.trajectories.length);
  const fts: (string | Buffer)[] = new Array(g.trajectories.length);
  g.trajectories.forEach((t, i) => {
    const text = packText(t.text);
    rows[i] = trajectoryValues(g, t, text);
    // FTS5 reads a blob's bytes as UTF-8 text: the same tokens as the string, without encoding it again.
    fts[i] = text.utf8 ?? t.text;
    const te = t.token_entropies;
    tokens[i] = te ? [te.stride ?? null, uint32Blob(te.offsets), float32Blob(te.values), extraOf(te as unknown as Record<string, unknown>, TOKEN_KEYS)] : null;
  });
  const prompt = packText(g.prompt);
  delete prompt.utf8;
  return { prompt, preview: promptPreview(g.prompt), extra: extraOf(g, GROUP_KEYS), aggregates: groupAggregates(g.trajectories), rows, tokens, fts, members: packMembers(g.trajectories) };
}

/** A lint per online response caught in a loop (the report is the one the runaway_count aggregate read). */
function repetitionLints(trajectories: readonly TrajectoryEvent[]): Lint[] {
  const out: Lint[] = [];
  for (const t of trajectories) {
    const r = onlineRepetition(t);
    if (!r?.runaway) continue;
    out.push({ kind: 'runaway-repetition', trajectoryId: t.id, message: repetitionMessage(t.id, r, t.text.length) });
  }
  return out;
}

/** Prepares every group of a batch that is not prepared yet (importers hand over bare events). */
export function prepareBatch(batch: IngestBatch): void {
  for (const at of batch.events) if (at.event.type === 'group' && !at.prepared) at.prepared = prepareGroup(at.event);
}

// Key columns first (assigned in the transaction), then the values prepareGroup computed, then lint_mask.
const TRAJECTORY_KEY_COLUMNS = ['id', 'group_id'];
const TRAJECTORY_VALUE_COLUMNS = [
  'run_id', 'traj_id', 'step', 'source', 'idx', 'teacher', 'text', 'text_z', 'text_chars', 'tokens', 'truncated', 'r_m', 'verdict',
  'verdict_reason', 'extracted_answer', 'divergence', 'entropy_last', 'r_oger', 'r_total', 'advantage', 'replaced', 'inserted',
  'embedding_truncated', 'present', 'extra',
];
const TRAJECTORY_COLUMNS = [...TRAJECTORY_KEY_COLUMNS, ...TRAJECTORY_VALUE_COLUMNS, 'lint_mask'];
const GROUP_COLUMNS = [
  'id', 'run_id', 'step', 'prompt_id', 'prompt', 'prompt_z', 'prompt_preview', 'gold', 'time', 'extra',
  ...GROUP_AGGREGATES.map((a) => a.name), 'lint_count', 'zero_std', 'lints',
];

/** Groups of a run looked at before a run with no reasoning marker in any is recorded as `none`. */
export const FORMAT_GROUPS = 32;

export class BatchWriter {
  /** run_id → reward settings, for the lints computed at ingest */
  private readonly settings = new Map<string, RewardSettings>();
  /** runs whose reasoning format is recorded; run_id → groups looked at so far for the others */
  private readonly formatDecided = new Set<string>();
  private readonly formatLooked = new Map<string, number>();

  constructor(private readonly db: Db) {}

  async write(batch: IngestBatch): Promise<BatchResult> {
    // Compression and row building happen before BEGIN: the write lock is held for the inserts only.
    prepareBatch(batch);
    try {
      return await this.db.transaction(() => this.writeInTransaction(batch));
    } catch (e) {
      // The transaction rolled back; cached settings may describe rows that no longer exist.
      this.settings.clear();
      this.formatDecided.clear();
      this.formatLooked.clear();
      throw e;
    }
  }

  private async writeInTransaction(batch: IngestBatch): Promise<BatchResult> {
    const changes = new Map<string, StoreChange>();
    const change = (runId: string): StoreChange => {
      let c = changes.get(runId);
      if (!c) {
        c = { runId, steps: [], runStarted: false, runEnded: false, groups: 0, trajectories: 0 };
        changes.set(runId, c);
      }
      return c;
    };
    const addStep = (c: StoreChange, step: number) => {
      if (!c.steps.includes(step)) c.steps.push(step);
    };
    const malformed = [...batch.malformed];
    const pending: PendingGroup[] = [];
    let duplicates = 0;
    let events = 0;
    const now = new Date().toISOString();

    for (const at of batch.events) {
      const e = at.event;
      events++;
      switch (e.type) {
        case 'run_start':
          if (await this.writeRunStart(e, now)) change(e.run_id).runStarted = true;
          else duplicates++;
          break;
        case 'step':
          await this.ensureRun(e.run_id);
          await this.writeStep(e);
          addStep(change(e.run_id), e.step);
          break;
        case 'group':
          await this.ensureRun(e.run_id);
          pending.push({ at, event: e });
          break;
        case 'run_end':
          await this.ensureRun(e.run_id);
          await this.writeRunEnd(e, now);
          change(e.run_id).runEnded = true;
          break;
      }
    }

    const written = await this.writeGroups(pending, malformed);
    duplicates += written.duplicates;
    await this.recordReasoningFormats(written.groups);
    for (const g of written.groups) {
      const c = change(g.run_id);
      addStep(c, g.step);
      c.groups++;
      c.trajectories += g.trajectories.length;
    }

    await insertMany(
      this.db,
      'INSERT OR IGNORE INTO malformed_lines (file, line, byte_offset, reason, excerpt)',
      5,
      malformed.map((m) => [batch.file, m.line, m.byteOffset, m.reason, m.excerpt]),
    );
    // Offsets only move forward: two processes ingesting one file (the extension's tailer and a CLI
    // run) must not drag each other back. A rewritten file is reset explicitly (resetIngest).
    await this.db.run(
      `INSERT INTO ingest_offsets (file, byte_offset, line, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT(file) DO UPDATE SET byte_offset = excluded.byte_offset, line = excluded.line, updated_at = excluded.updated_at
       WHERE excluded.byte_offset > ingest_offsets.byte_offset`,
      [batch.file, batch.endOffset, batch.endLine, now],
    );
    for (const c of changes.values()) c.steps.sort((a, b) => a - b);
    return {
      events,
      groups: written.groups.length,
      trajectories: written.groups.reduce((n, g) => n + g.trajectories.length, 0),
      duplicates,
      malformed: malformed.sort((a, b) => a.line - b.line),
      changes: [...changes.values()],
    };
  }

  /**
   * Records each run's reasoning format from its first groups with a marker in them. A run whose
   * first FORMAT_GROUPS groups carry no marker at all is recorded as `none` (the first steps of a
   * run may all be cut off before any marker, so one group is not enough to say so).
   */
  private async recordReasoningFormats(groups: readonly GroupEvent[]): Promise<void> {
    const texts = new Map<string, string[]>();
    for (const g of groups) {
      if (this.formatDecided.has(g.run_id)) continue;
      let list = texts.get(g.run_id);
      if (!list) {
        const row = await this.db.get<{ reasoning_format: string | null }>('SELECT reasoning_format FROM runs WHERE run_id = ?', [g.run_id]);
        if (row?.reasoning_format) {
          this.formatDecided.add(g.run_id);
          continue;
        }
        texts.set(g.run_id, (list = []));
      }
      for (const t of g.trajectories) if (typeof t.text === 'string') list.push(t.text);
      this.formatLooked.set(g.run_id, (this.formatLooked.get(g.run_id) ?? 0) + 1);
    }
    for (const [runId, list] of texts) {
      const format = detectFormat(list);
      if (format === 'none' && (this.formatLooked.get(runId) ?? 0) < FORMAT_GROUPS) continue;
      await this.db.run('UPDATE runs SET reasoning_format = ? WHERE run_id = ? AND reasoning_format IS NULL', [format, runId]);
      this.formatDecided.add(runId);
    }
  }

  private async settingsOf(runId: string): Promise<RewardSettings> {
    const cached = this.settings.get(runId);
    if (cached) return cached;
    const row = await this.db.get<{ reward: string }>('SELECT reward FROM runs WHERE run_id = ?', [runId]);
    const s = row ? (JSON.parse(row.reward) as RewardSettings) : DEFAULT_REWARD;
    this.settings.set(runId, s);
    return s;
  }

  /** A step/group/run_end whose run_start was never seen (a file tailed from the middle) still lands. */
  private async ensureRun(runId: string): Promise<void> {
    if (this.settings.has(runId)) return;
    await this.db.run(
      `INSERT OR IGNORE INTO runs (run_id, variant, model, config, reward, encoder, verifier, placeholder)
       VALUES (?, ?, '', '{}', ?, NULL, '{"id":"","name":"unknown"}', 1)`,
      [runId, DEFAULT_REWARD.variant, JSON.stringify(DEFAULT_REWARD)],
    );
    await this.settingsOf(runId);
  }

  private async writeRunStart(e: RunStartEvent, now: string): Promise<boolean> {
    if (e.verifier.id) {
      await this.db.run('INSERT OR IGNORE INTO verifier_versions (id, name, path, created_at) VALUES (?, ?, ?, ?)', [
        e.verifier.id,
        e.verifier.name,
        e.verifier.path ?? null,
        e.time ?? now,
      ]);
    }
    const values: SqlValue[] = [
      e.run_id,
      e.variant,
      e.model,
      JSON.stringify(e.config),
      JSON.stringify(e.reward),
      e.encoder === null ? null : JSON.stringify(e.encoder),
      JSON.stringify(e.verifier),
      e.verifier.id || null,
      e.time ?? now,
      extraOf(e, RUN_START_KEYS),
    ];
    // A replayed run_start changes nothing; one arriving after its run's first groups fills the placeholder.
    const res = await this.db.run(
      `INSERT INTO runs (run_id, variant, model, config, reward, encoder, verifier, verifier_id, started_at, extra, placeholder)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
       ON CONFLICT(run_id) DO UPDATE SET variant = excluded.variant, model = excluded.model, config = excluded.config,
         reward = excluded.reward, encoder = excluded.encoder, verifier = excluded.verifier, verifier_id = excluded.verifier_id,
         started_at = excluded.started_at, extra = excluded.extra, placeholder = 0
       WHERE runs.placeholder = 1`,
      values,
    );
    this.settings.set(e.run_id, e.reward);
    if (res.changes === 0) this.settings.delete(e.run_id);
    return res.changes > 0;
  }

  private async writeStep(e: StepEvent): Promise<void> {
    // The last step event for a step wins: replaying the same lines in order reaches the same state.
    await this.db.run(
      `INSERT INTO steps (run_id, step, metrics, time, extra, has_event) VALUES (?, ?, ?, ?, ?, 1)
       ON CONFLICT(run_id, step) DO UPDATE SET metrics = excluded.metrics, time = excluded.time, extra = excluded.extra, has_event = 1`,
      [e.run_id, e.step, JSON.stringify(e.metrics), e.time ?? null, extraOf(e, STEP_KEYS)],
    );
  }

  private async writeRunEnd(e: RunEndEvent, now: string): Promise<void> {
    // Without its own time, a replayed run_end keeps the ingest time it got the first time.
    await this.db.run('UPDATE runs SET status = ?, reason = ?, ended_at = coalesce(?, ended_at, ?), end_step = ?, end_extra = ? WHERE run_id = ?', [
      e.status,
      e.reason ?? null,
      e.time ?? null,
      now,
      e.step ?? null,
      extraOf(e, RUN_END_KEYS),
      e.run_id,
    ]);
  }

  private async writeGroups(
    pending: PendingGroup[],
    malformed: MalformedInput[],
  ): Promise<{ groups: GroupEvent[]; duplicates: number }> {
    if (pending.length === 0) return { groups: [], duplicates: 0 };
    const key = (runId: string, step: number, promptId: string) => `${runId}\u0000${step}\u0000${promptId}`;
    const existing = new Set<string>();
    for (let i = 0; i < pending.length; i += 300) {
      const chunk = pending.slice(i, i + 300);
      const rows = await this.db.all<{ run_id: string; step: number; prompt_id: string }>(
        `SELECT run_id, step, prompt_id FROM groups WHERE (run_id, step, prompt_id) IN (VALUES ${placeholders(chunk.length, 3)})`,
        chunk.flatMap((p) => [p.event.run_id, p.event.step, p.event.prompt_id]),
      );
      for (const r of rows) existing.add(key(r.run_id, r.step, r.prompt_id));
    }
    let duplicates = 0;
    const fresh: PendingGroup[] = [];
    for (const p of pending) {
      const k = key(p.event.run_id, p.event.step, p.event.prompt_id);
      if (existing.has(k)) {
        duplicates++;
        continue;
      }
      existing.add(k);
      fresh.push(p);
    }

    // Trajectory ids are unique within a run; a group that reuses one is refused whole rather than stored in part.
    const usedIds = new Set<string>();
    const trajKeys = fresh.flatMap((p) => p.event.trajectories.map((t) => [p.event.run_id, t.id] as const));
    for (let i = 0; i < trajKeys.length; i += 400) {
      const chunk = trajKeys.slice(i, i + 400);
      const rows = await this.db.all<{ run_id: string; traj_id: string }>(
        `SELECT run_id, traj_id FROM trajectories WHERE (run_id, traj_id) IN (VALUES ${placeholders(chunk.length, 2)})`,
        chunk.flatMap((k) => [k[0], k[1]]),
      );
      for (const r of rows) usedIds.add(`${r.run_id}\u0000${r.traj_id}`);
    }
    const accepted: PendingGroup[] = [];
    for (const p of fresh) {
      const ids = p.event.trajectories.map((t) => `${p.event.run_id}\u0000${t.id}`);
      const clash = ids.find((id, i) => usedIds.has(id) || ids.indexOf(id) !== i);
      if (clash !== undefined) {
        malformed.push({
          line: p.at.line,
          byteOffset: p.at.byteOffset,
          reason: `trajectory id ${JSON.stringify(clash.split('\u0000')[1])} is used twice in run ${JSON.stringify(p.event.run_id)}; group skipped`,
          excerpt: `group ${p.event.prompt_id} at step ${p.event.step}`,
        });
        continue;
      }
      for (const id of ids) usedIds.add(id);
      accepted.push(p);
    }
    if (accepted.length === 0) return { groups: [], duplicates };

    const maxRow = await this.db.get<{ g: number | null; t: number | null }>(
      'SELECT (SELECT max(id) FROM groups) AS g, (SELECT max(id) FROM trajectories) AS t',
    );
    let nextGroup = (maxRow?.g ?? 0) + 1;
    let nextTraj = (maxRow?.t ?? 0) + 1;
    // A prompt id new to the store gets its text in the prompt index (Find's prompt matches).
    const knownPrompts = new Set<string>();
    const promptIds = [...new Set(accepted.map((p) => p.event.prompt_id))];
    for (let i = 0; i < promptIds.length; i += 500) {
      const chunk = promptIds.slice(i, i + 500);
      const rows = await this.db.all<{ prompt_id: string }>(`SELECT DISTINCT prompt_id FROM groups WHERE prompt_id IN (${chunk.map(() => '?').join(',')})`, chunk);
      for (const r of rows) knownPrompts.add(r.prompt_id);
    }
    const promptFtsRows: SqlValue[][] = [];
    const groupRows: SqlValue[][] = [];
    const trajRows: SqlValue[][] = [];
    const ftsRows: SqlValue[][] = [];
    const tokenRows: SqlValue[][] = [];
    const componentRows: SqlValue[][] = [];
    const stepSums = new StepSums();
    for (const p of accepted) {
      const g = p.event;
      const prep = p.at.prepared ?? prepareGroup(g);
      const settings = await this.settingsOf(g.run_id);
      const groupId = nextGroup++;
      let lints: Lint[];
      try {
        lints = lintGroup(g.trajectories, settings);
      } catch {
        lints = [];
      }
      lints.push(...repetitionLints(g.trajectories));
      const lintMask = new Map<string, number>();
      for (const l of lints) {
        if (l.trajectoryId !== null) lintMask.set(l.trajectoryId, (lintMask.get(l.trajectoryId) ?? 0) | LINT_BITS[l.kind]);
      }
      stepSums.add(g.run_id, g.step, prep.aggregates, lints.length);
      groupRows.push([
        groupId, g.run_id, g.step, g.prompt_id, prep.prompt.value, prep.prompt.compressed, prep.preview, g.gold,
        g.time ?? null, prep.extra, ...prep.aggregates, lints.length, lints.some((l) => l.kind === 'zero-std-group') ? 1 : 0,
        JSON.stringify(lints),
      ]);
      componentRows.push([g.run_id, groupId, g.step, nextTraj, prep.members]);
      if (!knownPrompts.has(g.prompt_id)) {
        knownPrompts.add(g.prompt_id);
        promptFtsRows.push([groupId, g.prompt]);
      }
      g.trajectories.forEach((t, i) => {
        const key = nextTraj++;
        trajRows.push([key, groupId, ...(prep.rows[i] as SqlValue[]), lintMask.get(t.id) ?? 0]);
        ftsRows.push([key, prep.fts[i] as string | Buffer]);
        const tok = prep.tokens[i];
        if (tok) tokenRows.push([key, ...tok]);
      });
    }
    await insertMany(this.db, `INSERT INTO groups (${GROUP_COLUMNS.join(', ')})`, GROUP_COLUMNS.length, groupRows, 50);
    await insertMany(this.db, `INSERT INTO trajectories (${TRAJECTORY_COLUMNS.join(', ')})`, TRAJECTORY_COLUMNS.length, trajRows, 100);
    await insertMany(this.db, 'INSERT INTO trajectory_fts (rowid, text)', 2, ftsRows, 100);
    await insertMany(this.db, 'INSERT INTO prompt_fts (rowid, text)', 2, promptFtsRows, 100);
    await insertMany(this.db, 'INSERT INTO token_stats (trajectory_id, stride, offsets, entropies, extra)', 5, tokenRows, 100);
    await insertMany(this.db, 'INSERT INTO group_components (run_id, group_id, step, first_trajectory, members)', 5, componentRows, 100);
    // Steps seen only through groups still get a row, so step lists need no UNION.
    const stepKeys = new Map<string, SqlValue[]>();
    for (const p of accepted) stepKeys.set(`${p.event.run_id}\u0000${p.event.step}`, [p.event.run_id, p.event.step]);
    await insertMany(this.db, 'INSERT OR IGNORE INTO steps (run_id, step)', 2, [...stepKeys.values()], 100);
    // Only the groups inserted above are added (duplicates and refused groups were dropped before),
    // in this same transaction: a replay adds nothing and a rollback takes the sums back with the rows.
    for (const params of stepSums.params()) await this.db.runCached(STEP_STATS_UPSERT, params);
    return { groups: accepted.map((p) => p.event), duplicates };
  }
}

/** A trajectory's row values after its keys, in TRAJECTORY_VALUE_COLUMNS order (text compressed when it pays). */
function trajectoryValues(g: GroupEvent, t: TrajectoryEvent, text: PackedText): SqlValue[] {
  let present = 0;
  for (let bit = 0; bit < OPTIONAL_TRAJECTORY_FIELDS.length; bit++) {
    if (Object.prototype.hasOwnProperty.call(t, OPTIONAL_TRAJECTORY_FIELDS[bit] as string)) present |= 1 << bit;
  }
  return [
    g.run_id, t.id, g.step, t.source, t.index ?? null, t.teacher ?? null, text.value, text.compressed,
    t.text.length, t.tokens ?? null, bool(t.truncated), t.r_m, t.verdict, t.verdict_reason ?? null, t.extracted_answer ?? null,
    num(t.divergence), num(t.entropy_last), num(t.r_oger), num(t.r_total), num(t.advantage), t.replaced ? 1 : 0,
    bool(t.inserted), bool(t.embedding_truncated), present, extraOf(t, TRAJECTORY_KEYS),
  ];
}

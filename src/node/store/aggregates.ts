// The per-group sums kept at ingest (columns of `groups`) and their sums per step (`step_stats`),
// declared once. Each entry says what one trajectory adds and how values combine (sum, or max for
// R_OGER's maximum); the schema DDL of a new aggregate, the insert and upsert column lists, the
// per-group and per-step accumulation and the SELECTs that read them back are all generated from
// this list, so adding a figure is one line here plus a migration made by `addColumnsDdl`.
// (Migrations 1 and 2 were written by hand before this table existed; test/unit/aggregates.test.ts
// holds them equal to it.)
import type { TrajectoryEvent } from '../../core/protocol';
import { repetitionReport, type RepetitionReport } from '../../core/repetition';

export type AggregateType = 'INTEGER' | 'REAL';

export interface Aggregate {
  name: string;
  type: AggregateType;
  /** sum: values add up, NOT NULL DEFAULT 0. max: the largest, NULL while nothing contributed. */
  combine: 'sum' | 'max';
  /** what one trajectory contributes; null contributes nothing */
  of: (t: TrajectoryEvent) => number | null;
}

const isOnline = (t: TrajectoryEvent): boolean => t.source === 'online';
const num = (x: unknown): x is number => typeof x === 'number';
const correctROger = (t: TrajectoryEvent): boolean => isOnline(t) && num(t.r_oger) && t.verdict === 'correct';
const insertedAdvantage = (t: TrajectoryEvent): boolean => t.source === 'offline' && t.inserted === true && num(t.advantage);

// The runaway-repetition report is read twice at ingest (this aggregate and the writer's lint):
// kept per event so a 150K-character trace is scanned once.
const repetitionMemo = new WeakMap<TrajectoryEvent, RepetitionReport>();

/** Runaway repetition of an online response (core/repetition.ts); null for a teacher trajectory. */
export function onlineRepetition(t: TrajectoryEvent): RepetitionReport | null {
  if (!isOnline(t)) return null;
  let r = repetitionMemo.get(t);
  if (!r) {
    r = repetitionReport(t.text);
    repetitionMemo.set(t, r);
  }
  return r;
}

/**
 * Online responses caught in runaway repetition. Added by migration 6, after the hand-made columns:
 * a run stored before it reads 0 here without having been counted (runs.runaway_counted = 0).
 */
export const RUNAWAY_COUNT = { name: 'runaway_count', type: 'INTEGER', combine: 'sum', of: (t: TrajectoryEvent) => (onlineRepetition(t)?.runaway ? 1 : null) } as const satisfies Aggregate;

/**
 * Per-trajectory aggregates, in column order. Accuracy and every other figure count the logged
 * verdicts (docs/store.md, "Per-step sums").
 */
export const TRAJECTORY_AGGREGATES = [
  { name: 'trajectory_count', type: 'INTEGER', combine: 'sum', of: () => 1 },
  { name: 'online_count', type: 'INTEGER', combine: 'sum', of: (t) => (isOnline(t) ? 1 : null) },
  { name: 'online_correct', type: 'INTEGER', combine: 'sum', of: (t) => (isOnline(t) && t.verdict === 'correct' ? 1 : null) },
  { name: 'roger_correct_sum', type: 'REAL', combine: 'sum', of: (t) => (correctROger(t) ? (t.r_oger as number) : null) },
  { name: 'roger_correct_n', type: 'INTEGER', combine: 'sum', of: (t) => (correctROger(t) ? 1 : null) },
  { name: 'roger_sum', type: 'REAL', combine: 'sum', of: (t) => (isOnline(t) && num(t.r_oger) ? t.r_oger : null) },
  { name: 'roger_n', type: 'INTEGER', combine: 'sum', of: (t) => (isOnline(t) && num(t.r_oger) ? 1 : null) },
  { name: 'roger_max', type: 'REAL', combine: 'max', of: (t) => (isOnline(t) && num(t.r_oger) ? t.r_oger : null) },
  { name: 'failed_count', type: 'INTEGER', combine: 'sum', of: (t) => (isOnline(t) && (t.truncated === true || t.verdict === 'error') ? 1 : null) },
  { name: 'tokens_sum', type: 'REAL', combine: 'sum', of: (t) => (isOnline(t) && num(t.tokens) ? t.tokens : null) },
  { name: 'tokens_n', type: 'INTEGER', combine: 'sum', of: (t) => (isOnline(t) && num(t.tokens) ? 1 : null) },
  { name: 'chars_sum', type: 'REAL', combine: 'sum', of: (t) => (isOnline(t) ? t.text.length : null) },
  { name: 'offline_adv_sum', type: 'REAL', combine: 'sum', of: (t) => (insertedAdvantage(t) ? (t.advantage as number) : null) },
  { name: 'offline_adv_n', type: 'INTEGER', combine: 'sum', of: (t) => (insertedAdvantage(t) ? 1 : null) },
  RUNAWAY_COUNT,
] as const satisfies readonly Aggregate[];

/** Kept per group from the group's lints, and summed per step like the others. */
export const LINT_COUNT = { name: 'lint_count', type: 'INTEGER', combine: 'sum', of: () => null } as const satisfies Aggregate;
/** Per step only: how many groups were added. */
export const GROUP_COUNT = { name: 'group_count', type: 'INTEGER', combine: 'sum', of: () => null } as const satisfies Aggregate;

/** The aggregate columns of `groups`, in their order in the table. */
export const GROUP_AGGREGATES: readonly Aggregate[] = TRAJECTORY_AGGREGATES;
const STEP_LIST = [GROUP_COUNT, ...TRAJECTORY_AGGREGATES, LINT_COUNT] as const;
/** The aggregate columns of `step_stats` after its key, in their order in the table. */
export const STEP_AGGREGATES: readonly Aggregate[] = STEP_LIST;

type Named = (typeof STEP_LIST)[number];
export type AggregateName = Named['name'];
/** Aggregates read back by name: a max is null while nothing contributed, a sum is a number. */
export type Sums = { [K in AggregateName]: K extends Extract<Named, { combine: 'max' }>['name'] ? number | null : number };

/** Values in the order of `list`; a max with no contribution is null. */
export type AggregateValues = (number | null)[];

export function emptyValues(list: readonly Aggregate[]): AggregateValues {
  return list.map((a) => (a.combine === 'max' ? null : 0));
}

/** Folds `value` into slot i of `into` by the column's rule. */
export function combineInto(list: readonly Aggregate[], into: AggregateValues, i: number, value: number | null): void {
  if (value === null) return;
  const prev = into[i] as number | null;
  if ((list[i] as Aggregate).combine === 'max') into[i] = prev === null ? value : Math.max(prev, value);
  else into[i] = (prev as number) + value;
}

/** The per-group aggregates of one group's trajectories, in GROUP_AGGREGATES order. */
export function groupAggregates(trajectories: readonly TrajectoryEvent[]): AggregateValues {
  const out = emptyValues(GROUP_AGGREGATES);
  for (const t of trajectories) {
    for (let i = 0; i < GROUP_AGGREGATES.length; i++) combineInto(GROUP_AGGREGATES, out, i, (GROUP_AGGREGATES[i] as Aggregate).of(t));
  }
  return out;
}

/** Sums of groups per (run, step), built in memory for one batch and then upserted. */
export class StepSums {
  private readonly rows = new Map<string, { runId: string; step: number; values: AggregateValues }>();

  /** Adds one stored group: its per-group aggregates (GROUP_AGGREGATES order) and its lint count. */
  add(runId: string, step: number, group: AggregateValues, lintCount: number): void {
    const key = `${runId}\u0000${step}`;
    let row = this.rows.get(key);
    if (!row) {
      row = { runId, step, values: emptyValues(STEP_AGGREGATES) };
      this.rows.set(key, row);
    }
    combineInto(STEP_AGGREGATES, row.values, 0, 1);
    for (let i = 0; i < group.length; i++) combineInto(STEP_AGGREGATES, row.values, i + 1, group[i] as number | null);
    combineInto(STEP_AGGREGATES, row.values, STEP_AGGREGATES.length - 1, lintCount);
  }

  /** [run_id, step, ...values] per step, for STEP_STATS_UPSERT. */
  params(): (string | number | null)[][] {
    return [...this.rows.values()].map((r) => [r.runId, r.step, ...r.values]);
  }
}

const names = (list: readonly Aggregate[]): string[] => list.map((a) => a.name);

/** Column definitions as in CREATE TABLE, for a new table or (one per ALTER) a migration. */
export function columnDdl(a: Aggregate): string {
  return a.combine === 'max' ? `${a.name} ${a.type}` : `${a.name} ${a.type} NOT NULL DEFAULT 0`;
}

/** The statements a migration runs to add aggregates to both tables (existing rows start at 0 / NULL). */
export function addColumnsDdl(added: readonly Aggregate[], perGroup: boolean): string {
  const out: string[] = [];
  for (const a of added) {
    if (perGroup) out.push(`ALTER TABLE groups ADD COLUMN ${columnDdl(a)};`);
    out.push(`ALTER TABLE step_stats ADD COLUMN ${columnDdl(a)};`);
  }
  return out.join('\n');
}

/** `step_stats` upsert: adds the batch's sums to the step's row (max keeps the larger R_OGER max). */
export const STEP_STATS_UPSERT = (() => {
  const cols = ['run_id', 'step', ...names(STEP_AGGREGATES)];
  // Two-argument max() is NULL when either side is: a step whose max is still unknown takes the new one.
  const set = STEP_AGGREGATES.map((a) =>
    a.combine === 'max' ? `${a.name} = coalesce(max(${a.name}, excluded.${a.name}), ${a.name}, excluded.${a.name})` : `${a.name} = ${a.name} + excluded.${a.name}`,
  );
  return `INSERT INTO step_stats (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})
    ON CONFLICT(run_id, step) DO UPDATE SET ${set.join(', ')}`;
})();

/** `alias.col AS col` for every column of `list`: a SELECT list that reads them back by name. */
export function selectColumns(list: readonly Aggregate[], alias: string): string {
  return list.map((a) => `${alias}.${a.name} AS ${a.name}`).join(', ');
}

/** `sum(col) AS col` / `max(col) AS col`: the same columns combined over many rows (e.g. a run's steps). */
export function combinedColumns(list: readonly Aggregate[], alias: string): string {
  return list.map((a) => `${a.combine}(${alias}.${a.name}) AS ${a.name}`).join(', ');
}

/** A row's aggregate columns by name; absent (LEFT JOIN without a match) reads as 0, or null for a max. */
export function readAggregates(row: Record<string, unknown>, list: readonly Aggregate[]): Sums {
  const out: Record<string, number | null> = {};
  for (const a of list) {
    const v = row[a.name];
    out[a.name] = typeof v === 'number' ? v : a.combine === 'max' ? null : 0;
  }
  return out as Sums;
}

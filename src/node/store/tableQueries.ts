// SQL of the trajectories table (core/tableMessages.ts): the WHERE clause from Find's filter syntax,
// the column each sort names, the page and the groupings. The store runs them (store.ts).
import type { ParsedSearch } from '../../core/searchFilters';
import type { TableColumn, TableQuery, TableRow } from '../../core/tableMessages';
import { LINT_BITS } from './writer';
import { trajectoryFilterSql, type SqlPart } from './filterSql';
import { parseQuery, presenceQuery } from './search';
import { SORT_INDEXED_COLUMNS } from './schema';
import type { Row } from './sqlite';

export const SORT_SQL: Readonly<Record<Exclude<TableColumn, 'label'>, string>> = {
  // Ingest order, newest last: the key itself, so the default view (newest first) reads no index.
  order: 't.id',
  run: 't.run_id',
  step: 't.step',
  prompt: 'g.prompt_id',
  source: 't.source',
  verdict: 't.verdict',
  divergence: 't.divergence',
  entropyLast: 't.entropy_last',
  rOger: 't.r_oger',
  rTotal: 't.r_total',
  advantage: 't.advantage',
  length: 't.text_chars',
  lints: 't.lint_mask',
};

/** Sorts read from an index on (run_id, column), one ordered walk per run (schema.ts SORT_INDEXED_COLUMNS). */
const RUN_INDEXED: ReadonlySet<TableColumn> = new Set(
  (Object.entries(SORT_SQL) as [TableColumn, string][])
    .filter(([, sql]) => sql === 't.step' || (SORT_INDEXED_COLUMNS as readonly string[]).includes(sql.slice(2)))
    .map(([column]) => column),
);

/** More runs than this are sorted as one (SQLite's compound SELECT has a limit of 500 arms). */
export const MAX_MERGED_RUNS = 64;

export interface TableWhere {
  where: SqlPart;
  problems: string[];
}

/**
 * The rows a table query keeps: Find's filters, its free words through the full-text index (all of
 * them must occur; on the presence-only index a phrase is matched as its words), and, when asked,
 * only the given trajectory keys.
 */
export function tableWhere(parsed: ParsedSearch, presence: boolean, onlyKeys: readonly number[] | null, narrowSteps = false): TableWhere {
  const { text, filters } = parsed;
  const problems = [...parsed.problems];
  const parts: SqlPart[] = [];
  const f = trajectoryFilterSql(filters);
  if (f) parts.push(f);
  // A few steps of every run: naming the runs lets the (run_id, step) index find them (as Find does).
  if (narrowSteps && filters.runs.length === 0 && filters.steps.length > 0) parts.push({ sql: 't.run_id IN (SELECT run_id FROM runs)', params: [] });
  if (text.trim()) {
    try {
      const tree = parseQuery(text);
      if (tree) parts.push({ sql: 't.id IN (SELECT rowid FROM trajectory_fts WHERE trajectory_fts MATCH ?)', params: [presence ? presenceQuery(tree) : text] });
    } catch (e) {
      problems.push(`the words cannot be searched: ${(e as Error).message}`);
    }
  }
  if (onlyKeys) parts.push({ sql: `t.id IN (${onlyKeys.length ? onlyKeys.map(() => '?').join(',') : 'NULL'})`, params: [...onlyKeys] });
  if (!parts.length) return { where: { sql: '1', params: [] }, problems };
  return { where: { sql: parts.map((p) => `(${p.sql})`).join(' AND '), params: parts.flatMap((p) => p.params) }, problems };
}

/**
 * ORDER BY for a sort: nulls last either way, then run and key in the same direction, so that the
 * order is total (pages never overlap) and is the order of the per-run indexes (run, step, key for
 * the run column; prompt, group, key for the prompt column: the groups_prompt walk).
 */
export function tableOrder(q: TableQuery): string {
  const dir = q.sort.dir === 'asc' ? 'ASC' : 'DESC';
  const column = q.sort.column;
  if (column === 'order' || column === 'label') return `t.id ${dir}`;
  if (column === 'run') return `t.run_id ${dir}, t.step ${dir}, t.id ${dir}`;
  if (column === 'prompt') return `g.prompt_id ${dir}, g.id ${dir}, t.id ${dir}`;
  return `${SORT_SQL[column]} ${dir} NULLS LAST, t.run_id ${dir}, t.id ${dir}`;
}

/**
 * Whether the filter alone picks few rows (steps, prompts, labels, words, given keys): those are
 * read through their own indexes and then sorted. Otherwise (no filter, or runs, verdicts,
 * sources and lints, which keep much of a run) the sort's index is walked and the filter checked.
 */
export function narrowFilter(parsed: ParsedSearch, onlyKeys: readonly number[] | null): boolean {
  const f = parsed.filters;
  return onlyKeys !== null || parsed.text.trim() !== '' || f.steps.length > 0 || f.prompts.length > 0 || f.labels.length > 0;
}

/**
 * A window of the table. A sort by an indexed column over a wide filter walks each run's index in
 * order and merges the runs (SQLite merges ordered compound arms), reading only keys until the
 * window: 6–15 ms for a sorted first page of 6M trajectories where a sort of every row took 1.3–3.9 s.
 * A sort by prompt walks groups by prompt and their members. Anything else is SQLite's own plan.
 */
export function tablePageSql(q: TableQuery, where: SqlPart, scope: { runs: readonly string[]; narrow: boolean }, offset: number, limit: number): SqlPart {
  const page = [Math.max(1, limit), Math.max(0, offset)];
  const dir = q.sort.dir === 'asc' ? 'ASC' : 'DESC';
  const column = q.sort.column;
  if (!scope.narrow && RUN_INDEXED.has(column) && scope.runs.length > 0 && scope.runs.length <= MAX_MERGED_RUNS) {
    const arm = `SELECT t.id AS id, ${SORT_SQL[column as Exclude<TableColumn, 'label'>]} AS k, t.run_id AS r FROM trajectories t WHERE t.run_id = ? AND (${where.sql})`;
    const order = (p: string) => `${p}k ${dir} NULLS LAST, ${p}r ${dir}, ${p}id ${dir}`;
    return {
      sql: `SELECT ${ROW_COLUMNS} FROM (${scope.runs.map(() => arm).join(' UNION ALL ')} ORDER BY ${order('')} LIMIT ? OFFSET ?) p
        JOIN trajectories t ON t.id = p.id JOIN groups g ON g.id = t.group_id ORDER BY ${order('p.')}`,
      params: [...scope.runs.flatMap((run) => [run, ...where.params]), ...page],
    };
  }
  // CROSS JOIN keeps groups outside, so their prompt index gives the order; on a narrow filter the
  // planner's choice (the filter's index, then a sort of the few rows) is the better one.
  const from = column === 'prompt' && !scope.narrow ? 'groups g CROSS JOIN trajectories t ON g.id = t.group_id' : 'trajectories t JOIN groups g ON g.id = t.group_id';
  return { sql: `SELECT ${ROW_COLUMNS} FROM ${from} WHERE ${where.sql} ORDER BY ${tableOrder(q)} LIMIT ? OFFSET ?`, params: [...where.params, ...page] };
}

export const ROW_COLUMNS = `t.id, t.group_id, t.run_id, t.step, g.prompt_id, t.traj_id, t.source, t.verdict, t.divergence, t.entropy_last,
  t.r_oger, t.r_total, t.advantage, t.text_chars, t.lint_mask`;

const LINT_KINDS = Object.entries(LINT_BITS) as [string, number][];

export function tableRowOf(r: Row, label: TableRow['label']): TableRow {
  const mask = r.lint_mask as number;
  return {
    trajectoryKey: r.id as number,
    groupId: r.group_id as number,
    runId: r.run_id as string,
    step: r.step as number,
    promptId: r.prompt_id as string,
    trajectoryId: r.traj_id as string,
    source: r.source as TableRow['source'],
    verdict: r.verdict as TableRow['verdict'],
    label,
    divergence: r.divergence as number | null,
    entropyLast: r.entropy_last as number | null,
    rOger: r.r_oger as number | null,
    rTotal: r.r_total as number | null,
    advantage: r.advantage as number | null,
    length: r.text_chars as number,
    lints: LINT_KINDS.filter(([, bit]) => (mask & bit) !== 0).map(([kind]) => kind),
  };
}

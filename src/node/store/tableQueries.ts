// SQL of the trajectories table (core/tableMessages.ts): the WHERE clause from Find's filter syntax,
// the column each sort names, the page and the groupings. The store runs them (store.ts).
import type { ParsedSearch } from '../../core/searchFilters';
import type { TableColumn, TableQuery, TableRow } from '../../core/tableMessages';
import { LINT_BITS } from './writer';
import { trajectoryFilterSql, type SqlPart } from './filterSql';
import { parseQuery, presenceQuery } from './search';
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

/** ORDER BY for a sort: nulls last either way, then the key in the same direction (a stable order for paging). */
export function tableOrder(q: TableQuery): string {
  const dir = q.sort.dir === 'asc' ? 'ASC' : 'DESC';
  if (q.sort.column === 'order' || q.sort.column === 'label') return `t.id ${dir}`;
  return `${SORT_SQL[q.sort.column]} ${dir} NULLS LAST, t.id ${dir}`;
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

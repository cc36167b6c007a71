// The trajectories table (issue 18): every trajectory of the store as a row, sorted, filtered with
// Find's filter syntax, optionally only the members whose advantage a relabel flips, or grouped by
// prompt or verdict. The page asks for windows of rows as it scrolls (only visible rows are in the
// DOM); the host answers from the store. Every message from the page is validated here first.
import type { Verdict } from './protocol';
import { extraKey, isPlainObject, unknownType, validateRendered } from './whatIfMessages';

export const TABLE_COLUMNS = ['order', 'run', 'step', 'prompt', 'source', 'verdict', 'label', 'divergence', 'entropyLast', 'rOger', 'rTotal', 'advantage', 'length', 'lints'] as const;
export type TableColumn = (typeof TABLE_COLUMNS)[number];
/** The label is the newest of an append-only history: not a column SQLite can order 2M rows by. */
export const SORTABLE_COLUMNS: readonly TableColumn[] = TABLE_COLUMNS.filter((c) => c !== 'label');

export type TableGroupBy = 'none' | 'prompt' | 'verdict';

export interface TableSort {
  column: TableColumn;
  dir: 'asc' | 'desc';
}

export interface TableQuery {
  /** Find's syntax: free words plus run: step: verdict: label: lint: source: prompt: */
  filter: string;
  sort: TableSort;
  groupBy: TableGroupBy;
  /** only members whose advantage changes sign when their group is re-scored with its relabels */
  flippedOnly: boolean;
}

export interface TableRow {
  trajectoryKey: number;
  groupId: number;
  runId: string;
  step: number;
  promptId: string;
  trajectoryId: string;
  source: 'online' | 'offline';
  verdict: Verdict;
  /** the current relabel, if any */
  label: 'correct' | 'wrong' | 'hack' | null;
  divergence: number | null;
  entropyLast: number | null;
  rOger: number | null;
  rTotal: number | null;
  advantage: number | null;
  /** characters of the response */
  length: number;
  /** lint kinds by label (LINT_LABELS keys) */
  lints: string[];
}

export interface TableGroupRow {
  key: string;
  count: number;
  /** fraction of the online members whose logged verdict is correct */
  accuracy: number | null;
  meanRTotal: number | null;
  meanAdvantage: number | null;
  /** the newest group of the key, to open (null for a verdict grouping) */
  groupId: number | null;
}

export type HostToTable =
  | { type: 'rows'; queryId: number; offset: number; rows: TableRow[]; total: number; totalCapped: boolean; problems: string[] }
  | { type: 'groups'; queryId: number; groupBy: Exclude<TableGroupBy, 'none'>; groups: TableGroupRow[]; problems: string[] }
  | { type: 'error'; queryId: number; message: string };

export type TableToHost =
  | { type: 'ready' }
  | { type: 'query'; queryId: number; query: TableQuery; offset: number; limit: number }
  | { type: 'openGroup'; groupId: number; focusTrajectoryId: string | null }
  | { type: 'rendered'; ms: number; rows: number };

/** Rows one request may ask for: a few screens. */
export const TABLE_MAX_LIMIT = 500;
/** Rows counted before the total reads "N+": an exact count of 2M filtered rows costs seconds. */
export const TABLE_COUNT_CAP = 100_000;

export type TableValidated = { ok: true; message: TableToHost } | { ok: false; reason: string };

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

function validateQuery(q: unknown): TableQuery | string {
  if (!isPlainObject(q)) return 'query must be an object';
  const extra = extraKey(q, ['filter', 'sort', 'groupBy', 'flippedOnly']);
  if (extra) return `query: ${extra}`;
  if (typeof q.filter !== 'string' || q.filter.length > 2000) return 'query.filter must be a string of at most 2,000 characters';
  if (!isPlainObject(q.sort) || extraKey(q.sort, ['column', 'dir'])) return 'query.sort must be {column, dir}';
  const column = q.sort.column;
  if (typeof column !== 'string' || !(SORTABLE_COLUMNS as readonly string[]).includes(column)) return `query.sort.column must be one of ${SORTABLE_COLUMNS.join(', ')}`;
  if (q.sort.dir !== 'asc' && q.sort.dir !== 'desc') return 'query.sort.dir must be asc or desc';
  if (q.groupBy !== 'none' && q.groupBy !== 'prompt' && q.groupBy !== 'verdict') return 'query.groupBy must be none, prompt or verdict';
  if (typeof q.flippedOnly !== 'boolean') return 'query.flippedOnly must be a boolean';
  return { filter: q.filter, sort: { column: column as TableColumn, dir: q.sort.dir }, groupBy: q.groupBy, flippedOnly: q.flippedOnly };
}

/** Validates a message the table webview posted. Never throws. */
export function validateTableMessage(raw: unknown): TableValidated {
  if (!isPlainObject(raw)) return { ok: false, reason: 'message is not a plain object' };
  switch (raw.type) {
    case 'ready': {
      const extra = extraKey(raw, ['type']);
      return extra ? { ok: false, reason: extra } : { ok: true, message: { type: 'ready' } };
    }
    case 'query': {
      const extra = extraKey(raw, ['type', 'queryId', 'query', 'offset', 'limit']);
      if (extra) return { ok: false, reason: extra };
      if (!isCount(raw.queryId)) return { ok: false, reason: 'query.queryId must be a non-negative integer' };
      if (!isCount(raw.offset)) return { ok: false, reason: 'query.offset must be a non-negative integer' };
      if (!isCount(raw.limit) || raw.limit < 1 || raw.limit > TABLE_MAX_LIMIT) return { ok: false, reason: `query.limit must be 1 to ${TABLE_MAX_LIMIT}` };
      const q = validateQuery(raw.query);
      if (typeof q === 'string') return { ok: false, reason: q };
      return { ok: true, message: { type: 'query', queryId: raw.queryId, query: q, offset: raw.offset, limit: raw.limit } };
    }
    case 'openGroup': {
      const extra = extraKey(raw, ['type', 'groupId', 'focusTrajectoryId']);
      if (extra) return { ok: false, reason: extra };
      if (!isCount(raw.groupId)) return { ok: false, reason: 'openGroup.groupId must be a non-negative integer' };
      const focus = raw.focusTrajectoryId;
      if (focus !== null && (typeof focus !== 'string' || focus.length === 0 || focus.length > 1000)) return { ok: false, reason: 'openGroup.focusTrajectoryId must be a trajectory id or null' };
      return { ok: true, message: { type: 'openGroup', groupId: raw.groupId, focusTrajectoryId: focus } };
    }
    case 'rendered':
      return validateRendered(raw);
    default:
      return unknownType(raw);
  }
}

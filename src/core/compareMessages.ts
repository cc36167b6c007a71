// The messages between the Compare Runs panel and its host. Host→page messages are ours; page→host
// messages are not trusted (the page renders prompts and model output) and are validated here,
// with the same rules as the other panels' (src/core/messages.ts). Validators never throw.
import { checkOpenGroup, checkRendered, fail, type OpenGroupMessage, isRowId, MESSAGE_LIMITS, onlyKeys, precheck, type RenderedMessage, type Validated } from './messages';
import { parseSortColumn, TABLE_ONLY, type CompareCurves, type CompareRunView, type CompareTableView, type ComparePromptView, type TableFilter, type TableOnly, type TableSort } from './compare';
import type { ConfigDiff } from './compareConfig';

export type HostToCompare =
  | { type: 'loading'; runIds: string[] }
  | { type: 'empty'; reason: string }
  | { type: 'error'; message: string }
  /** everything the page shows on open: runs, their curves (in run order), the settings diff, the table */
  | { type: 'compare'; runs: CompareRunView[]; curves: CompareCurves; config: ConfigDiff; table: CompareTableView; selectedStep: number | null }
  /** the table again: another step, sort or filter */
  | { type: 'table'; table: CompareTableView; selectedStep: number | null }
  /** one prompt's groups, side by side */
  | { type: 'prompt'; prompt: ComparePromptView }
  | { type: 'promptFailed'; promptId: string; message: string };

export type CompareToHost =
  | { type: 'ready' }
  /** a step picked on the curves (null: back to each run's last step) */
  | { type: 'selectStep'; step: number | null }
  | { type: 'setTable'; sort: TableSort; filter: TableFilter }
  | { type: 'openPrompt'; promptId: string }
  | OpenGroupMessage
  | RenderedMessage;

/** Characters of the table's text filter (a prompt id or a few words). */
export const MAX_FILTER_CHARS = 200;

function isId(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MESSAGE_LIMITS.maxIdChars;
}

function checkSort(v: unknown, runCount: number): TableSort | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'setTable.sort must be an object';
  const o = v as Record<string, unknown>;
  const extra = onlyKeys(o, ['column', 'dir']);
  if (extra) return `setTable.sort: ${extra}`;
  const column = parseSortColumn(o.column, runCount);
  if (column === null) return 'setTable.sort.column names no column of this table';
  if (o.dir !== 'asc' && o.dir !== 'desc') return 'setTable.sort.dir must be asc or desc';
  return { column, dir: o.dir };
}

function checkFilter(v: unknown): TableFilter | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'setTable.filter must be an object';
  const o = v as Record<string, unknown>;
  const extra = onlyKeys(o, ['text', 'only']);
  if (extra) return `setTable.filter: ${extra}`;
  if (typeof o.text !== 'string' || o.text.length > MAX_FILTER_CHARS) return `setTable.filter.text must be a string of at most ${MAX_FILTER_CHARS} characters`;
  if (typeof o.only !== 'string' || !Object.hasOwn(TABLE_ONLY, o.only)) return 'setTable.filter.only is not a known filter';
  return { text: o.text, only: o.only as TableOnly };
}

/** Validates a message posted by the Compare Runs page; `runCount` is how many runs the panel shows. */
export function validateCompareMessage(raw: unknown, runCount: number): Validated<CompareToHost> {
  const pre = precheck(raw);
  if (!pre.ok) return pre;
  const o = pre.message;
  switch (o.type) {
    case 'ready': {
      const extra = onlyKeys(o, ['type']);
      return extra ? fail(extra) : { ok: true, message: { type: 'ready' } };
    }
    case 'selectStep': {
      const extra = onlyKeys(o, ['type', 'step']);
      if (extra) return fail(extra);
      const step = o.step ?? null;
      if (step !== null && !isRowId(step)) return fail('selectStep.step must be a non-negative integer or null');
      return { ok: true, message: { type: 'selectStep', step } };
    }
    case 'setTable': {
      const extra = onlyKeys(o, ['type', 'sort', 'filter']);
      if (extra) return fail(extra);
      const sort = checkSort(o.sort, runCount);
      if (typeof sort === 'string') return fail(sort);
      const filter = checkFilter(o.filter);
      if (typeof filter === 'string') return fail(filter);
      return { ok: true, message: { type: 'setTable', sort, filter } };
    }
    case 'openPrompt': {
      const extra = onlyKeys(o, ['type', 'promptId']);
      if (extra) return fail(extra);
      if (!isId(o.promptId)) return fail('openPrompt.promptId must be a prompt id');
      return { ok: true, message: { type: 'openPrompt', promptId: o.promptId } };
    }
    case 'openGroup':
      return checkOpenGroup(o);
    case 'rendered':
      return checkRendered(o, 'compare');
    default:
      return fail(`unknown message type "${String(o.type).slice(0, 40)}"`);
  }
}

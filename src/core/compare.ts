// Compare Runs: what the per-prompt table, the overlaid curves and the side-by-side groups show,
// decided without a store, a browser or VS Code. The host builds the table from the store and
// sorts, filters and windows it here; the webview aligns the runs' curves and the groups' members
// here. Pure: unit-tested in test/unit/compare.test.ts.
import type { Verdict } from './protocol';
import type { Variant } from './reward';
import { policyEntropyKey, type ViewStepSeriesPoint } from './messages';

export const MIN_COMPARE_RUNS = 2;
export const MAX_COMPARE_RUNS = 6;
/** Rows of the per-prompt table sent to the page at once; the filter narrows the rest down. */
export const MAX_TABLE_ROWS = 500;
/** "Accuracy differs" filter: two runs' accuracies on a prompt at least this far apart. */
export const SPREAD_THRESHOLD = 0.25;

/** One compared run, as the page shows it (colour = its position in the list). */
export interface CompareRunView {
  runId: string;
  variant: Variant;
  model: string;
  status: string;
  stepCount: number;
  /** the last step at which the run logged groups; null when it logged none */
  lastStep: number | null;
  /** the step metric drawn as this run's policy entropy (see compareEntropyKey) */
  entropyKey: string | null;
}

/** One run's figures for one prompt at one step, read from that step's group of the prompt. */
export interface PromptCell {
  groupId: number;
  step: number;
  /** online members, replaced ones included (they were sampled) */
  n: number;
  /** online members the trainer judged correct (the logged verdicts, as every run figure) */
  correct: number;
  /** mean R_OGER over correct online members that logged one; null when none did */
  meanROger: number | null;
  /** mean entropy of the online members' sampled tokens (token_entropies), all tokens pooled; null when not logged */
  tokenEntropy: number | null;
  /** mean H_last (last-token entropy) over online members that logged it */
  hLast: number | null;
}

export interface PromptRow {
  promptId: string;
  /** the first 160 characters of the prompt, whitespace collapsed */
  preview: string;
  /** one entry per compared run, in the compare order; null: the run has no group of this prompt there */
  cells: Array<PromptCell | null>;
}

export type CellMetric = 'accuracy' | 'roger' | 'entropy' | 'pass';
export const CELL_METRICS: readonly CellMetric[] = ['accuracy', 'roger', 'entropy', 'pass'];

/** `prompt`, `spread`, or `<metric>:<run index>`. */
export type SortColumn = 'prompt' | 'spread' | `${CellMetric}:${number}`;
export interface TableSort {
  column: SortColumn;
  dir: 'asc' | 'desc';
}

/** Which prompts the table keeps. */
export type TableOnly = 'all' | 'disagree' | 'spread' | 'unsolved' | 'missing';
export const TABLE_ONLY: Readonly<Record<TableOnly, string>> = {
  all: 'All prompts',
  disagree: 'Runs disagree (solved by some, not all)',
  spread: `Accuracy differs by ≥ ${Math.round(SPREAD_THRESHOLD * 100)} points`,
  unsolved: 'Solved by no run',
  missing: 'Missing from a run',
};

export interface TableFilter {
  /** case-insensitive substring of the prompt id or its preview */
  text: string;
  only: TableOnly;
}

export const DEFAULT_SORT: TableSort = { column: 'spread', dir: 'desc' };
export const DEFAULT_FILTER: TableFilter = { text: '', only: 'all' };

/** Which entropy the table's entropy column holds. */
export type EntropyKind = 'tokens' | 'hlast' | null;

/** Where the table is read: each run's own last step, or one step for every run (the shared picker). */
export type TableScope = { kind: 'last' } | { kind: 'step'; step: number };

/** The table as the page receives it: a sorted, filtered window of the rows. */
export interface CompareTableView {
  scope: TableScope;
  /** per run, the step its cells come from; null when the run has no groups there */
  steps: Array<number | null>;
  /** k of the pass@k column: the fewest online members of any cell, so every run is judged alike */
  k: number;
  entropyKind: EntropyKind;
  sort: TableSort;
  filter: TableFilter;
  /** prompts in the table before filtering */
  total: number;
  /** prompts the filter kept (rows holds the first MAX_TABLE_ROWS of them) */
  matched: number;
  rows: PromptRow[];
}

// --- per-cell figures -------------------------------------------------------------------------

/**
 * Unbiased pass@k from n samples with c correct (Chen et al. 2021): 1 − C(n−c, k) / C(n, k),
 * computed as a product so it neither overflows nor loses digits. k is clipped to n.
 */
export function passAtK(n: number, c: number, k: number): number | null {
  if (!(n > 0) || c < 0 || c > n || !(k > 0)) return null;
  const kk = Math.min(k, n);
  if (kk === 1) return c / n;
  if (n - c < kk) return 1;
  let miss = 1;
  for (let i = n - c + 1; i <= n; i++) miss *= 1 - kk / i;
  return 1 - miss;
}

export function cellAccuracy(c: PromptCell | null): number | null {
  return c && c.n > 0 ? c.correct / c.n : null;
}

export function cellEntropy(c: PromptCell | null, kind: EntropyKind): number | null {
  if (!c || kind === null) return null;
  return kind === 'tokens' ? c.tokenEntropy : c.hLast;
}

export function cellValue(c: PromptCell | null, metric: CellMetric, k: number, kind: EntropyKind): number | null {
  switch (metric) {
    case 'accuracy':
      return cellAccuracy(c);
    case 'roger':
      return c ? c.meanROger : null;
    case 'entropy':
      return cellEntropy(c, kind);
    case 'pass':
      return c ? passAtK(c.n, c.correct, k) : null;
  }
}

/** Largest minus smallest accuracy over the runs that have the prompt; null with fewer than two. */
export function rowSpread(row: PromptRow): number | null {
  let lo = Infinity;
  let hi = -Infinity;
  let n = 0;
  for (const c of row.cells) {
    const a = cellAccuracy(c);
    if (a === null) continue;
    n++;
    if (a < lo) lo = a;
    if (a > hi) hi = a;
  }
  return n >= 2 ? hi - lo : null;
}

/** k for the table's pass@k: the smallest online count of any cell (1 when there is none). */
export function tableK(rows: readonly PromptRow[]): number {
  let k = Infinity;
  for (const r of rows) for (const c of r.cells) if (c && c.n > 0 && c.n < k) k = c.n;
  return Number.isFinite(k) ? k : 1;
}

/**
 * The table's entropy: the mean token entropy when every run that has cells logged token
 * entropies, else H_last when any cell has it (one kind per column, so runs stay comparable).
 */
export function tableEntropyKind(rows: readonly PromptRow[], runCount: number): EntropyKind {
  const hasCells = new Array<boolean>(runCount).fill(false);
  const hasTokens = new Array<boolean>(runCount).fill(false);
  let anyHLast = false;
  for (const r of rows) {
    r.cells.forEach((c, i) => {
      if (!c) return;
      hasCells[i] = true;
      if (c.tokenEntropy !== null) hasTokens[i] = true;
      if (c.hLast !== null) anyHLast = true;
    });
  }
  const withCells = hasCells.map((v, i) => (v ? i : -1)).filter((i) => i >= 0);
  if (withCells.length > 0 && withCells.every((i) => hasTokens[i])) return 'tokens';
  return anyHLast ? 'hlast' : null;
}

// --- building, filtering, sorting --------------------------------------------------------------

export interface RunCells {
  promptId: string;
  preview: string;
  cell: PromptCell;
}

/** One row per prompt any run has, cells in run order; rows in prompt-id order. */
export function buildRows(perRun: ReadonlyArray<readonly RunCells[]>): PromptRow[] {
  const rows = new Map<string, PromptRow>();
  perRun.forEach((cells, run) => {
    for (const c of cells) {
      let row = rows.get(c.promptId);
      if (!row) {
        row = { promptId: c.promptId, preview: c.preview, cells: new Array<PromptCell | null>(perRun.length).fill(null) };
        rows.set(c.promptId, row);
      }
      row.cells[run] = c.cell;
    }
  });
  return [...rows.values()].sort((a, b) => comparePromptIds(a.promptId, b.promptId));
}

const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'variant' });

/** Prompt ids in natural order (p2 before p10), ties broken by code units so the order is total. */
export function comparePromptIds(a: string, b: string): number {
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Whether a row passes the filter. */
export function keepRow(row: PromptRow, filter: TableFilter): boolean {
  const text = filter.text.trim().toLowerCase();
  if (text && !row.promptId.toLowerCase().includes(text) && !row.preview.toLowerCase().includes(text)) return false;
  const present = row.cells.filter((c): c is PromptCell => c !== null);
  switch (filter.only) {
    case 'all':
      return true;
    case 'disagree':
      return present.some((c) => c.correct > 0) && present.some((c) => c.n > 0 && c.correct === 0);
    case 'spread': {
      const s = rowSpread(row);
      return s !== null && s >= SPREAD_THRESHOLD - 1e-12;
    }
    case 'unsolved':
      return present.length > 0 && present.every((c) => c.correct === 0);
    case 'missing':
      return present.length < row.cells.length;
  }
}

/** Parses a sort column against the number of runs; null when it names nothing in the table. */
export function parseSortColumn(s: unknown, runCount: number): SortColumn | null {
  if (s === 'prompt' || s === 'spread') return s;
  if (typeof s !== 'string') return null;
  const m = /^(accuracy|roger|entropy|pass):(\d)$/.exec(s);
  if (!m) return null;
  const run = Number(m[2]);
  return run < runCount ? (s as SortColumn) : null;
}

/**
 * Sorts in place by the column; a missing value (no group, nothing logged) goes last in either
 * direction, and ties fall back to the prompt id so the order never depends on the input's.
 */
export function sortRows(rows: PromptRow[], sort: TableSort, k: number, kind: EntropyKind): PromptRow[] {
  const sign = sort.dir === 'asc' ? 1 : -1;
  if (sort.column === 'prompt') return rows.sort((a, b) => sign * comparePromptIds(a.promptId, b.promptId));
  let key: (r: PromptRow) => number | null;
  if (sort.column === 'spread') key = rowSpread;
  else {
    const [metric, run] = sort.column.split(':') as [CellMetric, string];
    const i = Number(run);
    key = (r) => cellValue(r.cells[i] ?? null, metric, k, kind);
  }
  const keyed = rows.map((r) => ({ r, v: key(r) }));
  keyed.sort((a, b) => {
    if (a.v === null || b.v === null) {
      if (a.v !== b.v) return a.v === null ? 1 : -1;
    } else if (a.v !== b.v) return sign * (a.v - b.v);
    return comparePromptIds(a.r.promptId, b.r.promptId);
  });
  keyed.forEach((x, i) => (rows[i] = x.r));
  return rows;
}

/** The page's view of a table: filtered, sorted, the first `limit` rows. The input is not changed. */
export function tableView(rows: readonly PromptRow[], scope: TableScope, steps: Array<number | null>, sort: TableSort, filter: TableFilter, runCount: number, limit = MAX_TABLE_ROWS): CompareTableView {
  const k = tableK(rows);
  const entropyKind = tableEntropyKind(rows, runCount);
  const kept = rows.filter((r) => keepRow(r, filter));
  sortRows(kept, sort, k, entropyKind);
  return { scope, steps, k, entropyKind, sort, filter, total: rows.length, matched: kept.length, rows: kept.slice(0, limit) };
}

// --- curves ------------------------------------------------------------------------------------

/**
 * The step metric drawn as a run's policy entropy: the dashboard's choice (policyEntropyKey), an
 * on-policy-only entropy first, since with teacher tokens mixed in the arms are not comparable.
 */
export const compareEntropyKey = policyEntropyKey;

/** The last step of a series that logged groups; null when none did. */
export function lastGroupStep(series: readonly ViewStepSeriesPoint[]): number | null {
  for (let i = series.length - 1; i >= 0; i--) {
    const p = series[i] as ViewStepSeriesPoint;
    if (p.groupCount > 0) return p.step;
  }
  return null;
}

/** Every step any run has, ascending: the x values the overlaid curves share. */
export function unionSteps(series: ReadonlyArray<readonly ViewStepSeriesPoint[]>): number[] {
  const all = new Set<number>();
  for (const s of series) for (const p of s) all.add(p.step);
  return [...all].sort((a, b) => a - b);
}

/** Significant digits of a curve value in transit: a pixel of a 150 px chart is 1/120 of its range. */
export const CURVE_DIGITS = 4;

function forCurve(v: number | null): number | null {
  return v === null || !Number.isFinite(v) || Number.isInteger(v) ? v : Number(v.toPrecision(CURVE_DIGITS));
}

export type CurveId = 'accuracy' | 'entropy' | 'roger' | 'failed' | 'length' | 'offline-advantage';
export const CURVE_IDS: readonly CurveId[] = ['accuracy', 'entropy', 'roger', 'failed', 'length', 'offline-advantage'];

/**
 * The runs' curves as they travel to the page: the steps any run has, once, and per run and curve
 * one column of values on those steps (null where the run has no such step or did not log it).
 * Only what a chart draws is sent, at CURVE_DIGITS: three 2,000-step runs as the dashboard's full
 * columns would be three times its payload.
 */
export interface CompareCurves {
  steps: number[];
  /** response length in tokens when every run logged token counts, else in characters */
  lengthUnit: 'tokens' | 'chars';
  runs: Array<Record<CurveId, Array<number | null>>>;
}

export function compareCurves(series: ReadonlyArray<readonly ViewStepSeriesPoint[]>, entropyKeys: ReadonlyArray<string | null>): CompareCurves {
  const steps = unionSteps(series);
  const tokens = series.every((s) => s.length === 0 || s.some((p) => p.meanResponseTokens !== null));
  const runs = series.map((s, i) => {
    const key = entropyKeys[i] ?? null;
    const col = (f: (p: ViewStepSeriesPoint) => number | null) => alignedValues(steps, s, (p) => forCurve(f(p)));
    return {
      accuracy: col((p) => p.accuracy),
      entropy: col((p) => (key === null ? null : (p.metrics[key] ?? null))),
      roger: col((p) => p.rOgerMean),
      failed: col((p) => p.failedRatio),
      length: col((p) => (tokens ? p.meanResponseTokens : p.meanResponseChars)),
      'offline-advantage': col((p) => p.meanOfflineAdvantage),
    };
  });
  return { steps, lengthUnit: tokens ? 'tokens' : 'chars', runs };
}

/** A run's values on the shared steps: null where the run has no such step. */
export function alignedValues(steps: readonly number[], series: readonly ViewStepSeriesPoint[], value: (p: ViewStepSeriesPoint) => number | null): Array<number | null> {
  const at = new Map<number, ViewStepSeriesPoint>();
  for (const p of series) at.set(p.step, p);
  return steps.map((s) => {
    const p = at.get(s);
    return p ? value(p) : null;
  });
}

// --- groups side by side -----------------------------------------------------------------------

/** One member of a compared group, cut to what the side-by-side view shows (no full text). */
export interface CompareMemberView {
  trajectoryKey: number;
  trajectoryId: string;
  source: 'online' | 'offline';
  index: number;
  teacher: string | null;
  verdict: Verdict;
  rTotal: number | null;
  advantage: number | null;
  rOger: number | null;
  divergence: number | null;
  entropyLast: number | null;
  replaced: boolean;
  inserted: boolean;
  truncated: boolean;
  extracted: string | null;
  /** characters of the full text */
  chars: number;
  /** the end of the text (where the answer is), at most EXCERPT_CHARS */
  excerpt: string;
}

export interface CompareGroupView {
  groupId: number;
  runId: string;
  step: number;
  accuracy: number | null;
  meanROger: number | null;
  zeroStd: boolean;
  members: CompareMemberView[];
}

export interface ComparePromptView {
  promptId: string;
  prompt: string;
  gold: string;
  /** one per compared run, in the compare order; null: the run has no group of this prompt in the table */
  groups: Array<CompareGroupView | null>;
}

/** Characters of a member's text the side-by-side view carries (its end, where the answer is). */
export const EXCERPT_CHARS = 240;
/** Characters of the prompt the side-by-side view carries. */
export const PROMPT_CHARS = 2000;

export function excerptOf(text: string, max = EXCERPT_CHARS): string {
  const t = text.trimEnd();
  return t.length <= max ? t : `…${t.slice(t.length - (max - 1))}`;
}

interface MemberSource {
  trajectoryKey: number;
  event: {
    id: string;
    source: 'online' | 'offline';
    index?: number;
    teacher?: string | null;
    text: string;
    verdict: Verdict;
    r_total?: number | null;
    advantage?: number | null;
    r_oger?: number | null;
    divergence?: number | null;
    entropy_last?: number | null;
    replaced: boolean;
    inserted?: boolean;
    truncated?: boolean;
    extracted_answer?: string | null;
  };
}

/** A stored member (the store's StoredTrajectory, or the inspector's ViewMember) cut for the side-by-side view. */
export function toCompareMember(m: MemberSource): CompareMemberView {
  const e = m.event;
  return {
    trajectoryKey: m.trajectoryKey,
    trajectoryId: e.id,
    source: e.source,
    index: typeof e.index === 'number' ? e.index : 0,
    teacher: e.teacher ?? null,
    verdict: e.verdict,
    rTotal: e.r_total ?? null,
    advantage: e.advantage ?? null,
    rOger: e.r_oger ?? null,
    divergence: e.divergence ?? null,
    entropyLast: e.entropy_last ?? null,
    replaced: e.replaced === true,
    inserted: e.inserted === true,
    truncated: e.truncated === true,
    extracted: e.extracted_answer ?? null,
    chars: e.text.length,
    excerpt: excerptOf(e.text),
  };
}

/** One row of the side-by-side view: the same slot (source and index) in every run's group. */
export interface MemberSlot {
  source: 'online' | 'offline';
  index: number;
  label: string;
  members: Array<CompareMemberView | null>;
}

/**
 * Aligns the groups' members by slot: online members by their index, then teachers by theirs, so
 * a row reads across runs as "the same sample position". Members of one group sharing a slot
 * (a malformed group) take the next free slot rows rather than hide each other.
 */
export function alignMembers(groups: ReadonlyArray<CompareGroupView | null>): MemberSlot[] {
  const slots = new Map<string, MemberSlot>();
  const key = (source: string, index: number, dup: number) => `${source}:${index}:${dup}`;
  groups.forEach((g, run) => {
    if (!g) return;
    const used = new Map<string, number>();
    for (const m of g.members) {
      const base = `${m.source}:${m.index}`;
      const dup = used.get(base) ?? 0;
      used.set(base, dup + 1);
      const k = key(m.source, m.index, dup);
      let slot = slots.get(k);
      if (!slot) {
        slot = { source: m.source, index: m.index, label: m.source === 'online' ? `online #${m.index}` : `teacher #${m.index}`, members: new Array<CompareMemberView | null>(groups.length).fill(null) };
        slots.set(k, slot);
      }
      slot.members[run] = m;
    }
  });
  const order = (s: MemberSlot) => (s.source === 'online' ? 0 : 1);
  return [...slots.entries()]
    .sort(([ka, a], [kb, b]) => order(a) - order(b) || a.index - b.index || ka.localeCompare(kb))
    .map(([, s]) => s);
}

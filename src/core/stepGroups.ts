// The dashboard's table of a step's groups: its columns, its sort, and which groups are "behind" a
// point picked on a curve. A dip in the offline-advantage curve is read by sorting the step's groups
// by their teacher's advantage and marking the ones that pull the mean down; every chart that has a
// per-group figure says the same thing its own way. Pure: the webview draws it, tests check it.
import type { ViewGroupSummary } from './messages';

export type StepGroupColumn = 'prompt' | 'members' | 'accuracy' | 'roger' | 'teacherAdvantage' | 'failed' | 'looping' | 'lints';

export interface StepGroupColumnSpec {
  key: StepGroupColumn;
  label: string;
  /** the header's tooltip: what the number is */
  help: string;
  value: (g: ViewGroupSummary) => number | string | null;
}

export const STEP_GROUP_COLUMNS: readonly StepGroupColumnSpec[] = [
  { key: 'prompt', label: 'Prompt', help: 'The prompt id; click to open the group in the inspector.', value: (g) => g.promptId },
  { key: 'members', label: 'Members', help: 'Trajectories logged for the group (online and teachers).', value: (g) => g.trajectoryCount },
  { key: 'accuracy', label: 'Accuracy', help: 'Fraction of the online members the logged verdict calls correct.', value: (g) => g.accuracy },
  { key: 'roger', label: 'R_OGER μ', help: 'Mean R_OGER = D · exp(−H_last) · R_m over the correct online members.', value: (g) => g.meanROger },
  { key: 'teacherAdvantage', label: 'Teacher A', help: 'Mean GRPO advantage of the teachers inserted into the group; below 0 a correct demonstration is pushed down.', value: (g) => g.meanOfflineAdvantage },
  { key: 'failed', label: 'Failed', help: 'Online responses cut off at the length limit or with a verifier error.', value: (g) => g.failedCount },
  { key: 'looping', label: 'Looping', help: 'Online responses caught in runaway repetition (— when the run was stored before it was counted).', value: (g) => g.runawayCount },
  { key: 'lints', label: 'Lints', help: 'Lints found at ingest; "zero std" marks a group whose advantages are all 0.', value: (g) => g.lintCount },
];

export interface StepGroupSort {
  key: StepGroupColumn;
  /** 1 ascending, -1 descending */
  dir: 1 | -1;
}

/** What a curve's point means for the step's groups: how to sort them and which ones to mark. */
export interface PointFocus {
  sort: StepGroupSort;
  /** the groups behind the point */
  behind: (g: ViewGroupSummary) => boolean;
  /** says which groups are marked, for the table's caption */
  why: string;
}

/** Per chart id (the dashboard's curves). Curves with no per-group figure (entropy, length) have none. */
const FOCUS: Readonly<Record<string, PointFocus>> = {
  'offline-advantage': { sort: { key: 'teacherAdvantage', dir: 1 }, behind: (g) => g.meanOfflineAdvantage !== null && g.meanOfflineAdvantage < 0, why: 'a teacher with negative advantage (pushed down)' },
  accuracy: { sort: { key: 'accuracy', dir: 1 }, behind: (g) => g.accuracy === 0, why: 'no online member correct' },
  roger: { sort: { key: 'roger', dir: -1 }, behind: (g) => g.meanROger !== null && g.meanROger > 0, why: 'an exploration reward (R_OGER > 0)' },
  failed: { sort: { key: 'failed', dir: -1 }, behind: (g) => g.failedCount > 0, why: 'a truncated or errored response' },
  repetition: { sort: { key: 'looping', dir: -1 }, behind: (g) => (g.runawayCount ?? 0) > 0, why: 'a response caught in runaway repetition' },
};

export function pointFocus(chartId: string | null): PointFocus | null {
  return chartId === null ? null : FOCUS[chartId] ?? null;
}

/**
 * The groups in table order: by `sort` (missing values last whatever the direction, then by group
 * id so equal rows keep a stable order), or in stored order without one.
 */
export function sortStepGroups(groups: readonly ViewGroupSummary[], sort: StepGroupSort | null): ViewGroupSummary[] {
  if (!sort) return [...groups];
  const spec = STEP_GROUP_COLUMNS.find((c) => c.key === sort.key);
  if (!spec) return [...groups];
  return [...groups].sort((a, b) => {
    const x = spec.value(a);
    const y = spec.value(b);
    if (x === null || y === null) return x === y ? a.groupId - b.groupId : x === null ? 1 : -1;
    const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
    return c !== 0 ? c * sort.dir : a.groupId - b.groupId;
  });
}

/** A click on a header: the first click sorts the column the way its values read best, a second reverses it. */
export function nextSort(current: StepGroupSort | null, key: StepGroupColumn): StepGroupSort {
  if (current?.key === key) return { key, dir: current.dir === 1 ? -1 : 1 };
  return { key, dir: key === 'prompt' || key === 'accuracy' || key === 'teacherAdvantage' ? 1 : -1 };
}

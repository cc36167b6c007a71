// The run dashboard: step curves over the whole run; clicking a step shows its groups, the D vs
// H_last scatter coloured by verdict and the R_total histogram; clicking a group or a point opens
// the inspector through the host.
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import baseCss from '../shared/base.css';
import gridCss from '../shared/grid.css';
import dashboardCss from './dashboard.css';
import { installStyles } from '../shared/styles';
import { h, textEl, clear } from '../shared/dom';
import { onHostMessage, post, takeInitialMessage } from '../shared/vscode';
import { reportAfterPaint } from '../shared/perf';
import { emptyState, errorState, loadingState } from '../shared/states';
import { fmtNum, fmtPercent, fmtSigned } from '../../src/core/format';
import type { DashboardToHost, HostToDashboard, ViewStepPoint, ViewStepSeriesPoint, ViewGroupSummary } from '../../src/core/messages';
import { fromSeriesColumns, policyEntropyKey, warmStartProgress, warmStartSteps } from '../../src/core/messages';
import { REPETITION } from '../../src/core/repetition';
import { nextSort, pointFocus, sortStepGroups, STEP_GROUP_COLUMNS, type StepGroupColumn, type StepGroupSort } from '../../src/core/stepGroups';
import { createGrid, type GridColumn, type GridSort } from '../shared/grid';
import type { Variant } from '../../src/core/reward';
import { histogram, lineChart, scatter, type ScatterPoint, type Series } from './charts';
import type { AxisKind } from './axes';

installStyles(baseCss + gridCss + dashboardCss);

const app = document.getElementById('app') as HTMLElement;

interface State {
  runId: string | null;
  variant: Variant | null;
  series: ViewStepSeriesPoint[];
  selectedStep: number | null;
  step: { step: number; points: ViewStepPoint[]; groups: ViewGroupSummary[] } | null;
  stepLoading: boolean;
  /** the chart whose point picked the step: it decides the groups table's first sort and marks */
  pickedFrom: string | null;
  /** the table's sort once the user chose one (a header click); null: the picked chart's */
  groupSort: StepGroupSort | null;
}

const state: State = { runId: null, variant: null, series: [], selectedStep: null, step: null, stepLoading: false, pickedFrom: null, groupSort: null };

function send(m: DashboardToHost): void {
  post(m);
}

function metric(p: ViewStepSeriesPoint, key: string | null): number | null {
  if (key === null) return null;
  const v = p.metrics[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

let curvesEl: HTMLElement | null = null;
let pickers: Array<(step: number | null) => void> = [];
let stepEl: HTMLElement | null = null;
/** chart id → its title, for the groups table's caption */
let chartTitles = new Map<string, string>();

function chartWidth(columns: number): number {
  const total = Math.max(320, (app.clientWidth || document.documentElement.clientWidth || 900) - 32);
  return Math.floor((total - (columns - 1) * 12) / columns);
}

function columns(): number {
  const w = app.clientWidth || document.documentElement.clientWidth || 900;
  return w > 1100 ? 3 : w > 700 ? 2 : 1;
}

function renderCurves(): HTMLElement {
  const s = state.series;
  const steps = s.map((p) => p.step);
  const cols = columns();
  const w = chartWidth(cols);
  const hgt = 150;
  const tokens = s.some((p) => p.meanResponseTokens !== null);
  const names = new Set(s.flatMap((p) => Object.keys(p.metrics)));
  const eKey = policyEntropyKey(names);
  const warm = s.some((p) => p.step < 0);
  // During a warm start the entropy chart also shows the promote and suppress subsets' token
  // entropies (teacher-forced): whether OXA kept entropy up is read against them.
  const entropySeries: Series[] = [{ name: eKey === 'actor/entropy_on_policy' ? 'on-policy' : 'entropy', cls: 's-blue', values: s.map((p) => metric(p, eKey)) }];
  if (names.has('sft/entropy_promote')) entropySeries.push({ name: 'warm-start promote', cls: 's-green', values: s.map((p) => metric(p, 'sft/entropy_promote')) });
  if (names.has('sft/entropy_suppress')) entropySeries.push({ name: 'warm-start suppress', cls: 's-red', values: s.map((p) => metric(p, 'sft/entropy_suppress')) });
  const specs: Array<{ id: string; title: string; help: string; series: Series[]; markers?: boolean; zeroLine?: boolean; axis?: AxisKind; nonNegative?: boolean; format?: (v: number) => string }> = [
    { id: 'accuracy', title: 'Accuracy (online members)', help: 'Fraction of the step’s sampled responses (replaced ones included) the logged verdict calls correct; teachers are not counted.', series: [{ name: 'accuracy', cls: 's-green', values: s.map((p) => p.accuracy) }], markers: true, axis: 'ratio', format: (v) => fmtPercent(v) },
    { id: 'entropy', title: `Policy entropy${eKey ? ` (${eKey})` : ''}`, help: 'Mean per-token entropy of the policy as the trainer logged it; actor/entropy_on_policy leaves teacher tokens out, so it is the one comparable across variants.', series: entropySeries, nonNegative: true },
    { id: 'roger', title: 'R_OGER mean / max', help: 'R_OGER = D · exp(−H_last) · R_m over the online members that logged one: its mean and its largest value at each step.', series: [{ name: 'mean', cls: 's-blue', values: s.map((p) => p.rOgerMean) }, { name: 'max', cls: 's-purple', values: s.map((p) => p.rOgerMax) }], nonNegative: true },
    { id: 'failed', title: 'Failed responses', help: 'Fraction of online responses cut off at the length limit or whose verdict is a verifier error.', series: [{ name: 'failed', cls: 's-red', values: s.map((p) => p.failedRatio) }], axis: 'ratio', format: (v) => fmtPercent(v) },
    { id: 'repetition', title: 'Runaway repetition', help: `Online responses in which one window of ${REPETITION.window} words recurs ${REPETITION.minRepeats} times or more: the policy is stuck in a loop (found at ingest; the inspector marks the loop).`, series: [{ name: 'looping', cls: 's-purple', values: s.map((p) => p.runawayCount) }], axis: 'integer', nonNegative: true, format: (v) => fmtNum(v, 0) },
    { id: 'length', title: tokens ? 'Response length (tokens)' : 'Response length (characters)', help: 'Mean length of the online responses at each step.', series: [{ name: 'length', cls: 's-orange', values: s.map((p) => (tokens ? p.meanResponseTokens : p.meanResponseChars)) }], axis: 'integer', nonNegative: true, format: (v) => fmtNum(v, 1) },
    { id: 'offline-advantage', title: 'Advantage of the offline member', help: 'Mean GRPO advantage of the teacher trajectories inserted into the groups; below 0 a correct demonstration is pushed down.', series: [{ name: 'advantage', cls: 's-yellow', values: s.map((p) => p.meanOfflineAdvantage) }], zeroLine: true },
  ];
  chartTitles = new Map(specs.map((spec) => [spec.id, spec.title]));
  // A chart with no value at any step is left out, with one line saying why: a GRPO run has no
  // R_OGER and no teacher, and empty frames would read as something broken.
  const logged = specs.filter((spec) => spec.series.some((se) => se.values.some((v) => v !== null)));
  const missing = specs.filter((spec) => !logged.includes(spec));
  const grid = h('div', { class: `curves cols-${cols}`, 'data-testid': 'curves' });
  pickers = [];
  if (missing.length) {
    const note = h('p', { class: 'muted not-charted', 'data-testid': 'not-charted', 'data-charts': missing.map((m) => m.id).join(' ') }, 'Not charted: ');
    note.appendChild(document.createTextNode(missing.map((m) => `${m.title} (${notLoggedReason(m.id, state.variant, eKey)})`).join('; ')));
    grid.appendChild(note);
  }
  for (const spec of logged) {
    const chart = lineChart({ ...spec, steps, markers: spec.markers ?? false, selectedStep: state.selectedStep, onPick: (step) => selectStep(step, spec.id), warmStartBefore: warm ? 0 : null }, w, hgt);
    grid.appendChild(chart.element);
    pickers.push(chart.setPicked);
  }
  return grid;
}

/** Why a chart has nothing to draw for this run, in the researcher's terms. */
function notLoggedReason(chartId: string, variant: Variant | null, entropyKey: string | null): string {
  const name = (variant ?? 'this').toUpperCase();
  switch (chartId) {
    case 'roger': return variant === 'grpo' || variant === 'luffy' ? `a ${name} run has no OGER reward` : 'no correct online member has an R_OGER yet';
    case 'offline-advantage': return variant === 'grpo' ? 'a GRPO group has no teacher trajectory' : 'no group has a teacher trajectory yet';
    case 'entropy': return entropyKey === null ? 'the run logs no policy-entropy metric' : `${entropyKey} is null at every step`;
    case 'length': return 'no response lengths were logged';
    case 'repetition': return 'the run was stored before Reward Lens counted loops at ingest; import it again into a new store to count them';
    default: return 'no group has been logged yet';
  }
}

function verdictVar(v: string): string {
  return v === 'correct' ? '--vscode-charts-green' : v === 'wrong' ? '--vscode-charts-red' : '--vscode-charts-yellow';
}

function renderStep(): HTMLElement {
  const sec = h('section', { class: 'step-detail', 'data-testid': 'step-detail' });
  if (state.selectedStep === null) {
    sec.appendChild(h('p', { class: 'muted', 'data-testid': 'step-hint' }, 'Click a point on a curve to see that step’s groups, its D against H_last scatter and its R_total histogram.'));
    return sec;
  }
  sec.setAttribute('data-step', String(state.selectedStep));
  if (state.selectedStep < 0) {
    const n = warmStartSteps(state.series);
    const k = warmStartProgress(state.selectedStep, n);
    sec.appendChild(h('h2', {}, k === 0 ? `Step ${state.selectedStep}: before the warm start` : `Step ${state.selectedStep}: warm start, after ${k} of ${n} optimizer steps`));
    sec.appendChild(h('p', { class: 'muted warm-start-note', 'data-testid': 'warm-start-note' },
      'Before RL the policy is fine-tuned on teacher traces (SFT, or OXA: low-confidence correct traces promoted, confident wrong self-samples suppressed). It samples no groups, so this step has no rollouts; the entropy chart shows its on-policy probe and, for OXA, the promote and suppress subsets.'));
    return sec;
  }
  sec.appendChild(h('h2', {}, `Step ${state.selectedStep}`));
  if (state.stepLoading || !state.step || state.step.step !== state.selectedStep) {
    sec.appendChild(loadingState(`step ${state.selectedStep}`));
    return sec;
  }
  const { points, groups } = state.step;
  const charts = h('div', { class: 'step-charts' });
  const w = chartWidth(2);
  const sp: ScatterPoint[] = points.map((p) => ({
      x: p.divergence,
      y: p.entropyLast,
      colorVar: verdictVar(p.verdict),
      label: `${p.trajectoryId}: D ${fmtNum(p.divergence)}, H_last ${fmtNum(p.entropyLast)}, ${p.verdict}, R_total ${fmtNum(p.rTotal)}${p.replaced ? ' (replaced)' : ''}`,
      payload: { groupId: p.groupId, trajectoryKey: p.trajectoryKey },
    }));
  charts.appendChild(scatter(sp, w, 220, 'D (divergence from teachers)', 'H_last', (p) => send({ type: 'openGroup', groupId: p.payload.groupId, focusTrajectoryKey: p.payload.trajectoryKey })));
  charts.appendChild(histogram(points.map((p) => p.rTotal).filter((v): v is number => v !== null), w, 220, 'R_total of online members'));
  sec.appendChild(charts);
  sec.appendChild(h('div', { class: 'legend' }, h('span', { class: 'key s-green' }, 'correct'), h('span', { class: 'key s-red' }, 'wrong'), h('span', { class: 'key s-yellow' }, 'error')));
  if (!groups.length) {
    sec.appendChild(emptyState('No groups at this step', 'The trainer logged step metrics but no group events for this step.'));
    return sec;
  }
  sec.appendChild(renderGroupsTable(groups));
  return sec;
}

/** How the dashboard draws each of the step table's columns (what they mean is in core/stepGroups.ts). */
const GROUP_CELLS: Readonly<Record<StepGroupColumn, { width: string; num?: boolean; cell: (g: ViewGroupSummary) => string }>> = {
  prompt: { width: 'minmax(6em, 0.8fr)', cell: (g) => g.promptId },
  members: { width: '6.5em', num: true, cell: (g) => String(g.trajectoryCount) },
  accuracy: { width: '6.5em', num: true, cell: (g) => fmtPercent(g.accuracy) },
  roger: { width: '6.5em', num: true, cell: (g) => fmtNum(g.meanROger) },
  teacherAdvantage: { width: '8.5em', num: true, cell: (g) => (g.meanOfflineAdvantage === null ? '—' : fmtSigned(g.meanOfflineAdvantage)) },
  failed: { width: '5em', num: true, cell: (g) => String(g.failedCount) },
  looping: { width: '6.5em', num: true, cell: (g) => (g.runawayCount === null ? '—' : String(g.runawayCount)) },
  lints: { width: '9em', num: true, cell: (g) => (g.zeroStd ? `${g.lintCount} · zero std` : String(g.lintCount)) },
};

const GROUP_COLUMNS: readonly GridColumn<ViewGroupSummary>[] = [
  ...STEP_GROUP_COLUMNS.map((c) => ({ key: c.key, label: c.label, help: c.help, ...GROUP_CELLS[c.key] })),
  { key: 'preview', label: 'Prompt text', help: 'The start of the prompt.', width: 'minmax(8em, 2fr)', sortable: false, cell: (g: ViewGroupSummary) => g.promptPreview },
];

const toGridSort = (s: StepGroupSort | null): GridSort | null => (s ? { key: s.key, dir: s.dir === 1 ? 'asc' : 'desc' } : null);

/**
 * The step's groups in the table component the trajectories table uses (shared/grid.ts): sortable
 * by every column (click or Enter on a header), a row (click, or Enter on the grid) opens its group.
 * Picked on a curve with a per-group figure, the table opens sorted by it and marks the groups
 * behind the point.
 */
function renderGroupsTable(groups: ViewGroupSummary[]): HTMLElement {
  const wrap = h('div', { class: 'groups-wrap' });
  const focus = pointFocus(state.pickedFrom);
  const behind = new Set(focus ? groups.filter(focus.behind).map((g) => g.groupId) : []);
  if (focus) {
    const title = chartTitles.get(state.pickedFrom ?? '') ?? state.pickedFrom;
    wrap.appendChild(h('p', { class: 'muted groups-caption', 'data-testid': 'groups-caption', 'data-behind': behind.size },
      behind.size ? `Picked on “${title}”: ${behind.size} of ${groups.length} groups marked, with ${focus.why}.` : `Picked on “${title}”: no group at this step has ${focus.why}.`));
  }
  let rows: ViewGroupSummary[] = [];
  const show = (): void => {
    const sort = state.groupSort ?? focus?.sort ?? null;
    rows = sortStepGroups(groups, sort);
    grid.setSort(toGridSort(sort));
    grid.setRows(rows.length, (i) => rows[i]);
  };
  const grid = createGrid<ViewGroupSummary>({
    columns: GROUP_COLUMNS,
    label: `Groups of step ${state.selectedStep}`,
    testId: 'step-groups',
    sortTestIdPrefix: '',
    rowAttrs: (g) => ({ 'data-testid': `group-${g.groupId}`, 'data-group-row': g.groupId, ...(behind.has(g.groupId) ? { 'data-behind': 'true' } : {}) }),
    rowClass: (g) => (behind.has(g.groupId) ? 'behind' : ''),
    onSort: (key) => {
      state.groupSort = nextSort(state.groupSort ?? focus?.sort ?? null, key as StepGroupColumn);
      show();
    },
    onOpen: (g) => send({ type: 'openGroup', groupId: g.groupId, focusTrajectoryKey: null }),
    fitRows: 12,
    allRowsUpTo: 1000,
  });
  wrap.appendChild(grid.element);
  show();
  return wrap;
}

function selectStep(step: number, fromChart: string | null = null): void {
  if (!state.runId) return;
  state.selectedStep = step;
  state.pickedFrom = fromChart;
  state.groupSort = null;
  for (const setPicked of pickers) setPicked(step);
  if (step < 0) { // a warm-start step has no groups to ask the host for
    rerenderStep();
    return;
  }
  state.stepLoading = true;
  rerenderStep();
  send({ type: 'selectStep', runId: state.runId, step });
}

function redrawCurves(): void {
  const t = curvesEl;
  if (!t) return;
  const fresh = renderCurves();
  t.replaceWith(fresh);
  curvesEl = fresh;
}

function rerenderStep(): void {
  // A redraw (a resize, a new step) keeps the keyboard where it was: on the same header button, or
  // on the groups grid.
  const active = document.activeElement;
  const focused = active instanceof HTMLElement && stepEl?.contains(active) ? active.getAttribute('data-testid') : null;
  const fresh = renderStep();
  stepEl?.replaceWith(fresh);
  stepEl = fresh;
  if (focused) (fresh.querySelector(`[data-testid="${CSS.escape(focused)}"]`) as HTMLElement | null)?.focus();
}

function renderAll(t0: number): void {
  clear(app);
  const head = h('header', { class: 'dash-head', 'data-testid': 'dashboard-header' });
  const title = h('h1', {}, 'Run ');
  title.appendChild(textEl('span', { class: 'mono', 'data-testid': 'run-id' }, state.runId ?? ''));
  head.appendChild(title);
  head.appendChild(h('span', { class: 'badge' }, (state.variant ?? '').toUpperCase()));
  const warmSteps = warmStartSteps(state.series);
  const rlSteps = state.series.filter((p) => p.step >= 0).length;
  head.appendChild(h('span', { class: 'badge', 'data-testid': 'step-count', 'data-value': rlSteps }, `${rlSteps} step${rlSteps === 1 ? '' : 's'}`));
  if (warmSteps) head.appendChild(h('span', { class: 'badge', 'data-testid': 'warm-start-count', 'data-value': warmSteps, title: 'steps of the supervised warm start before RL, numbered below 0' }, `after ${warmSteps} warm-start steps`));
  app.appendChild(head);
  curvesEl = renderCurves();
  stepEl = renderStep();
  app.append(curvesEl, stepEl);
  reportAfterPaint('dashboard', 'series', t0, state.series.length);
}

function handleHostMessage(msg: HostToDashboard): void {
  const t0 = performance.now();
  switch (msg.type) {
    case 'loading':
      clear(app);
      app.appendChild(loadingState('run'));
      break;
    case 'empty':
      clear(app);
      app.appendChild(emptyState('Nothing to chart yet', msg.reason));
      break;
    case 'error':
      clear(app);
      app.appendChild(errorState('The dashboard could not load', msg.message));
      break;
    case 'series':
      state.runId = msg.runId;
      state.variant = msg.variant;
      state.series = fromSeriesColumns(msg.series);
      if (msg.selectedStep !== null) state.selectedStep = msg.selectedStep;
      if (!state.series.length) {
        clear(app);
        app.appendChild(emptyState('No steps yet', 'The run has started but has not logged a step. The dashboard updates as steps arrive.'));
        break;
      }
      renderAll(t0);
      break;
    case 'step':
      if (msg.runId !== state.runId || msg.step !== state.selectedStep) break;
      state.step = { step: msg.step, points: msg.points, groups: msg.groups };
      state.stepLoading = false;
      rerenderStep();
      reportAfterPaint('dashboard', 'step', t0, msg.points.length);
      break;
  }
}
onHostMessage<HostToDashboard>(handleHostMessage);

// ← / → step through the run without the mouse once a step is picked.
document.addEventListener('keydown', (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || state.selectedStep === null || !state.series.length) return;
  if (ev.key !== 'ArrowLeft' && ev.key !== 'ArrowRight') return;
  const i = state.series.findIndex((p) => p.step === state.selectedStep);
  const next = state.series[i + (ev.key === 'ArrowRight' ? 1 : -1)];
  if (i < 0 || !next) return;
  ev.preventDefault();
  selectStep(next.step);
});

let resizeTimer: ReturnType<typeof setTimeout> | undefined;
let lastWidth = -1;
// Charts are drawn at the page's width; redraw only when that width really changes (the observer
// also fires once on start).
new ResizeObserver(() => {
  const width = document.documentElement.clientWidth;
  if (width === lastWidth) return;
  const first = lastWidth < 0;
  lastWidth = width;
  if (first) return;
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    if (state.series.length && curvesEl) {
      redrawCurves();
      rerenderStep();
    }
  }, 150);
}).observe(document.documentElement);

// A new panel usually arrives with its series in the page; the host then does not send it again.
const initial = takeInitialMessage<HostToDashboard>();
if (initial) {
  handleHostMessage(initial);
} else {
  clear(app);
  app.appendChild(loadingState('run'));
}
send({ type: 'ready' });

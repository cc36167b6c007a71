// Compare Runs: 2 to 6 runs of one store. Their curves overlaid (the dashboard's charts, one colour
// per run) with one step picker for all of them; the settings that differ; a per-prompt table
// (accuracy, mean R_OGER, entropy and pass@k per run, at each run's last step or at the picked
// step), sorted and filtered by the host; and one prompt's groups side by side, members aligned by
// slot, each opening in the inspector. Everything from the store enters the DOM as text nodes.
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import baseCss from '../shared/base.css';
import dashboardCss from '../dashboard/dashboard.css';
import compareCss from './compare.css';
import { installStyles } from '../shared/styles';
import { appendText, clear, h, textEl } from '../shared/dom';
import { onHostMessage, post, takeInitialMessage } from '../shared/vscode';
import { reportAfterPaint } from '../shared/perf';
import { emptyState, errorState, loadingState } from '../shared/states';
import { fmtNum, fmtPercent, fmtSigned, signOf } from '../../src/core/format';
import {
  alignMembers, cellValue, rowSpread, TABLE_ONLY,
  type CellMetric, type CompareCurves, type CompareMemberView, type ComparePromptView, type CompareRunView, type CompareTableView, type CurveId, type PromptRow, type SortColumn, type TableOnly,
} from '../../src/core/compare';
import type { ConfigDiff } from '../../src/core/compareConfig';
import type { CompareToHost, HostToCompare } from '../../src/core/compareMessages';
import { lineChart, type Series } from '../dashboard/charts';
import type { AxisKind } from '../dashboard/axes';

installStyles(baseCss + dashboardCss + compareCss);

const app = document.getElementById('app') as HTMLElement;
/** One theme colour per run, in the compare order (the dashboard's series classes). */
const RUN_CLASSES = ['s-blue', 's-orange', 's-purple', 's-green', 's-yellow', 's-red'] as const;

interface State {
  runs: CompareRunView[];
  curves: CompareCurves | null;
  config: ConfigDiff | null;
  table: CompareTableView | null;
  selectedStep: number | null;
  /** the prompt id of the selected table row */
  selectedPrompt: string | null;
  prompt: ComparePromptView | null;
  promptLoading: string | null;
  promptError: string | null;
}

const state: State = { runs: [], curves: null, config: null, table: null, selectedStep: null, selectedPrompt: null, prompt: null, promptLoading: null, promptError: null };

function send(m: CompareToHost): void {
  post(m);
}

const runClass = (i: number): string => RUN_CLASSES[i % RUN_CLASSES.length] as string;

function swatch(i: number): HTMLElement {
  return h('span', { class: `swatch ${runClass(i)}`, 'aria-hidden': 'true' });
}

// --- header and settings -------------------------------------------------------------------------

function renderHeader(): HTMLElement {
  const head = h('header', { class: 'compare-head', 'data-testid': 'compare-header' });
  head.appendChild(h('h1', {}, `Compare ${state.runs.length} runs`));
  const keys = h('ul', { class: 'run-keys', 'data-testid': 'run-legend' });
  state.runs.forEach((r, i) => {
    const li = h('li', { class: `run-key ${runClass(i)}`, 'data-testid': `run-key-${i}`, 'data-run-id': r.runId });
    li.appendChild(swatch(i));
    li.appendChild(textEl('span', { class: 'name' }, r.runId));
    li.appendChild(h('span', { class: 'badge' }, r.variant.toUpperCase()));
    li.appendChild(textEl('span', { class: 'muted' }, `${r.status} · ${r.stepCount} steps · last step ${r.lastStep ?? '—'}`));
    keys.appendChild(li);
  });
  head.appendChild(keys);
  return head;
}

function renderConfig(): HTMLElement {
  const sec = h('section', { class: 'config', 'data-testid': 'config-diff' });
  const diff = state.config;
  const title = h('h2', {}, 'Settings that differ');
  sec.appendChild(title);
  if (!diff) return sec;
  title.appendChild(h('span', { class: 'muted', 'data-testid': 'config-same', 'data-value': diff.same }, `${diff.same} equal setting${diff.same === 1 ? '' : 's'} hidden${diff.truncated ? '; a config too large to list in full was cut' : ''}`));
  if (!diff.rows.length) {
    sec.appendChild(h('p', { class: 'muted', 'data-testid': 'config-identical' }, 'Every setting recorded at run_start (config, reward, encoder, verifier, model, variant) is the same in these runs.'));
    return sec;
  }
  const table = h('table', { class: 'config-diff' });
  const headRow = h('tr', {}, h('th', {}, 'setting'));
  state.runs.forEach((r, i) => {
    const th = h('th', { class: runClass(i) }, swatch(i), ' ');
    appendText(th, r.runId);
    headRow.appendChild(th);
  });
  table.appendChild(h('thead', {}, headRow));
  const body = h('tbody');
  for (const row of diff.rows) {
    const tr = h('tr', { 'data-testid': 'config-row', 'data-path': row.path });
    tr.appendChild(textEl('td', { class: 'path' }, row.path));
    for (const v of row.values) tr.appendChild(v === null ? h('td', { class: 'value absent' }, 'absent') : textEl('td', { class: 'value' }, v));
    body.appendChild(tr);
  }
  table.appendChild(body);
  sec.appendChild(table);
  return sec;
}

// --- curves ---------------------------------------------------------------------------------------

let curvesEl: HTMLElement | null = null;
let pickers: Array<(step: number | null) => void> = [];

function columns(): number {
  const w = app.clientWidth || document.documentElement.clientWidth || 900;
  return w > 1100 ? 3 : w > 700 ? 2 : 1;
}

function chartWidth(cols: number): number {
  const total = Math.max(320, (app.clientWidth || document.documentElement.clientWidth || 900) - 32);
  return Math.floor((total - (cols - 1) * 12) / cols);
}

function entropyTitle(): string {
  const keys = [...new Set(state.runs.map((r) => r.entropyKey).filter((k): k is string => k !== null))];
  if (keys.length === 0) return 'Policy entropy';
  if (keys.length === 1) return `Policy entropy (${keys[0]})`;
  return `Policy entropy (${state.runs.map((r) => r.entropyKey ?? '—').join(' / ')})`;
}

function renderCurves(): HTMLElement {
  const c = state.curves as CompareCurves;
  const cols = columns();
  const w = chartWidth(cols);
  const specs: Array<{ id: CurveId; title: string; axis?: AxisKind; nonNegative?: boolean; zeroLine?: boolean; markers?: boolean; format?: (v: number) => string }> = [
    { id: 'accuracy', title: 'Accuracy (online members)', axis: 'ratio', markers: true, format: (v) => fmtPercent(v) },
    { id: 'entropy', title: entropyTitle(), nonNegative: true },
    { id: 'roger', title: 'R_OGER mean (online members)', nonNegative: true },
    { id: 'failed', title: 'Failed-response ratio (truncated or verifier error)', axis: 'ratio', format: (v) => fmtPercent(v) },
    { id: 'length', title: c.lengthUnit === 'tokens' ? 'Response length (tokens)' : 'Response length (characters)', axis: 'integer', nonNegative: true, format: (v) => fmtNum(v, 1) },
    { id: 'offline-advantage', title: 'Advantage of the offline member', zeroLine: true },
  ];
  const grid = h('div', { class: `curves cols-${cols}`, 'data-testid': 'curves', 'data-steps': c.steps.length });
  pickers = [];
  for (const spec of specs) {
    const series: Series[] = state.runs.map((r, i) => ({ name: r.runId, cls: runClass(i), values: c.runs[i]?.[spec.id] ?? [] }));
    const chart = lineChart({ ...spec, steps: c.steps, series, markers: spec.markers ?? false, selectedStep: state.selectedStep, onPick: (s) => selectStep(s) }, w, 150);
    chart.element.querySelector('[data-testid^=chart-empty-]')?.replaceChildren('Not logged by these runs.');
    chart.element.setAttribute('data-series', String(series.length));
    grid.appendChild(chart.element);
    pickers.push(chart.setPicked);
  }
  return grid;
}

function selectStep(step: number | null): void {
  state.selectedStep = step;
  for (const setPicked of pickers) setPicked(step);
  renderScope();
  send({ type: 'selectStep', step });
}

// --- the per-prompt table ---------------------------------------------------------------------------

let scopeEl: HTMLElement | null = null;
let tableHolder: HTMLElement | null = null;
let countEl: HTMLElement | null = null;
let filterInput: HTMLInputElement | null = null;
let onlySelect: HTMLSelectElement | null = null;
let filterTimer: ReturnType<typeof setTimeout> | undefined;

const METRIC_LABEL: Record<CellMetric, string> = { accuracy: 'acc', roger: 'R_OGER μ', entropy: 'H', pass: 'pass' };

function metricLabel(metric: CellMetric, t: CompareTableView): string {
  if (metric === 'entropy') return t.entropyKind === 'tokens' ? 'H̄ tok' : t.entropyKind === 'hlast' ? 'H_last μ' : 'H';
  if (metric === 'pass') return `pass@${t.k}`;
  return METRIC_LABEL[metric];
}

function metricTitle(metric: CellMetric, t: CompareTableView): string {
  switch (metric) {
    case 'accuracy':
      return 'share of the online responses judged correct (logged verdicts): pass@1';
    case 'roger':
      return 'mean R_OGER over the correct online responses';
    case 'entropy':
      return t.entropyKind === 'tokens'
        ? 'mean entropy (nats) of the sampled tokens of the online responses'
        : t.entropyKind === 'hlast' ? 'mean last-token entropy H_last (nats) of the online responses (no token entropies were logged)' : 'no entropy was logged';
    case 'pass':
      return `unbiased pass@${t.k}: the chance that ${t.k} of the group's online responses include a correct one (k is the smallest group, so every run is judged alike)`;
  }
}

function formatValue(metric: CellMetric, v: number | null): string {
  return metric === 'accuracy' || metric === 'pass' ? fmtPercent(v) : fmtNum(v);
}

function renderScope(): void {
  const t = state.table;
  const el = h('p', { class: 'scope', 'data-testid': 'table-scope', 'data-step': state.selectedStep ?? '' });
  if (t) {
    if (state.selectedStep === null) {
      el.append(`Per prompt at each run's last step with groups: ${state.runs.map((r, i) => `${r.runId} step ${t.steps[i] ?? '—'}`).join(', ')}. Pick a step on any curve to compare the runs there.`);
    } else {
      el.append(`Per prompt at step ${state.selectedStep}, picked on the curves (← / → move it).`);
      const back = h('button', { class: 'plain', type: 'button', 'data-testid': 'scope-last' }, 'Back to each run’s last step');
      back.addEventListener('click', () => selectStep(null));
      el.append(' ', back);
    }
  }
  scopeEl?.replaceWith(el);
  scopeEl = el;
}

function sendTable(column?: SortColumn): void {
  const t = state.table;
  if (!t) return;
  let sort = t.sort;
  if (column) sort = column === t.sort.column ? { column, dir: t.sort.dir === 'asc' ? 'desc' : 'asc' } : { column, dir: column === 'prompt' ? 'asc' : 'desc' };
  send({ type: 'setTable', sort, filter: { text: filterInput?.value ?? '', only: (onlySelect?.value ?? 'all') as TableOnly } });
}

function sortHeader(label: string, column: SortColumn, t: CompareTableView, attrs: Record<string, string | number> = {}, title?: string): HTMLElement {
  const active = t.sort.column === column;
  const th = h('th', { ...attrs, 'aria-sort': active ? (t.sort.dir === 'asc' ? 'ascending' : 'descending') : 'none' });
  const b = h('button', { class: 'sort', type: 'button', 'data-testid': `sort-${column.replace(':', '-')}`, title: title ?? `sort by ${label}` }, label);
  b.addEventListener('click', () => sendTable(column));
  th.appendChild(b);
  return th;
}

/** Rows drawn before the first frame; the rest follow in chunks (a screenful is about 15). */
const FIRST_ROWS = 40;
const ROW_CHUNK = 120;
/** Column widths (em) of the fixed table layout: the layout then never measures every cell, and rows added later cannot move the columns. */
const COL_EM = { prompt: 11, accuracy: 4, roger: 5.8, entropy: 4.8, pass: 5.2, spread: 5.6 } as const;
let tableGen = 0;

function renderTable(): HTMLElement {
  const t = state.table as CompareTableView;
  const wrap = h('div', { class: 'table-wrap' });
  const table = h('table', { class: 'prompts', 'data-testid': 'prompt-table', 'data-sort': `${t.sort.column} ${t.sort.dir}`, 'data-matched': t.matched, 'data-total': t.total });
  const cols = h('colgroup');
  const col = (em: number) => {
    const c = h('col');
    c.style.width = `${em}em`; // CSSOM, not a style attribute (the CSP forbids those)
    cols.appendChild(c);
  };
  col(COL_EM.prompt);
  for (let i = 0; i < state.runs.length; i++) for (const m of ['accuracy', 'roger', 'entropy', 'pass'] as const) col(COL_EM[m]);
  col(COL_EM.spread);
  table.style.width = `${COL_EM.prompt + COL_EM.spread + state.runs.length * (COL_EM.accuracy + COL_EM.roger + COL_EM.entropy + COL_EM.pass)}em`;
  table.appendChild(cols);
  const head1 = h('tr');
  head1.appendChild(sortHeader('prompt', 'prompt', t, { rowspan: 2 }));
  state.runs.forEach((r, i) => {
    const th = h('th', { colspan: 4, class: `run-head run-start ${runClass(i)}`, 'data-testid': `table-run-${i}`, 'data-step': t.steps[i] ?? '' }, swatch(i), ' ');
    appendText(th, r.runId);
    th.append(h('span', { class: 'muted' }, ` · step ${t.steps[i] ?? '—'}`));
    head1.appendChild(th);
  });
  head1.appendChild(sortHeader('spread', 'spread', t, { rowspan: 2, class: 'run-start' }, 'sort by the spread of accuracy across the runs (largest minus smallest)'));
  const head2 = h('tr');
  state.runs.forEach((_, i) => {
    for (const metric of ['accuracy', 'roger', 'entropy', 'pass'] as const) {
      head2.appendChild(sortHeader(metricLabel(metric, t), `${metric}:${i}`, t, metric === 'accuracy' ? { class: 'run-start' } : {}, metricTitle(metric, t)));
    }
  });
  table.appendChild(h('thead', {}, head1, head2));
  const body = h('tbody');
  for (const row of t.rows.slice(0, FIRST_ROWS)) body.appendChild(renderRow(row, t));
  // The rest after the first frame, a chunk per task, unless a newer table replaced this one.
  const gen = ++tableGen;
  const more = (from: number) => {
    if (gen !== tableGen || from >= t.rows.length) return;
    const frag = document.createDocumentFragment();
    for (const row of t.rows.slice(from, from + ROW_CHUNK)) frag.appendChild(renderRow(row, t));
    body.appendChild(frag);
    setTimeout(() => more(from + ROW_CHUNK), 0);
  };
  if (t.rows.length > FIRST_ROWS) requestAnimationFrame(() => setTimeout(() => more(FIRST_ROWS), 0));
  // Cell tooltips are built when pointed at, not for every cell of every table.
  body.addEventListener('mouseover', (ev) => {
    const td = (ev.target as Element).closest?.('td');
    if (td && !td.title) td.title = cellTitle(td as HTMLTableCellElement, t);
  });
  table.appendChild(body);
  wrap.appendChild(table);
  if (!t.rows.length) {
    const why = t.total === 0 ? 'None of the runs logged groups at this step.' : 'No prompt passes the filter.';
    wrap.appendChild(h('p', { class: 'muted table-note', 'data-testid': 'table-empty' }, why));
  }
  return wrap;
}

function renderRow(row: PromptRow, t: CompareTableView): HTMLElement {
  const selected = row.promptId === state.selectedPrompt;
  const tr = h('tr', { 'data-testid': 'prompt-row', 'data-prompt-id': row.promptId, 'aria-selected': String(selected), tabindex: selected ? 0 : -1 });
  const idCell = h('td', { class: 'prompt' });
  idCell.appendChild(textEl('span', { class: 'mono', 'data-testid': 'row-prompt-id' }, row.promptId));
  idCell.appendChild(textEl('span', { class: 'muted preview' }, row.preview));
  tr.appendChild(idCell);
  row.cells.forEach((c, i) => {
    for (const metric of ['accuracy', 'roger', 'entropy', 'pass'] as const) {
      const v = cellValue(c, metric, t.k, t.entropyKind);
      const cls = ['num', metric === 'accuracy' ? 'run-start' : '', c === null ? 'missing' : '', metric === 'accuracy' && c ? (c.correct > 0 ? 'solved' : 'unsolved') : ''].filter(Boolean).join(' ');
      tr.appendChild(h('td', { class: cls, 'data-testid': `cell-${metric}-${i}`, 'data-value': v === null ? '' : v }, formatValue(metric, v)));
    }
  });
  const spread = rowSpread(row);
  tr.appendChild(h('td', { class: 'num run-start', 'data-testid': 'cell-spread', 'data-value': spread === null ? '' : spread }, spread === null ? '—' : `${fmtNum(spread * 100, 0)} pts`));
  tr.addEventListener('click', () => {
    selectRow(row.promptId, false);
    openPrompt(row.promptId);
  });
  return tr;
}

/** The tooltip of a table cell, from its position: which run, which figure, at which step. */
function cellTitle(td: HTMLTableCellElement, t: CompareTableView): string {
  const promptId = td.parentElement?.getAttribute('data-prompt-id');
  const row = t.rows.find((r) => r.promptId === promptId);
  const col = td.cellIndex - 1;
  const run = Math.floor(col / 4);
  const metric = (['accuracy', 'roger', 'entropy', 'pass'] as const)[col % 4];
  if (!row || col < 0 || run >= state.runs.length || !metric) return '';
  const c = row.cells[run] ?? null;
  if (c === null) return `${state.runs[run]?.runId ?? ''} has no group of this prompt at ${t.steps[run] === null ? 'this step' : `step ${t.steps[run]}`}`;
  return metric === 'accuracy' ? `${c.correct} of ${c.n} online responses correct at step ${c.step}` : `${metricTitle(metric, t)}; step ${c.step}`;
}

function renderTableSection(): HTMLElement {
  const sec = h('section', { class: 'table-section', 'data-testid': 'table-section' });
  sec.appendChild(h('h2', {}, 'Per prompt'));
  scopeEl = h('p');
  sec.appendChild(scopeEl);
  renderScope();
  const tools = h('div', { class: 'table-tools' });
  filterInput = h('input', { type: 'search', placeholder: 'Filter by prompt id or text  ( / )', 'aria-label': 'Filter prompts', 'data-testid': 'table-filter', spellcheck: 'false' });
  filterInput.value = state.table?.filter.text ?? '';
  filterInput.addEventListener('input', () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => sendTable(), 200);
  });
  filterInput.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
      clearTimeout(filterTimer);
      sendTable();
    } else if (ev.key === 'Escape') {
      ev.preventDefault();
      focusSelectedRow();
    }
  });
  onlySelect = h('select', { 'aria-label': 'Which prompts', 'data-testid': 'table-only' });
  for (const [value, label] of Object.entries(TABLE_ONLY)) {
    const o = h('option', { value }, label);
    if (value === (state.table?.filter.only ?? 'all')) o.selected = true;
    onlySelect.appendChild(o);
  }
  onlySelect.addEventListener('change', () => sendTable());
  countEl = h('span', { class: 'muted', 'data-testid': 'table-count' });
  tools.append(filterInput, onlySelect, countEl);
  sec.appendChild(tools);
  tableHolder = h('div');
  sec.appendChild(tableHolder);
  sec.appendChild(h('p', { class: 'muted keys' }, 'Keys: j / k or ↓ / ↑ move, Enter opens the prompt’s groups side by side, / filters, Escape leaves the filter; column headers sort.'));
  fillTable();
  return sec;
}

/** Redraws the rows and the count; the toolbar (and a filter being typed) stays as it is. */
function fillTable(): void {
  const t = state.table;
  if (!t || !tableHolder || !countEl) return;
  if (state.selectedPrompt === null || !t.rows.some((r) => r.promptId === state.selectedPrompt)) state.selectedPrompt = t.rows[0]?.promptId ?? null;
  const fresh = renderTable();
  tableHolder.replaceChildren(fresh);
  countEl.textContent = t.matched === t.total ? `${t.total} prompts` : `${t.matched} of ${t.total} prompts`;
  if (t.matched > t.rows.length) countEl.textContent += ` (the first ${t.rows.length} shown: narrow the filter)`;
  countEl.setAttribute('data-matched', String(t.matched));
}

function rowElements(): HTMLElement[] {
  return Array.from(app.querySelectorAll<HTMLElement>('[data-testid=prompt-row]'));
}

function selectRow(promptId: string, focus: boolean): void {
  state.selectedPrompt = promptId;
  for (const tr of rowElements()) {
    const on = tr.getAttribute('data-prompt-id') === promptId;
    tr.setAttribute('aria-selected', String(on));
    tr.tabIndex = on ? 0 : -1;
    if (on && focus) {
      tr.focus({ preventScroll: true });
      tr.scrollIntoView({ block: 'nearest' });
    }
  }
}

function focusSelectedRow(): void {
  const rows = rowElements();
  const tr = rows.find((r) => r.getAttribute('data-prompt-id') === state.selectedPrompt) ?? rows[0];
  if (tr) selectRow(tr.getAttribute('data-prompt-id') as string, true);
}

function moveRow(delta: number | 'first' | 'last'): void {
  const rows = rowElements();
  if (!rows.length) return;
  const at = rows.findIndex((r) => r.getAttribute('data-prompt-id') === state.selectedPrompt);
  const next = delta === 'first' ? 0 : delta === 'last' ? rows.length - 1 : Math.min(rows.length - 1, Math.max(0, (at < 0 ? 0 : at) + delta));
  selectRow((rows[next] as HTMLElement).getAttribute('data-prompt-id') as string, true);
}

function openPrompt(promptId: string): void {
  state.promptLoading = promptId;
  state.promptError = null;
  renderPrompt();
  send({ type: 'openPrompt', promptId });
}

// --- one prompt's groups side by side -----------------------------------------------------------------

let promptEl: HTMLElement | null = null;

function badge(testid: string, key: string, value: string, cls = '', data: Record<string, string> = {}, title?: string): HTMLElement {
  const attrs: Record<string, string> = { class: `badge ${cls}`.trim(), 'data-testid': testid };
  for (const [k, v] of Object.entries(data)) attrs[`data-${k}`] = v;
  if (title) attrs.title = title;
  const el = h('span', attrs);
  if (key) el.appendChild(h('span', { class: 'k' }, key));
  appendText(el, value);
  return el;
}

function val(v: number | null): Record<string, string> {
  return { value: v === null ? '' : String(v) };
}

function memberCell(m: CompareMemberView, run: number, groupId: number): HTMLElement {
  const cell = h('div', {
    class: `mcell ${m.source}${m.replaced ? ' replaced' : ''}`,
    role: 'button',
    tabindex: 0,
    'data-testid': 'member-cell',
    'data-run': run,
    'data-slot': `${m.source}:${m.index}`,
    'data-trajectory-key': m.trajectoryKey,
    'data-trajectory-id': m.trajectoryId,
    'data-verdict': m.verdict,
    title: 'Open this member in the inspector (Enter)',
  });
  const who = h('div', { class: 'badges' });
  who.appendChild(badge('badge-verdict', '', m.verdict, `verdict-${m.verdict}`, { verdict: m.verdict }));
  if (m.source === 'offline') who.appendChild(textEl('span', { class: 'who' }, m.teacher ?? 'teacher'));
  if (m.source === 'online' && m.replaced) who.appendChild(h('span', { class: 'chip replaced', 'data-testid': 'chip-replaced' }, 'replaced'));
  if (m.source === 'offline') who.appendChild(h('span', { class: `chip ${m.inserted ? 'inserted' : ''}`.trim(), 'data-testid': m.inserted ? 'chip-inserted' : 'chip-outside' }, m.inserted ? 'in the group' : 'outside the group'));
  if (m.truncated) who.appendChild(h('span', { class: 'chip warn', 'data-testid': 'chip-truncated' }, 'truncated'));
  cell.appendChild(who);
  const nums = h('div', { class: 'badges' });
  nums.appendChild(badge('badge-rtotal', 'R', fmtNum(m.rTotal), '', val(m.rTotal)));
  const s = signOf(m.advantage);
  nums.appendChild(badge('badge-advantage', 'A', fmtSigned(m.advantage), s > 0 ? 'pos' : s < 0 ? 'neg' : 'zero', val(m.advantage)));
  if (m.source === 'online') {
    nums.appendChild(badge('badge-roger', 'R_OGER', fmtNum(m.rOger), '', val(m.rOger)));
    nums.appendChild(badge('badge-d', 'D', fmtNum(m.divergence), '', val(m.divergence)));
    nums.appendChild(badge('badge-hlast', 'H_last', fmtNum(m.entropyLast), '', val(m.entropyLast)));
  }
  cell.appendChild(nums);
  const answer = h('div', { class: 'answer' }, h('span', { class: 'muted' }, 'answer '));
  answer.appendChild(textEl('code', { 'data-testid': 'extracted-answer' }, m.extracted ?? '—'));
  cell.appendChild(answer);
  // The end of the text is where the answer is: the box keeps its bottom in view (compare.css).
  cell.appendChild(h('pre', { class: 'excerpt', title: `the end of ${m.chars.toLocaleString('en')} characters` }, textEl('span', {}, m.excerpt)));
  const open = () => send({ type: 'openGroup', groupId, focusTrajectoryKey: m.trajectoryKey });
  cell.addEventListener('click', open);
  cell.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      ev.stopPropagation();
      open();
    }
  });
  return cell;
}

function renderPromptDetail(p: ComparePromptView): HTMLElement {
  const sec = h('section', { class: 'prompt-detail', 'data-testid': 'prompt-detail', 'data-prompt-id': p.promptId });
  const title = h('h2', {}, 'Prompt ');
  title.appendChild(textEl('span', { class: 'mono', 'data-testid': 'detail-prompt-id' }, p.promptId));
  title.appendChild(h('span', { class: 'muted' }, 'each run’s group side by side; a row is the same slot (source and index) in every run'));
  sec.appendChild(title);
  const prompt = h('details', { class: 'prompt' }, h('summary', {}, `Prompt (${p.prompt.length.toLocaleString('en')} characters)`));
  prompt.appendChild(textEl('div', { class: 'prompt-text' }, p.prompt));
  sec.appendChild(prompt);
  const gold = h('div', { class: 'gold-line' }, h('span', { class: 'muted' }, 'Gold answer '));
  gold.appendChild(textEl('code', { 'data-testid': 'detail-gold' }, p.gold));
  sec.appendChild(gold);
  const table = h('table', { class: 'slots', 'data-testid': 'slots' });
  const head = h('tr', {}, h('th', { class: 'slot' }, 'slot'));
  p.groups.forEach((g, i) => {
    const run = state.runs[i];
    const th = h('th', { class: runClass(i), 'data-testid': `group-head-${i}`, 'data-group-id': g?.groupId ?? '' });
    const box = h('div', { class: 'group-head' });
    const line = h('div', { class: 'run-line' }, swatch(i));
    line.appendChild(textEl('span', { class: 'name', title: run?.runId ?? '' }, run?.runId ?? ''));
    box.appendChild(line);
    if (g) {
      const badges = h('div', { class: 'badges' });
      badges.appendChild(badge('group-step', 'step', String(g.step)));
      badges.appendChild(badge('group-accuracy', 'acc', fmtPercent(g.accuracy), '', val(g.accuracy)));
      badges.appendChild(badge('group-roger', 'R_OGER μ', fmtNum(g.meanROger), '', val(g.meanROger)));
      if (g.zeroStd) badges.appendChild(badge('group-zero-std', '', 'zero std', 'warn', {}, 'every member has the same R_total: all advantages are 0'));
      box.appendChild(badges);
      const open = h('button', { class: 'plain', type: 'button', 'data-testid': `open-group-${i}` }, 'Open in inspector');
      open.addEventListener('click', () => send({ type: 'openGroup', groupId: g.groupId, focusTrajectoryKey: null }));
      box.appendChild(open);
    } else {
      box.appendChild(h('span', { class: 'muted' }, 'no group of this prompt here'));
    }
    th.appendChild(box);
    head.appendChild(th);
  });
  table.appendChild(h('thead', {}, head));
  const body = h('tbody');
  for (const slot of alignMembers(p.groups)) {
    const tr = h('tr', { 'data-testid': 'slot-row', 'data-slot': `${slot.source}:${slot.index}` });
    tr.appendChild(h('th', { class: 'slot', scope: 'row' }, slot.label));
    slot.members.forEach((m, i) => {
      const g = p.groups[i];
      tr.appendChild(h('td', {}, m && g ? memberCell(m, i, g.groupId) : h('div', { class: 'empty-cell' }, '—')));
    });
    body.appendChild(tr);
  }
  table.appendChild(body);
  sec.appendChild(h('div', { class: 'slots-wrap' }, table));
  return sec;
}

function renderPrompt(): void {
  let el: HTMLElement;
  if (state.promptError !== null) el = h('section', { class: 'prompt-detail', 'data-testid': 'prompt-detail' }, errorState('The groups could not be read', state.promptError));
  else if (state.promptLoading !== null) el = h('section', { class: 'prompt-detail', 'data-testid': 'prompt-detail', 'data-loading': 'true' }, loadingState(`the groups of ${state.promptLoading}`));
  else if (state.prompt) el = renderPromptDetail(state.prompt);
  else el = h('section', { class: 'prompt-detail', 'data-testid': 'prompt-detail' }, h('p', { class: 'muted', 'data-testid': 'prompt-hint' }, 'Open a prompt (click a row, or Enter) to see each run’s group for it side by side.'));
  promptEl?.replaceWith(el);
  promptEl = el;
}

// --- the page ---------------------------------------------------------------------------------------

function renderAll(t0: number): void {
  clear(app);
  app.appendChild(renderHeader());
  app.appendChild(renderConfig());
  curvesEl = renderCurves();
  app.appendChild(curvesEl);
  app.appendChild(renderTableSection());
  promptEl = h('section');
  app.appendChild(promptEl);
  renderPrompt();
  reportAfterPaint('compare', 'runs', t0, state.curves?.steps.length ?? 0);
}

function handleHostMessage(msg: HostToCompare): void {
  const t0 = performance.now();
  switch (msg.type) {
    case 'loading':
      clear(app);
      app.appendChild(loadingState(`${msg.runIds.length} runs`));
      break;
    case 'empty':
      clear(app);
      app.appendChild(emptyState('Nothing to compare', msg.reason));
      break;
    case 'error':
      clear(app);
      app.appendChild(errorState('Compare Runs could not read the runs', msg.message));
      break;
    case 'compare':
      state.runs = msg.runs;
      state.curves = msg.curves;
      state.config = msg.config;
      state.table = msg.table;
      state.selectedStep = msg.selectedStep;
      state.prompt = null;
      state.promptLoading = null;
      state.promptError = null;
      state.selectedPrompt = null;
      renderAll(t0);
      break;
    case 'table':
      if (!state.curves) break;
      state.table = msg.table;
      state.selectedStep = msg.selectedStep;
      for (const setPicked of pickers) setPicked(msg.selectedStep);
      renderScope();
      fillTable();
      reportAfterPaint('compare', 'table', t0, msg.table.rows.length);
      break;
    case 'prompt':
      if (msg.prompt.promptId !== state.promptLoading) break; // another prompt was asked for since
      state.prompt = msg.prompt;
      state.promptLoading = null;
      renderPrompt();
      promptEl?.scrollIntoView({ block: 'nearest' });
      reportAfterPaint('compare', 'prompt', t0, msg.prompt.groups.length);
      break;
    case 'promptFailed':
      if (msg.promptId !== state.promptLoading) break;
      state.promptLoading = null;
      state.promptError = msg.message;
      renderPrompt();
      break;
  }
}
onHostMessage<HostToCompare>(handleHostMessage);

function inField(t: EventTarget | null): boolean {
  return t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLTextAreaElement;
}

document.addEventListener('keydown', (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || !state.table || inField(ev.target)) return;
  const onRowOrPage = ev.target === document.body || ev.target === document.documentElement || (ev.target instanceof HTMLElement && ev.target.getAttribute('data-testid') === 'prompt-row');
  switch (ev.key) {
    case 'ArrowDown':
    case 'ArrowUp':
      // Arrows move the selection only from a row; elsewhere they scroll the page as usual.
      if (!onRowOrPage || ev.target === document.body || ev.target === document.documentElement) return;
      ev.preventDefault();
      moveRow(ev.key === 'ArrowDown' ? 1 : -1);
      return;
    case 'j':
    case 'k':
      ev.preventDefault();
      moveRow(ev.key === 'j' ? 1 : -1);
      return;
    case 'Home':
    case 'End':
      if (!onRowOrPage) return;
      ev.preventDefault();
      moveRow(ev.key === 'Home' ? 'first' : 'last');
      return;
    case 'Enter':
    case 'o':
      if (!onRowOrPage || state.selectedPrompt === null) return;
      ev.preventDefault();
      openPrompt(state.selectedPrompt);
      return;
    case '/':
      ev.preventDefault();
      filterInput?.focus();
      filterInput?.select();
      return;
    case 'ArrowLeft':
    case 'ArrowRight': {
      // Once a step is picked, ← / → move it for every run (a focused chart moves its own cursor instead).
      const c = state.curves;
      if (state.selectedStep === null || !c) return;
      const i = c.steps.indexOf(state.selectedStep);
      const next = c.steps[i + (ev.key === 'ArrowRight' ? 1 : -1)];
      if (i < 0 || next === undefined) return;
      ev.preventDefault();
      selectStep(next);
      return;
    }
  }
});

let resizeTimer: ReturnType<typeof setTimeout> | undefined;
let lastWidth = -1;
// Charts are drawn at the page's width: redraw them when that width really changes.
new ResizeObserver(() => {
  const width = document.documentElement.clientWidth;
  if (width === lastWidth) return;
  const first = lastWidth < 0;
  lastWidth = width;
  if (first) return;
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    if (!state.curves || !curvesEl) return;
    const fresh = renderCurves();
    curvesEl.replaceWith(fresh);
    curvesEl = fresh;
  }, 150);
}).observe(document.documentElement);

// A new panel usually arrives with its first view in the page; the host then does not send it again.
const initial = takeInitialMessage<HostToCompare>();
if (initial) handleHostMessage(initial);
else {
  clear(app);
  app.appendChild(loadingState('runs'));
}
send({ type: 'ready' });

// The trajectories table: every trajectory of the store as a row, sorted by any column, filtered
// with Find's syntax (or only the members a relabel flips), or grouped by prompt or verdict.
// The rows are drawn by the table component (shared/grid.ts, which the dashboard's step detail
// uses too): virtualised, with windows of rows asked of the host as the view reaches them, by
// query id, so an answer to an older query is dropped. Every value from the store is set as text.
import baseCss from '../shared/base.css';
import gridCss from '../shared/grid.css';
import tableCss from './table.css';
import { installStyles } from '../shared/styles';
import { h, clear, appendText } from '../shared/dom';
import { createGrid, type GridColumn } from '../shared/grid';
import { onHostMessage, post } from '../shared/vscode';
import { fmtNum, fmtPercent, fmtSigned } from '../../src/core/format';
import { LINT_LABELS, type LintKind } from '../../src/core/rescore';
import { SORTABLE_COLUMNS, type HostToTable, type TableColumn, type TableGroupRow, type TableQuery, type TableRow, type TableToHost } from '../../src/core/tableMessages';

installStyles(baseCss + gridCss + tableCss);

const PAGE = 200;

interface ColumnSpec extends GridColumn<TableRow> {
  key: TableColumn;
}

const COLUMNS: readonly ColumnSpec[] = [
  { key: 'order', width: '6em', label: '#', help: 'Ingest order: the store\'s key (newest last).', num: true, cell: (r) => String(r.trajectoryKey) },
  { key: 'run', width: 'minmax(7em, 1.2fr)', label: 'Run', help: 'The run the trajectory belongs to.', cell: (r) => r.runId },
  { key: 'step', width: '5em', label: 'Step', help: 'RL step.', num: true, cell: (r) => String(r.step) },
  { key: 'prompt', width: 'minmax(6em, 1fr)', label: 'Prompt', help: 'The prompt id of its group.', cell: (r) => r.promptId },
  { key: 'source', width: '5em', label: 'Source', help: 'online: sampled by the policy; teacher: an offline trajectory.', cell: (r) => (r.source === 'online' ? 'online' : 'teacher') },
  { key: 'verdict', width: '5.5em', label: 'Verdict', help: 'The logged verifier verdict.', cell: (r) => r.verdict },
  { key: 'label', width: '4.5em', sortable: SORTABLE_COLUMNS.includes('label'), label: 'Label', help: 'The researcher\'s current relabel (not sortable: the newest of an append-only history).', cell: (r) => r.label ?? '' },
  { key: 'divergence', width: '5em', label: 'D', help: 'D = 1 − mean cosine to the group\'s teachers.', num: true, cell: (r) => fmtNum(r.divergence) },
  { key: 'entropyLast', width: '5em', label: 'H_last', help: 'The policy\'s entropy at the last token.', num: true, cell: (r) => fmtNum(r.entropyLast) },
  { key: 'rOger', width: '7em', label: 'R_OGER', help: 'R_OGER = D · exp(−H_last) · R_m, as logged.', num: true, cell: (r) => fmtNum(r.rOger) },
  { key: 'rTotal', width: '7em', label: 'R_total', help: 'R_m + R_OGER, as logged.', num: true, cell: (r) => fmtNum(r.rTotal) },
  { key: 'advantage', width: '5.5em', label: 'A', help: 'The GRPO advantage, as logged.', num: true, cell: (r) => (r.advantage === null ? '—' : fmtSigned(r.advantage)),
    cellClass: (r) => (r.advantage === null ? '' : r.advantage > 0 ? 'up' : r.advantage < 0 ? 'down' : '') },
  { key: 'length', width: '5.5em', label: 'Length', help: 'Characters of the response.', num: true, cell: (r) => r.length.toLocaleString('en-US') },
  { key: 'lints', width: 'minmax(6em, 1.2fr)', label: 'Lints', help: 'Lints found at ingest.', cell: (r) => r.lints.map((k) => LINT_LABELS[k as LintKind] ?? k).join(', ') },
];

const state = {
  // Newest first by the store's key: the one order a 2M-row store gives without sorting.
  query: { filter: '', sort: { column: 'order', dir: 'desc' }, groupBy: 'none', flippedOnly: false } as TableQuery,
  queryId: 0,
  total: 0,
  totalCapped: false,
  rows: new Map<number, TableRow>(),
  requested: new Set<number>(),
  groups: null as TableGroupRow[] | null,
  sentAt: 0,
  reported: false,
};

function send(m: TableToHost): void {
  post(m);
}

const app = document.getElementById('app') as HTMLElement;
clear(app);
const filterInput = h('input', { type: 'text', class: 'filter', 'data-testid': 'table-filter', placeholder: 'Filter: words, run:ID step:10-20 verdict:wrong label:none lint:any source:teacher prompt:ID', 'aria-label': 'Filter trajectories', spellcheck: 'false' }) as HTMLInputElement;
const groupSelect = h('select', { 'data-testid': 'table-group-by', 'aria-label': 'Group by' },
  h('option', { value: 'none' }, 'No grouping'), h('option', { value: 'prompt' }, 'Group by prompt'), h('option', { value: 'verdict' }, 'Group by verdict')) as HTMLSelectElement;
const flipped = h('input', { type: 'checkbox', 'data-testid': 'table-flipped' }) as HTMLInputElement;
const flippedLabel = h('label', { class: 'check', title: 'Only members whose advantage changes sign when their group is re-scored with its relabels' }, flipped, ' Advantage sign flipped by a relabel');
const countEl = h('span', { class: 'count muted', 'data-testid': 'table-count', 'aria-live': 'polite' });
const problemsEl = h('p', { class: 'problems', 'data-testid': 'table-problems', hidden: true });
const grid = createGrid<TableRow>({
  columns: COLUMNS,
  label: 'Trajectories',
  testId: 'table-viewport',
  sortTestIdPrefix: 'table-',
  rowAttrs: (r) => ({ 'data-testid': 'table-row', 'data-key': r.trajectoryKey }),
  onSort: (key) => {
    const active = state.query.sort.column === key;
    const numeric = COLUMNS.find((c) => c.key === key)?.num === true;
    const dir = active ? (state.query.sort.dir === 'asc' ? 'desc' : 'asc') : numeric ? 'desc' : 'asc';
    state.query = { ...state.query, sort: { column: key as TableColumn, dir } };
    runQuery();
  },
  onOpen: (r) => send({ type: 'openGroup', groupId: r.groupId, focusTrajectoryId: r.trajectoryId }),
  onWindow: (first, last) => {
    for (let p = Math.floor(first / PAGE); p <= Math.floor(Math.max(first, last - 1) / PAGE); p++) if (p * PAGE < state.total) request(p);
  },
});
const viewport = grid.viewport;
const groupsEl = h('div', { class: 'groups', 'data-testid': 'table-groups', hidden: true });
app.append(h('div', { class: 'toolbar' }, filterInput, groupSelect, flippedLabel, countEl), problemsEl, grid.element, groupsEl);

function showSort(): void {
  grid.setSort({ key: state.query.sort.column, dir: state.query.sort.dir });
}

function runQuery(): void {
  state.queryId++;
  state.rows.clear();
  state.requested.clear();
  state.groups = null;
  state.reported = false;
  state.sentAt = performance.now();
  showSort();
  grid.reset();
  if (state.query.groupBy === 'none') request(0);
  else send({ type: 'query', queryId: state.queryId, query: state.query, offset: 0, limit: 1 });
  countEl.textContent = 'Loading…';
}

function request(page: number): void {
  if (state.requested.has(page)) return;
  state.requested.add(page);
  send({ type: 'query', queryId: state.queryId, query: state.query, offset: page * PAGE, limit: PAGE });
}

let filterTimer: ReturnType<typeof setTimeout> | undefined;
filterInput.addEventListener('input', () => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => {
    state.query = { ...state.query, filter: filterInput.value };
    runQuery();
  }, 250);
});
filterInput.addEventListener('keydown', (e) => {
  if (e.key === 'ArrowDown') {
    e.preventDefault();
    viewport.focus();
  }
});
groupSelect.addEventListener('change', () => {
  state.query = { ...state.query, groupBy: groupSelect.value as TableQuery['groupBy'] };
  runQuery();
});
flipped.addEventListener('change', () => {
  state.query = { ...state.query, flippedOnly: flipped.checked };
  runQuery();
});

function showProblems(problems: string[]): void {
  problemsEl.hidden = problems.length === 0;
  problemsEl.textContent = problems.join(' ');
}

function showCount(): void {
  const n = state.total.toLocaleString('en-US');
  countEl.textContent = state.totalCapped ? `${n}+ trajectories` : `${n} ${state.total === 1 ? 'trajectory' : 'trajectories'}`;
  countEl.setAttribute('data-value', String(state.total));
}

function renderGroups(by: 'prompt' | 'verdict', groups: TableGroupRow[]): void {
  clear(groupsEl);
  const table = h('table', { class: 'grouped' });
  table.appendChild(h('thead', {}, h('tr', {}, h('th', {}, by === 'prompt' ? 'Prompt' : 'Verdict'), h('th', { class: 'num' }, 'Trajectories'), h('th', { class: 'num' }, 'Accuracy'), h('th', { class: 'num' }, 'mean R_total'), h('th', { class: 'num' }, 'mean A'))));
  const tb = h('tbody');
  for (const g of groups) {
    const key = h('td', {});
    appendText(key, g.key);
    const tr = h('tr', { tabindex: 0, 'data-testid': 'table-group', 'data-key': g.key, title: `Show the trajectories of this ${by}` }, key,
      h('td', { class: 'num' }, g.count.toLocaleString('en-US')), h('td', { class: 'num' }, fmtPercent(g.accuracy)), h('td', { class: 'num' }, fmtNum(g.meanRTotal)), h('td', { class: 'num' }, g.meanAdvantage === null ? '—' : fmtSigned(g.meanAdvantage)));
    // A grouped row drills down: the table filtered to it, ungrouped.
    const drill = () => {
      const token = `${by}:${/\s/.test(g.key) ? `"${g.key.replace(/"/g, '""')}"` : g.key}`;
      filterInput.value = `${state.query.filter} ${token}`.trim();
      groupSelect.value = 'none';
      state.query = { ...state.query, filter: filterInput.value, groupBy: 'none' };
      runQuery();
    };
    tr.addEventListener('click', drill);
    tr.addEventListener('keydown', (e: KeyboardEvent) => {
      if (e.key === 'Enter') drill();
    });
    tb.appendChild(tr);
  }
  table.appendChild(tb);
  groupsEl.appendChild(table);
}

onHostMessage<HostToTable>((m) => {
  if (m.queryId !== state.queryId) return; // an answer to a query the user has since changed
  if (m.type === 'error') {
    countEl.textContent = '';
    showProblems([m.message]);
    return;
  }
  showProblems(m.problems);
  const grouped = m.type === 'groups';
  groupsEl.hidden = !grouped;
  grid.element.hidden = grouped;
  if (m.type === 'groups') {
    state.groups = m.groups;
    countEl.textContent = `${m.groups.length} ${m.groupBy === 'prompt' ? 'prompts' : 'verdicts'}`;
    renderGroups(m.groupBy, m.groups);
  } else {
    state.total = m.total;
    state.totalCapped = m.totalCapped;
    const more = state.rows.size > 0; // a further window of the same query: rows drawn stay
    m.rows.forEach((r, i) => state.rows.set(m.offset + i, r));
    showCount();
    grid.setRows(state.total, (i) => state.rows.get(i), more);
  }
  if (!state.reported) {
    state.reported = true;
    const t0 = state.sentAt;
    requestAnimationFrame(() => setTimeout(() => send({ type: 'rendered', ms: performance.now() - t0, rows: viewport.querySelectorAll('.body > .grid-row').length }), 0));
  }
});

send({ type: 'ready' });
runQuery();

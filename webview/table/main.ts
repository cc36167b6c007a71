// The trajectories table: every trajectory of the store as a row, sorted by any column, filtered
// with Find's syntax (or only the members a relabel flips), or grouped by prompt or verdict.
// Virtualised: the body holds only the rows in view (plus a margin); windows of rows are asked of
// the host as the view reaches them, by query id, so an answer to an older query is dropped.
// Keyboard: ↑/↓ or j/k move, PageUp/PageDown/Home/End jump, Enter opens the row's group. Every
// value from the store is set as text.
import baseCss from '../shared/base.css';
import tableCss from './table.css';
import { installStyles } from '../shared/styles';
import { h, clear, appendText } from '../shared/dom';
import { onHostMessage, post } from '../shared/vscode';
import { fmtNum, fmtPercent, fmtSigned } from '../../src/core/format';
import { LINT_LABELS, type LintKind } from '../../src/core/rescore';
import { SORTABLE_COLUMNS, type HostToTable, type TableColumn, type TableGroupRow, type TableQuery, type TableRow, type TableToHost } from '../../src/core/tableMessages';

installStyles(baseCss + tableCss);

const ROW_H = 24;
const PAGE = 200;
const OVERSCAN = 10;
const HEAD_H = 26;

interface ColumnSpec {
  key: TableColumn;
  label: string;
  help: string;
  cls?: string;
  cell: (r: TableRow) => string;
}

const COLUMNS: readonly ColumnSpec[] = [
  { key: 'order', label: '#', help: 'Ingest order: the store\'s key (newest last).', cls: 'num', cell: (r) => String(r.trajectoryKey) },
  { key: 'run', label: 'Run', help: 'The run the trajectory belongs to.', cell: (r) => r.runId },
  { key: 'step', label: 'Step', help: 'RL step.', cls: 'num', cell: (r) => String(r.step) },
  { key: 'prompt', label: 'Prompt', help: 'The prompt id of its group.', cell: (r) => r.promptId },
  { key: 'source', label: 'Source', help: 'online: sampled by the policy; teacher: an offline trajectory.', cell: (r) => (r.source === 'online' ? 'online' : 'teacher') },
  { key: 'verdict', label: 'Verdict', help: 'The logged verifier verdict.', cell: (r) => r.verdict },
  { key: 'label', label: 'Label', help: 'The researcher\'s current relabel (not sortable: the newest of an append-only history).', cell: (r) => r.label ?? '' },
  { key: 'divergence', label: 'D', help: 'D = 1 − mean cosine to the group\'s teachers.', cls: 'num', cell: (r) => fmtNum(r.divergence) },
  { key: 'entropyLast', label: 'H_last', help: 'The policy\'s entropy at the last token.', cls: 'num', cell: (r) => fmtNum(r.entropyLast) },
  { key: 'rOger', label: 'R_OGER', help: 'R_OGER = D · exp(−H_last) · R_m, as logged.', cls: 'num', cell: (r) => fmtNum(r.rOger) },
  { key: 'rTotal', label: 'R_total', help: 'R_m + R_OGER, as logged.', cls: 'num', cell: (r) => fmtNum(r.rTotal) },
  { key: 'advantage', label: 'A', help: 'The GRPO advantage, as logged.', cls: 'num', cell: (r) => (r.advantage === null ? '—' : fmtSigned(r.advantage)) },
  { key: 'length', label: 'Length', help: 'Characters of the response.', cls: 'num', cell: (r) => r.length.toLocaleString('en-US') },
  { key: 'lints', label: 'Lints', help: 'Lints found at ingest.', cell: (r) => r.lints.map((k) => LINT_LABELS[k as LintKind] ?? k).join(', ') },
];

const state = {
  // Newest first by the store's key: the one order a 2M-row store gives without sorting.
  query: { filter: '', sort: { column: 'order', dir: 'desc' }, groupBy: 'none', flippedOnly: false } as TableQuery,
  queryId: 0,
  total: 0,
  totalCapped: false,
  rows: new Map<number, TableRow>(),
  requested: new Set<number>(),
  selected: 0,
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
const head = h('div', { class: 'row head', role: 'row' });
const spacer = h('div', { class: 'spacer' });
const body = h('div', { class: 'body', role: 'rowgroup' });
// The header scrolls sideways with the rows and stays on top (sticky), inside the scroller, so
// the two always line up whatever the scrollbar's width.
const viewport = h('div', { class: 'viewport', tabindex: 0, role: 'grid', 'aria-label': 'Trajectories', 'data-testid': 'table-viewport' }, head, spacer, body);
const groupsEl = h('div', { class: 'groups', 'data-testid': 'table-groups', hidden: true });
app.append(h('div', { class: 'toolbar' }, filterInput, groupSelect, flippedLabel, countEl), problemsEl, h('div', { class: 'frame' }, viewport), groupsEl);

function renderHead(): void {
  clear(head);
  for (const c of COLUMNS) {
    const active = state.query.sort.column === c.key;
    const sortable = SORTABLE_COLUMNS.includes(c.key);
    const b = h('button', { type: 'button', class: `sort ${c.cls ?? ''}`, 'data-testid': `table-sort-${c.key}`, title: c.help, disabled: !sortable }, c.label, active ? (state.query.sort.dir === 'asc' ? ' ▲' : ' ▼') : '');
    if (sortable) b.addEventListener('click', () => {
      const dir = active ? (state.query.sort.dir === 'asc' ? 'desc' : 'asc') : c.cls === 'num' ? 'desc' : 'asc';
      state.query = { ...state.query, sort: { column: c.key, dir } };
      runQuery();
    });
    head.appendChild(h('div', { class: `cell ${c.cls ?? ''}`, role: 'columnheader', 'aria-sort': active ? (state.query.sort.dir === 'asc' ? 'ascending' : 'descending') : 'none' }, b));
  }
}

function runQuery(): void {
  state.queryId++;
  state.rows.clear();
  state.requested.clear();
  state.selected = 0;
  state.groups = null;
  state.reported = false;
  state.sentAt = performance.now();
  renderHead();
  viewport.scrollTop = 0;
  if (state.query.groupBy === 'none') request(0);
  else send({ type: 'query', queryId: state.queryId, query: state.query, offset: 0, limit: 1 });
  countEl.textContent = 'Loading…';
}

function request(page: number): void {
  if (state.requested.has(page)) return;
  state.requested.add(page);
  send({ type: 'query', queryId: state.queryId, query: state.query, offset: page * PAGE, limit: PAGE });
}

let frame = 0;
function schedule(): void {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    renderRows();
  });
}

function renderRows(): void {
  const height = (viewport.clientHeight || 400) - HEAD_H;
  const first = Math.max(0, Math.floor(viewport.scrollTop / ROW_H) - OVERSCAN);
  const last = Math.min(state.total, Math.ceil((viewport.scrollTop + height) / ROW_H) + OVERSCAN);
  for (let p = Math.floor(first / PAGE); p <= Math.floor(Math.max(first, last - 1) / PAGE); p++) if (p * PAGE < state.total) request(p);
  const frag = document.createDocumentFragment();
  for (let i = first; i < last; i++) {
    const r = state.rows.get(i);
    const row = h('div', { class: `row${i === state.selected ? ' selected' : ''}`, role: 'row', 'aria-rowindex': i + 2, 'aria-selected': String(i === state.selected), 'data-index': i });
    row.style.transform = `translateY(${i * ROW_H}px)`; // CSSOM, not a style attribute (the CSP forbids those)
    if (!r) row.appendChild(h('div', { class: 'cell muted' }, '…'));
    else {
      row.setAttribute('data-testid', 'table-row');
      row.setAttribute('data-key', String(r.trajectoryKey));
      for (const c of COLUMNS) {
        const cell = h('div', { class: `cell ${c.cls ?? ''} col-${c.key}${c.key === 'advantage' && r.advantage !== null ? (r.advantage > 0 ? ' up' : r.advantage < 0 ? ' down' : '') : ''}`, role: 'gridcell' });
        appendText(cell, c.cell(r));
        row.appendChild(cell);
      }
    }
    frag.appendChild(row);
  }
  body.replaceChildren(frag);
}

function open(i: number): void {
  const r = state.rows.get(i);
  if (r) send({ type: 'openGroup', groupId: r.groupId, focusTrajectoryId: r.trajectoryId });
}

function select(i: number): void {
  state.selected = Math.max(0, Math.min(state.total - 1, i));
  const top = state.selected * ROW_H;
  if (top < viewport.scrollTop) viewport.scrollTop = top;
  else if (top + ROW_H > viewport.scrollTop + viewport.clientHeight - HEAD_H) viewport.scrollTop = top + ROW_H - viewport.clientHeight + HEAD_H;
  schedule();
}

viewport.addEventListener('scroll', schedule);
viewport.addEventListener('click', (e) => {
  const row = (e.target as Element).closest?.('[data-index]');
  if (!row) return;
  const i = Number(row.getAttribute('data-index'));
  select(i);
  open(i);
});
viewport.addEventListener('keydown', (e: KeyboardEvent) => {
  const page = Math.max(1, Math.floor(viewport.clientHeight / ROW_H) - 1);
  const moves: Record<string, number> = { ArrowDown: 1, j: 1, ArrowUp: -1, k: -1, PageDown: page, PageUp: -page };
  if (e.key in moves) select(state.selected + (moves[e.key] as number));
  else if (e.key === 'Home') select(0);
  else if (e.key === 'End') select(state.total - 1);
  else if (e.key === 'Enter') open(state.selected);
  else return;
  e.preventDefault();
});

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
  (viewport.parentElement as HTMLElement).hidden = grouped;
  if (m.type === 'groups') {
    state.groups = m.groups;
    countEl.textContent = `${m.groups.length} ${m.groupBy === 'prompt' ? 'prompts' : 'verdicts'}`;
    renderGroups(m.groupBy, m.groups);
  } else {
    state.total = m.total;
    state.totalCapped = m.totalCapped;
    m.rows.forEach((r, i) => state.rows.set(m.offset + i, r));
    spacer.style.height = `${state.total * ROW_H}px`;
    viewport.setAttribute('aria-rowcount', String(state.total + 1));
    showCount();
    renderRows();
  }
  if (!state.reported) {
    state.reported = true;
    const t0 = state.sentAt;
    requestAnimationFrame(() => setTimeout(() => send({ type: 'rendered', ms: performance.now() - t0, rows: body.childElementCount }), 0));
  }
});

send({ type: 'ready' });
runQuery();

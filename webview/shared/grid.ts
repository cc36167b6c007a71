// The table component of Reward Lens: the trajectories table and the dashboard's step detail draw
// their rows with it, so both sort, select, open and mark rows alike. Virtualised: only the rows in
// view (plus a margin) are in the DOM, so 2M rows cost what 40 do; rows that are not loaded yet are
// asked for through onWindow and shown as "…" until they come. A sticky header of sort buttons
// scrolls sideways with the rows. Keyboard on the grid: ↑/↓ or j/k move, PageUp/PageDown/Home/End
// jump, Enter opens the selected row. Every cell is set as text.
import { h, appendText } from './dom';

export const GRID_ROW_H = 24;
const HEAD_H = 26;
const OVERSCAN = 10;

export interface GridColumn<R> {
  key: string;
  label: string;
  /** the header's tooltip: what the number is */
  help: string;
  /** a CSS grid track, e.g. `5em` or `minmax(6em, 1fr)` */
  width: string;
  num?: boolean;
  /** false: the header is shown but does not sort (default true) */
  sortable?: boolean;
  cell: (r: R) => string;
  /** extra classes on the cell, e.g. `up` / `down` for a signed value */
  cellClass?: (r: R) => string;
}

export interface GridSort {
  key: string;
  dir: 'asc' | 'desc';
}

export interface GridOptions<R> {
  columns: readonly GridColumn<R>[];
  /** the grid's accessible name */
  label: string;
  /** data-testid of the viewport; the header buttons are `${sortTestIdPrefix}sort-${key}` */
  testId: string;
  sortTestIdPrefix: string;
  /** attributes of a loaded row (data-testid, data-key…) */
  rowAttrs: (r: R) => Record<string, string | number>;
  /** extra classes of a loaded row, e.g. `behind` for a marked one */
  rowClass?: (r: R) => string;
  onSort: (key: string) => void;
  onOpen: (r: R) => void;
  /** rows [first, last) are about to be shown: ask for any not loaded */
  onWindow?: (first: number, last: number) => void;
  /** the grid is as tall as its rows up to this many (in a page that scrolls); absent: it fills its parent */
  fitRows?: number;
  /**
   * Up to this many rows, all are in the DOM (the page's find and a click on any row reach them;
   * a few hundred rows cost nothing); beyond, only those in view. Default 0: always virtualised.
   */
  allRowsUpTo?: number;
}

export interface Grid<R> {
  /** the bordered frame holding the grid */
  element: HTMLElement;
  viewport: HTMLElement;
  setSort(sort: GridSort | null): void;
  /**
   * How many rows there are and where to read them (undefined: not loaded yet). `more`: the same
   * rows as before, some of them newly loaded (rows already drawn are kept); otherwise all redrawn.
   */
  setRows(total: number, rowAt: (i: number) => R | undefined, more?: boolean): void;
  /** back to the first row, scrolled to the top */
  reset(): void;
  /** draws on the next frame (after rows arrive or the view scrolls) */
  schedule(): void;
  /** draws now */
  render(): void;
  select(i: number): void;
  selectedIndex(): number;
}

export function createGrid<R>(o: GridOptions<R>): Grid<R> {
  let total = 0;
  let rowAt: (i: number) => R | undefined = () => undefined;
  let sort: GridSort | null = null;
  let selected = 0;
  let frame = 0;

  const head = h('div', { class: 'grid-row head', role: 'row' });
  const spacer = h('div', { class: 'spacer' });
  const body = h('div', { class: 'body', role: 'rowgroup' });
  const viewport = h('div', { class: 'viewport', tabindex: 0, role: 'grid', 'aria-label': o.label, 'data-testid': o.testId }, head, spacer, body);
  const element = h('div', { class: `grid${o.fitRows ? ' fit' : ''}` }, viewport);
  // CSSOM, not a style attribute (the CSP forbids those): one column template for header and rows.
  element.style.setProperty('--grid-columns', o.columns.map((c) => c.width).join(' '));

  function renderHead(): void {
    const cells = o.columns.map((c) => {
      const active = sort?.key === c.key;
      const sortable = c.sortable !== false;
      const b = h('button', { type: 'button', class: `sort${c.num ? ' num' : ''}`, 'data-testid': `${o.sortTestIdPrefix}sort-${c.key}`, title: c.help, disabled: !sortable },
        c.label, active ? (sort?.dir === 'asc' ? ' ▲' : ' ▼') : '');
      if (sortable) b.addEventListener('click', () => o.onSort(c.key));
      return h('div', { class: `cell${c.num ? ' num' : ''}`, role: 'columnheader', 'aria-sort': active ? (sort?.dir === 'asc' ? 'ascending' : 'descending') : 'none' }, b);
    });
    // The header keeps the keyboard focus across the redraw: Enter again reverses the sort.
    const focused = document.activeElement instanceof HTMLElement && head.contains(document.activeElement) ? document.activeElement.getAttribute('data-testid') : null;
    head.replaceChildren(...cells);
    if (focused) (head.querySelector(`[data-testid="${focused}"]`) as HTMLElement | null)?.focus();
  }

  function fit(): void {
    if (!o.fitRows) return;
    viewport.style.height = `${HEAD_H + Math.max(1, Math.min(total, o.fitRows)) * GRID_ROW_H + 2}px`;
  }

  // The rows in the DOM by index. A row stays the same element while it is in view and its data
  // does not change, so scrolling adds and removes rows at the edges only: an element the user (or
  // a test) is about to click is not replaced under the pointer.
  const rendered = new Map<number, { el: HTMLElement; loaded: boolean }>();

  function buildRow(i: number, r: R | undefined): HTMLElement {
    const row = h('div', { class: 'grid-row', role: 'row', 'aria-rowindex': i + 2, 'data-index': i });
    row.style.transform = `translateY(${i * GRID_ROW_H}px)`;
    if (r === undefined) {
      row.appendChild(h('div', { class: 'cell muted' }, '…'));
      return row;
    }
    for (const [k, v] of Object.entries(o.rowAttrs(r))) row.setAttribute(k, String(v));
    const extra = o.rowClass?.(r);
    if (extra) row.classList.add(...extra.split(' ').filter(Boolean));
    for (const c of o.columns) {
      const cell = h('div', { class: `cell${c.num ? ' num' : ''} col-${c.key} ${c.cellClass?.(r) ?? ''}`.trimEnd(), role: 'gridcell' });
      appendText(cell, c.cell(r));
      row.appendChild(cell);
    }
    return row;
  }

  function render(): void {
    const height = (viewport.clientHeight || 400) - HEAD_H;
    const all = total <= (o.allRowsUpTo ?? 0);
    const first = all ? 0 : Math.max(0, Math.floor(viewport.scrollTop / GRID_ROW_H) - OVERSCAN);
    const last = all ? total : Math.min(total, Math.ceil((viewport.scrollTop + height) / GRID_ROW_H) + OVERSCAN);
    o.onWindow?.(first, last);
    for (const [i, r] of rendered) {
      if (i >= first && i < last) continue;
      r.el.remove();
      rendered.delete(i);
    }
    let next: Element | null = body.firstElementChild;
    for (let i = first; i < last; i++) {
      // Keep the DOM in index order (what assistive technology and tests read), inserting new rows
      // before the first kept row that comes after them.
      while (next && Number(next.getAttribute('data-index')) < i) next = next.nextElementSibling;
      const r = rowAt(i);
      const have = rendered.get(i);
      let el: HTMLElement;
      if (have && (have.loaded || r === undefined)) el = have.el;
      else {
        el = buildRow(i, r);
        if (have) {
          if (next === have.el) next = have.el.nextElementSibling;
          have.el.replaceWith(el);
        } else body.insertBefore(el, next);
        rendered.set(i, { el, loaded: r !== undefined });
      }
      el.classList.toggle('selected', i === selected);
      el.setAttribute('aria-selected', String(i === selected));
    }
  }

  function clearRows(): void {
    rendered.clear();
    body.replaceChildren();
  }

  function schedule(): void {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      render();
    });
  }

  function select(i: number): void {
    selected = Math.max(0, Math.min(total - 1, i));
    const top = selected * GRID_ROW_H;
    if (top < viewport.scrollTop) viewport.scrollTop = top;
    else if (top + GRID_ROW_H > viewport.scrollTop + viewport.clientHeight - HEAD_H) viewport.scrollTop = top + GRID_ROW_H - viewport.clientHeight + HEAD_H;
    // Now, not on the next frame: the selection shows with the key press (rows in view are kept,
    // so this only moves a class), and whatever reads the page right after sees it.
    render();
  }

  function open(i: number): void {
    const r = rowAt(i);
    if (r !== undefined) o.onOpen(r);
  }

  viewport.addEventListener('scroll', schedule);
  viewport.addEventListener('click', (e) => {
    const row = (e.target as Element).closest?.('[data-index]');
    if (!row || !body.contains(row)) return;
    const i = Number(row.getAttribute('data-index'));
    select(i);
    open(i);
  });
  viewport.addEventListener('keydown', (e: KeyboardEvent) => {
    if (e.target !== viewport) return; // a header button handles its own keys (Enter sorts)
    const page = Math.max(1, Math.floor(viewport.clientHeight / GRID_ROW_H) - 1);
    const moves: Record<string, number> = { ArrowDown: 1, j: 1, ArrowUp: -1, k: -1, PageDown: page, PageUp: -page };
    if (e.key in moves) select(selected + (moves[e.key] as number));
    else if (e.key === 'Home') select(0);
    else if (e.key === 'End') select(total - 1);
    else if (e.key === 'Enter') open(selected);
    else return;
    e.preventDefault();
    e.stopPropagation();
  });

  renderHead();
  return {
    element,
    viewport,
    setSort(s) {
      sort = s;
      renderHead();
    },
    setRows(n, at, more = false) {
      total = n;
      rowAt = at;
      spacer.style.height = `${total * GRID_ROW_H}px`;
      viewport.setAttribute('aria-rowcount', String(total + 1));
      fit();
      if (!more) clearRows();
      render();
    },
    reset() {
      selected = 0;
      viewport.scrollTop = 0;
    },
    schedule,
    render,
    select,
    selectedIndex: () => selected,
  };
}

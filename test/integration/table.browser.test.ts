// The trajectories table's page in a real browser under the production CSP, with the host replaced
// by a page script that records what the page posts; the test answers its queries as the host
// would. Covers the virtualised body on 10,000 rows, paging on scroll, sort and filter queries, a
// stale answer dropped, keyboard opening, grouping with drill-down, and hostile text staying text.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { harnessHtml, HOSTILE_TEXT } from '../kit/ui';
import type { HostToTable, TableRow, TableToHost } from '../../src/core/tableMessages';
import { CSP_RECORDER, startBrowserHarness, type BrowserHarness } from './browserHarness';

let h: BrowserHarness;
const ARTIFACTS = join(__dirname, 'artifacts');

before(async () => {
  h = await startBrowserHarness({ table: 'webview/table/main.ts' });
});

after(async () => {
  await h?.close();
});

async function open(name: string, theme: 'dark' | 'light' = 'dark'): Promise<Page> {
  h.pages.set(`/${name}.html`, harnessHtml({ view: 'table', theme, origin: h.origin, scriptUri: `${h.origin}/table.js`, messages: [], preludeScripts: [CSP_RECORDER] }));
  const page = await h.browser.newPage({ viewport: { width: 1300, height: 700 } });
  await page.goto(`${h.origin}/${name}.html`);
  return page;
}

const posted = async (page: Page) => (await page.evaluate('window.__posted')) as TableToHost[];
const queries = async (page: Page) => (await posted(page)).filter((m): m is Extract<TableToHost, { type: 'query' }> => m.type === 'query');
const cspViolations = (page: Page) => page.evaluate('window.__csp') as Promise<string[]>;

function row(i: number, over: Partial<TableRow> = {}): TableRow {
  return {
    trajectoryKey: 1000 + i, groupId: 10 + Math.floor(i / 8), runId: 'run-a', step: Math.floor(i / 64), promptId: `q-${i % 37}`, trajectoryId: `t-${i}`,
    source: i % 8 < 6 ? 'online' : 'offline', verdict: i % 3 === 0 ? 'correct' : 'wrong', label: i === 3 ? 'hack' : null,
    divergence: (i % 10) / 10, entropyLast: 0.5, rOger: 0.1, rTotal: i % 3 === 0 ? 1.1 : 0, advantage: i % 3 === 0 ? 0.8 : -0.4, length: 1200 + i, lints: i % 50 === 0 ? ['runaway-repetition'] : [], ...over,
  };
}

async function answer(page: Page, q: Extract<TableToHost, { type: 'query' }>, total: number, make = row): Promise<void> {
  const rows = Array.from({ length: Math.max(0, Math.min(q.limit, total - q.offset)) }, (_, k) => make(q.offset + k));
  const m: HostToTable = { type: 'rows', queryId: q.queryId, offset: q.offset, rows, total, totalCapped: false, problems: [] };
  await page.evaluate((msg) => window.postMessage(msg, '*'), m);
}

test('table: 10,000 rows, only those in view in the DOM; scrolling asks for the next window; sort and filter start new queries; a stale answer is dropped', async () => {
  const page = await open('table');
  await page.waitForFunction(() => ((window as unknown as { __posted: { type: string }[] }).__posted ?? []).some((m) => m.type === 'query'));
  const [first] = await queries(page);
  assert.deepEqual({ ...first, query: undefined }, { type: 'query', queryId: 1, offset: 0, limit: 200, query: undefined });
  assert.deepEqual(first!.query, { filter: '', sort: { column: 'order', dir: 'desc' }, groupBy: 'none', flippedOnly: false });
  await answer(page, first!, 10_000);
  await page.waitForSelector('[data-testid=table-row]');
  assert.equal(await page.locator('[data-testid=table-count]').getAttribute('data-value'), '10000');
  const inDom = await page.locator('.body .grid-row').count();
  assert.ok(inDom > 10 && inDom < 80, `only the rows in view are built (${inDom})`);
  // A short scroll keeps the rows still in view as the same elements (a row under the pointer is
  // not replaced), and the DOM stays in row order.
  const kept = await page.$('[data-testid=table-row][data-index="8"]');
  const lastBefore = Math.max(...(await page.$$eval('.body .grid-row', (rows) => rows.map((r) => Number(r.getAttribute('data-index'))))));
  await page.locator('[data-testid=table-viewport]').evaluate((el) => { el.scrollTop = 3 * 24; });
  await page.waitForSelector(`.body [data-index="${lastBefore + 3}"]`, { state: 'attached' });
  assert.equal(await kept!.evaluate((el) => el.isConnected), true, 'row 8 is the same element after the scroll');
  const order = await page.$$eval('.body .grid-row', (rows) => rows.map((r) => Number(r.getAttribute('data-index'))));
  assert.deepEqual(order, [...order].sort((a, b) => a - b));
  // Scroll to row 5,000: the page asks for that window.
  await page.locator('[data-testid=table-viewport]').evaluate((el) => { el.scrollTop = 5000 * 24; });
  await page.waitForFunction(() => ((window as unknown as { __posted: { type: string; offset?: number }[] }).__posted).some((m) => m.type === 'query' && m.offset === 5000));
  const deep = (await queries(page)).find((q) => q.offset === 5000)!;
  await answer(page, deep, 10_000);
  await page.waitForSelector('[data-testid=table-row][data-key="6000"]');
  // A sort: a new query; an answer to the old one arriving late changes nothing.
  await page.click('[data-testid=table-sort-rTotal]');
  const sorted = (await queries(page)).at(-1)!;
  assert.equal(sorted.queryId, 2);
  assert.deepEqual(sorted.query.sort, { column: 'rTotal', dir: 'desc' });
  assert.equal(await page.locator('[data-testid=table-sort-label]').isDisabled(), true, 'the label column does not sort');
  await answer(page, { ...first!, queryId: 1 }, 3, (i) => row(i, { promptId: 'STALE' }));
  await answer(page, sorted, 7, (i) => row(i, { rTotal: 7 - i }));
  await page.waitForSelector('[data-testid=table-row][data-key="1006"]');
  assert.equal(await page.locator('text=STALE').count(), 0);
  assert.equal(await page.locator('th, [role=columnheader]').filter({ has: page.locator('[data-testid=table-sort-rTotal]') }).getAttribute('aria-sort'), 'descending');
  // A filter, after its debounce: one query with the typed syntax.
  await page.fill('[data-testid=table-filter]', 'verdict:wrong zebra');
  await page.waitForFunction(() => ((window as unknown as { __posted: { type: string; queryId?: number }[] }).__posted).some((m) => m.type === 'query' && m.queryId === 3));
  assert.equal((await queries(page)).at(-1)!.query.filter, 'verdict:wrong zebra');
  assert.deepEqual(await cspViolations(page), []);
  await page.close();
});

test('table: the keyboard moves the selection and Enter opens its group; grouping drills down; hostile text stays text', async () => {
  const page = await open('table-keys', 'light');
  await page.waitForFunction(() => ((window as unknown as { __posted: { type: string }[] }).__posted ?? []).some((m) => m.type === 'query'));
  const q = (await queries(page))[0]!;
  await answer(page, q, 50, (i) => row(i, i === 2 ? { promptId: HOSTILE_TEXT } : {}));
  await page.waitForSelector('[data-testid=table-row]');
  assert.equal(await page.evaluate('window.__pwned'), undefined);
  assert.ok(((await page.locator('[data-key="1002"] .col-prompt').textContent()) ?? '').includes('<'), 'markup shows as text');
  await page.focus('[data-testid=table-viewport]');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('j');
  await page.keyboard.press('Enter');
  assert.deepEqual((await posted(page)).filter((m) => m.type === 'openGroup'), [{ type: 'openGroup', groupId: 10, focusTrajectoryId: 't-2' }]);
  assert.equal(await page.locator('.grid-row.selected').getAttribute('data-key'), '1002');
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'table-light.png') });
  // Group by prompt: the host's groups, and a click drills down to that prompt's rows.
  await page.selectOption('[data-testid=table-group-by]', 'prompt');
  const grouped = (await queries(page)).at(-1)!;
  assert.equal(grouped.query.groupBy, 'prompt');
  const m: HostToTable = { type: 'groups', queryId: grouped.queryId, groupBy: 'prompt', groups: [{ key: 'q-1', count: 12, accuracy: 0.5, meanRTotal: 0.6, meanAdvantage: 0, groupId: 11 }, { key: 'q 2', count: 3, accuracy: null, meanRTotal: null, meanAdvantage: null, groupId: 12 }], problems: [] };
  await page.evaluate((msg) => window.postMessage(msg, '*'), m);
  await page.waitForSelector('[data-testid=table-group]');
  await page.click('[data-testid=table-group][data-key="q 2"]');
  const drilled = (await queries(page)).at(-1)!;
  assert.deepEqual([drilled.query.groupBy, drilled.query.filter], ['none', 'prompt:"q 2"']);
  assert.deepEqual(await cspViolations(page), []);
  await page.close();
});

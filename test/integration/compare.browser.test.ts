// The Compare Runs page in Chromium under the production CSP, with the host replaced by a page
// script: what the page draws from a host's messages, and what it posts back when it is driven by
// mouse and keyboard. The host's side (the store, sorting, refusals) is compareController.test.ts;
// the two together in VS Code are test/e2e/compare.e2e.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { harnessHtml, pickChartStepByKeyboard } from '../kit/ui';
import { HOSTILE_PROMPT_ID, SAMPLE_COMPARE_RUNS, sampleCompare, sampleComparePrompt } from '../kit/compareSample';
import type { HostToCompare } from '../../src/core/compareMessages';
import { CSP_RECORDER, startBrowserHarness, type BrowserHarness } from './browserHarness';

let h: BrowserHarness;
let page: Page;
const errors: string[] = [];

before(async () => {
  h = await startBrowserHarness({ compare: 'webview/compare/main.ts' });
  h.pages.set('/compare.html', harnessHtml({ view: 'compare', theme: 'light', origin: h.origin, scriptUri: `${h.origin}/compare.js`, messages: [], initialMessage: sampleCompare(), preludeScripts: [CSP_RECORDER] }));
  page = await h.browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${h.origin}/compare.html`);
  await page.waitForSelector('[data-testid=prompt-table]');
});

after(async () => {
  await h?.close();
});

type Posted = Array<Record<string, unknown>>;
const posted = () => page.evaluate('window.__posted') as Promise<Posted>;
const clearPosted = () => page.evaluate('window.__posted = []');
const hostSays = (m: HostToCompare) => page.evaluate((msg) => window.postMessage(msg, '*'), m);
async function lastPosted(type: string): Promise<Record<string, unknown>> {
  await page.waitForFunction((t) => ((window as unknown as { __posted: Posted }).__posted).some((m) => m.type === t), type, { timeout: 5_000 });
  return (await posted()).filter((m) => m.type === type).at(-1) as Record<string, unknown>;
}
const selectedRow = () => page.locator('[data-testid=prompt-row][aria-selected=true]').getAttribute('data-prompt-id');

test('the page draws every run: legend, one curve per run on each chart, the settings that differ, the table', async () => {
  assert.deepEqual(await page.locator('[data-testid^=run-key-]').evaluateAll((els) => els.map((e) => e.getAttribute('data-run-id'))), [...SAMPLE_COMPARE_RUNS]);
  for (const id of ['accuracy', 'entropy', 'roger', 'failed', 'length', 'offline-advantage']) {
    assert.equal(await page.locator(`[data-testid=chart-${id}] path.series`).count(), 3, `three curves on ${id}`);
  }
  assert.deepEqual(await page.locator('[data-testid=config-row]').evaluateAll((els) => els.map((e) => e.getAttribute('data-path'))), ['variant', 'config.lr', 'reward.replace', 'reward.variant', 'encoder']);
  assert.equal(await page.locator('[data-testid=prompt-row]').count(), 40);
  assert.match((await page.locator('[data-testid=table-run-1]').textContent()) ?? '', /study-luffy-s1 · step 279/, 'each run says which step its cells are from');
  assert.equal(await page.locator('[data-testid=table-count]').textContent(), '40 prompts');
  assert.match(await page.locator('[data-testid=sort-pass-0]').textContent() ?? '', /^pass@7$/, 'k is the smallest group (7 online in the LUFFY run)');
  // The sample's first prompt preview is hostile markup: it is text, and nothing ran.
  const hostile = page.locator(`[data-testid=prompt-row][data-prompt-id="${HOSTILE_PROMPT_ID}"]`);
  assert.match((await hostile.textContent()) ?? '', /<script>window\.__pwned = "script";<\/script>/);
  assert.equal(await hostile.locator('script, img, svg, a').count(), 0);
  assert.equal(await page.evaluate('window.__pwned'), undefined);
  assert.deepEqual(await page.evaluate('window.__csp'), []);
  assert.deepEqual(errors, []);
});

test('keyboard: j/k move the row, Enter opens it, / filters, Escape returns to the table', async () => {
  await clearPosted();
  const first = await page.locator('[data-testid=prompt-row]').nth(0).getAttribute('data-prompt-id');
  const second = await page.locator('[data-testid=prompt-row]').nth(1).getAttribute('data-prompt-id');
  assert.equal(await selectedRow(), first, 'the first row starts selected');
  await page.locator('body').press('j');
  assert.equal(await selectedRow(), second);
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('k');
  assert.equal(await selectedRow(), second, 'ArrowDown from a focused row, then k back');
  await page.keyboard.press('Enter');
  assert.deepEqual(await lastPosted('openPrompt'), { type: 'openPrompt', promptId: second });
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'table-filter');
  await page.keyboard.type('p1');
  const set = await lastPosted('setTable');
  assert.deepEqual(set.filter, { text: 'p1', only: 'all' });
  assert.deepEqual(set.sort, { column: 'spread', dir: 'desc' });
  await page.keyboard.press('Escape');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'prompt-row');
  await page.locator('[data-testid=table-only]').selectOption('disagree');
  assert.deepEqual((await lastPosted('setTable')).filter, { text: 'p1', only: 'disagree' });
});

test('sorting: a header asks the host; its answer redraws the rows and keeps the filter being typed', async () => {
  await clearPosted();
  await page.locator('[data-testid=sort-accuracy-2]').click();
  assert.deepEqual((await lastPosted('setTable')).sort, { column: 'accuracy:2', dir: 'desc' });
  const m = sampleCompare();
  const rows = [...m.table.rows].reverse().slice(0, 5);
  await hostSays({ type: 'table', table: { ...m.table, sort: { column: 'accuracy:2', dir: 'desc' }, filter: { text: 'p1', only: 'disagree' }, matched: 5, rows }, selectedStep: null });
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=prompt-row]').length === 5);
  assert.equal(await page.locator('[data-testid=prompt-table]').getAttribute('data-sort'), 'accuracy:2 desc');
  assert.equal(await page.locator('th:has([data-testid=sort-accuracy-2])').getAttribute('aria-sort'), 'descending');
  assert.equal(await page.locator('[data-testid=table-filter]').inputValue(), 'p1', 'the filter field is not rebuilt');
  assert.equal(await page.locator('[data-testid=table-count]').textContent(), '5 of 40 prompts');
  await page.locator('[data-testid=sort-accuracy-2]').click();
  assert.deepEqual((await lastPosted('setTable')).sort, { column: 'accuracy:2', dir: 'asc' }, 'the same header again reverses');
});

test('the shared step picker: a step picked on one chart moves every chart and asks for that step', async () => {
  await clearPosted();
  await pickChartStepByKeyboard(page, 'roger', 12);
  assert.deepEqual(await lastPosted('selectStep'), { type: 'selectStep', step: 12 });
  const visible = await page.locator('[data-testid^=chart-] line.picked').evaluateAll((els) => els.map((e) => e.getAttribute('visibility')));
  assert.deepEqual(visible, new Array(6).fill('visible'), 'every chart marks the picked step');
  assert.match((await page.locator('[data-testid=table-scope]').textContent()) ?? '', /at step 12, picked on the curves/);
  await page.locator('body').click({ position: { x: 5, y: 5 } });
  await page.keyboard.press('ArrowRight');
  assert.deepEqual(await lastPosted('selectStep').then(() => posted()).then((p) => p.filter((m) => m.type === 'selectStep').at(-1)), { type: 'selectStep', step: 13 });
  await page.locator('[data-testid=scope-last]').click();
  assert.deepEqual((await posted()).filter((m) => m.type === 'selectStep').at(-1), { type: 'selectStep', step: null });
});

test('a prompt\'s groups side by side: aligned slots, hostile text as text, a member opens in the inspector', async () => {
  await clearPosted();
  const row = page.locator('[data-testid=prompt-row]').nth(2);
  const id = (await row.getAttribute('data-prompt-id')) as string;
  await row.click();
  assert.deepEqual(await lastPosted('openPrompt'), { type: 'openPrompt', promptId: id });
  await hostSays(sampleComparePrompt(id));
  await page.waitForSelector('[data-testid=slots]');
  assert.equal(await page.locator('[data-testid=detail-prompt-id]').textContent(), id);
  const slots = await page.locator('[data-testid=slot-row]').evaluateAll((els) => els.map((e) => e.getAttribute('data-slot')));
  assert.deepEqual(slots, ['online:0', 'online:1', 'online:2', 'online:3', 'online:4', 'online:5', 'online:6', 'online:7', 'offline:0', 'offline:1', 'offline:2']);
  const cellsOf = (slot: string) => page.locator(`[data-testid=slot-row][data-slot="${slot}"] [data-testid=member-cell]`).evaluateAll((els) => els.map((e) => e.getAttribute('data-run')));
  assert.deepEqual(await cellsOf('online:7'), ['0', '2'], 'the LUFFY run has 7 online members: a gap, not a shift');
  assert.deepEqual(await cellsOf('offline:2'), ['2']);
  const hostileCell = page.locator('[data-testid=member-cell][data-run="2"][data-slot="online:1"]');
  assert.match((await hostileCell.locator('.excerpt').textContent()) ?? '', /<b>42<\/b>/);
  assert.ok((await hostileCell.locator('.control-char').count()) >= 1, 'bidi controls are shown, not obeyed');
  const target = page.locator('[data-testid=member-cell][data-run="1"][data-slot="online:3"]');
  const key = Number(await target.getAttribute('data-trajectory-key'));
  await target.click();
  assert.deepEqual(await lastPosted('openGroup'), { type: 'openGroup', groupId: 2000, focusTrajectoryKey: key });
  await clearPosted();
  await page.locator('[data-testid=member-cell][data-run="0"][data-slot="online:0"]').focus();
  await page.keyboard.press('Enter');
  assert.equal((await lastPosted('openGroup')).groupId, 1000, 'Enter on a member opens it too');
  await page.locator('[data-testid=open-group-2]').click();
  assert.deepEqual((await posted()).at(-1), { type: 'openGroup', groupId: 3000, focusTrajectoryKey: null });
  assert.equal(await page.evaluate('window.__pwned'), undefined);
  assert.deepEqual(await page.evaluate('window.__csp'), []);
  assert.deepEqual(errors, []);
});

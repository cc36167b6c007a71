// Issue 15's Compare Runs, end to end in code-server: a store holding a small variant study (GRPO,
// LUFFY and OGER on the same prompts) is opened; "Compare Runs…" refuses to run without a store,
// then picks the three runs; the curves are overlaid with one step picker; the per-prompt table is
// sorted and filtered and follows a picked step; a prompt's groups open side by side and a member
// opens in the inspector; the settings diff lists what differs; the Runs tree's context menu
// compares a selection. Screenshots in the dark and the light theme.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Frame } from 'playwright-core';
import { writeEvents } from './fixtures';
import { disagreeingPrompts, studyAccuracy, studyEvents, STUDY_PROMPTS, STUDY_RUNS, STUDY_STEPS } from './studyFixture';
import { compareFrame, compareRuns, ingest, inspectorFrame, openStore, setQuickPicks, showRunsView, treeRow } from '../kit/driver';
import { pickChartStepByKeyboard } from '../kit/ui';
import { runCommand, sleep, startRig, switchToLightTheme, waitFor, type Rig } from '../kit/rig';

const work = mkdtempSync(join(tmpdir(), 'rl-e2e-compare-'));
const db = join(work, 'study.db');
const LAST = STUDY_STEPS - 1;
let rig: Rig | undefined;
let frame: Frame | undefined;

before(async () => {
  writeEvents(join(work, 'events.jsonl'), studyEvents());
  ingest(join(work, 'events.jsonl'), db);
  rig = await startRig({ name: 'compare', folder: work, theme: 'dark', settings: { 'workbench.editor.enablePreview': false } });
});
after(async () => {
  await rig?.close();
  rmSync(work, { recursive: true, force: true });
});

const rowIds = (f: Frame) => f.locator('[data-testid=prompt-row]').evaluateAll((els) => els.map((e) => e.getAttribute('data-prompt-id')));
const cellValues = (f: Frame, testid: string) => f.locator(`[data-testid=prompt-row] [data-testid=${testid}]`).evaluateAll((els) => els.map((e) => e.getAttribute('data-value')));

async function tableSettles(f: Frame, what: string, probe: () => Promise<boolean>): Promise<void> {
  await waitFor(what, 10_000, probe);
}

test('without a store, Compare Runs says what to do', { timeout: 60_000 }, async () => {
  const page = rig!.page;
  await runCommand(page, 'Reward Lens: Compare Runs…');
  const toast = page.locator('.notifications-toasts .notification-toast', { hasText: 'no run store is open' });
  await toast.waitFor({ state: 'visible', timeout: 15_000 });
  assert.match(await toast.innerText(), /Open Run Store/);
  await page.keyboard.press('Escape');
  await runCommand(page, 'Notifications: Clear All Notifications');
});

test('pick 3 runs: fewer than 2 is refused in the pick, then the curves are overlaid and the settings diff lists what differs', { timeout: 120_000 }, async () => {
  const page = rig!.page;
  await showRunsView(page);
  await openStore(page, db);
  await runCommand(page, 'Reward Lens: Compare Runs…');
  const oneTitle = await setQuickPicks(page, [STUDY_RUNS[0]]);
  assert.match(oneTitle, /Pick at least 2 runs/);
  await page.locator('.quick-input-widget input.input').focus();
  await page.keyboard.press('Enter');
  await sleep(300);
  assert.ok(await page.locator('.quick-input-widget').isVisible(), 'the pick stays open with one run picked');
  await page.keyboard.press('Escape');
  frame = await compareRuns(page, STUDY_RUNS);
  const f = frame;
  assert.deepEqual(await f.locator('[data-testid^=run-key-]').evaluateAll((els) => els.map((e) => e.getAttribute('data-run-id'))), [...STUDY_RUNS]);
  for (const id of ['accuracy', 'entropy', 'roger', 'length']) {
    assert.equal(await f.locator(`[data-testid=chart-${id}] path.series`).count(), 3, `one ${id} curve per run`);
  }
  assert.match((await f.locator('[data-testid=chart-entropy] figcaption').textContent()) ?? '', /actor\/entropy_on_policy/, 'the on-policy entropy is drawn when logged');
  const paths = await f.locator('[data-testid=config-row]').evaluateAll((els) => els.map((e) => e.getAttribute('data-path')));
  assert.deepEqual(paths, ['variant', 'config.lr', 'reward.replace', 'reward.variant', 'encoder']);
  assert.ok(Number(await f.locator('[data-testid=config-same]').getAttribute('data-value')) >= 5, 'equal settings are counted, not listed');
  await rig!.screenshot('compare-dark');
});

test('the table: each run at its last step; sorted by a run\'s accuracy; filtered to the prompts the runs disagree on', { timeout: 90_000 }, async () => {
  const f = frame!;
  for (let i = 0; i < 3; i++) assert.equal(await f.locator(`[data-testid=table-run-${i}]`).getAttribute('data-step'), String(LAST));
  assert.equal((await rowIds(f)).length, STUDY_PROMPTS);
  await f.locator('[data-testid=sort-accuracy-2]').click();
  await tableSettles(f, 'the sort by the OGER run\'s accuracy', async () => (await f.locator('[data-testid=prompt-table]').getAttribute('data-sort')) === 'accuracy:2 desc');
  const acc = (await cellValues(f, 'cell-accuracy-2')).map(Number);
  assert.deepEqual(acc, [...acc].sort((a, b) => b - a));
  const want = Array.from({ length: STUDY_PROMPTS }, (_, p) => studyAccuracy(2, p, LAST)).sort((a, b) => b - a);
  assert.deepEqual(acc, want, 'the cells are the fixture\'s accuracies');
  await f.locator('[data-testid=sort-accuracy-2]').click();
  await tableSettles(f, 'the reversed sort', async () => (await f.locator('[data-testid=prompt-table]').getAttribute('data-sort')) === 'accuracy:2 asc');
  await f.locator('[data-testid=table-only]').selectOption('disagree');
  await tableSettles(f, 'the disagreement filter', async () => (await rowIds(f)).length === disagreeingPrompts(LAST).length);
  assert.deepEqual([...(await rowIds(f))].sort(), disagreeingPrompts(LAST));
  assert.match((await f.locator('[data-testid=table-count]').textContent()) ?? '', new RegExp(`^${disagreeingPrompts(LAST).length} of ${STUDY_PROMPTS} prompts`));
  // Keyboard: "/" to the filter, a prompt id, Escape back to the rows.
  await f.locator('body').press('/');
  await rig!.page.keyboard.type('add-3');
  await tableSettles(f, 'the text filter', async () => JSON.stringify(await rowIds(f)) === '["add-3"]');
  await rig!.page.keyboard.press('Escape');
  await f.locator('[data-testid=table-filter]').fill('');
  await f.locator('[data-testid=table-filter]').press('Enter');
  await tableSettles(f, 'the filter cleared', async () => (await rowIds(f)).length === disagreeingPrompts(LAST).length);
  await rig!.screenshot('compare-table-dark');
});

test('the step picker is shared: a step picked on a curve moves every run\'s table there', { timeout: 60_000 }, async () => {
  const f = frame!;
  await f.locator('[data-testid=table-only]').selectOption('all');
  await tableSettles(f, 'all prompts again', async () => (await rowIds(f)).length === STUDY_PROMPTS);
  await pickChartStepByKeyboard(f, 'entropy', 1);
  await tableSettles(f, 'the table at step 1', async () => (await f.locator('[data-testid=table-run-0]').getAttribute('data-step')) === '1');
  assert.match((await f.locator('[data-testid=table-scope]').textContent()) ?? '', /at step 1, picked on the curves/);
  for (let i = 0; i < 3; i++) assert.equal(await f.locator(`[data-testid=table-run-${i}]`).getAttribute('data-step'), '1');
  const picked = await f.locator('[data-testid^=chart-] line.picked').evaluateAll((els) => els.filter((e) => e.getAttribute('visibility') === 'visible').length);
  assert.equal(picked, 6, 'every chart marks the step');
  const acc = (await cellValues(f, 'cell-accuracy-0')).map(Number).sort();
  assert.deepEqual(acc, Array.from({ length: STUDY_PROMPTS }, (_, p) => studyAccuracy(0, p, 1)).sort());
  await f.locator('[data-testid=scope-last]').click();
  await tableSettles(f, 'back to the last steps', async () => (await f.locator('[data-testid=table-run-0]').getAttribute('data-step')) === String(LAST));
});

test('a prompt opens each run\'s group side by side; a member opens in the inspector', { timeout: 90_000 }, async () => {
  const page = rig!.page;
  const f = frame!;
  // Keyboard only: to the row of add-3 with j, then Enter.
  await f.locator('[data-testid=sort-prompt]').click();
  await tableSettles(f, 'rows in prompt order', async () => (await f.locator('[data-testid=prompt-table]').getAttribute('data-sort')) === 'prompt asc');
  await f.locator('[data-testid=prompt-row]').first().click();
  await waitFor('add-0 open', 10_000, async () => (await f.locator('[data-testid=detail-prompt-id]').textContent().catch(() => null)) === 'add-0');
  await f.locator('[data-testid=prompt-row][aria-selected=true]').focus();
  for (let i = 0; i < 3; i++) await page.keyboard.press('j');
  await page.keyboard.press('Enter');
  await waitFor('add-3 side by side', 10_000, async () => (await f.locator('[data-testid=detail-prompt-id]').textContent()) === 'add-3');
  const slots = await f.locator('[data-testid=slot-row]').evaluateAll((els) => els.map((e) => e.getAttribute('data-slot')));
  assert.deepEqual(slots, ['online:0', 'online:1', 'online:2', 'online:3', 'offline:0', 'offline:1', 'offline:2']);
  const runsIn = (slot: string) => f.locator(`[data-testid=slot-row][data-slot="${slot}"] [data-testid=member-cell]`).evaluateAll((els) => els.map((e) => e.getAttribute('data-run')));
  assert.deepEqual(await runsIn('online:0'), ['0', '1', '2']);
  assert.deepEqual(await runsIn('offline:0'), ['1', '2'], 'GRPO has no teacher');
  assert.deepEqual(await runsIn('offline:2'), ['2'], 'only OGER has three');
  const verdicts = await f.locator('[data-testid=slot-row] [data-testid=member-cell][data-run="0"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-verdict')));
  assert.deepEqual(verdicts, ['wrong', 'wrong', 'wrong', 'wrong'], 'GRPO never solves add-3');
  for (let i = 0; i < 3; i++) assert.equal(await f.locator(`[data-testid=group-head-${i}] [data-testid=group-step]`).textContent(), `step${LAST}`);
  await rig!.screenshot('compare-groups-dark');
  const target = f.locator('[data-testid=slot-row][data-slot="online:1"] [data-testid=member-cell][data-run="2"]');
  const id = await target.getAttribute('data-trajectory-id');
  await target.click();
  await waitFor('the inspector on the OGER run\'s add-3 group, on that member', 20_000, async () => {
    const ins = await inspectorFrame(page);
    return (await ins.locator('[data-testid=prompt-id]').textContent())?.trim() === 'add-3'
      && (await ins.locator('[data-testid=badge-run]').textContent())?.includes(STUDY_RUNS[2])
      && (await ins.locator('[data-testid^=member-][aria-selected=true]').getAttribute('data-trajectory-id')) === id;
  });
  assert.ok((await compareFrame(page)).url(), 'the comparison stays open beside the inspector');
});

test('light theme: the comparison follows it', { timeout: 90_000 }, async () => {
  const page = rig!.page;
  await switchToLightTheme(page);
  await page.locator('.tab', { hasText: /^Compare/ }).first().click();
  const f = await compareFrame(page);
  const bg = await f.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const [r, g, b] = (bg.match(/\d+/g) ?? []).map(Number);
  assert.ok((r ?? 0) + (g ?? 0) + (b ?? 0) > 600, `the page follows the light theme (body background ${bg})`);
  await sleep(500);
  // In these narrow columns texts overflow their excerpt box, cut at the top: the box must hold whole
  // lines, or the top line shows sliced through its glyphs. A one-line probe gives the line height.
  const cuts = await f.locator('[data-testid=slot-row] pre.excerpt').evaluateAll((els) => els.map((el) => {
    const probe = el.cloneNode(false) as HTMLElement;
    probe.textContent = 'x';
    el.parentElement!.appendChild(probe);
    const line = probe.getBoundingClientRect().height;
    probe.remove();
    return { overflows: el.scrollHeight > el.clientHeight + 1, lines: el.clientHeight / line };
  }));
  const cut = cuts.filter((c) => c.overflows);
  assert.ok(cut.length > 0, 'some excerpt overflows in the narrow columns');
  for (const c of cut) assert.ok(Math.abs(c.lines - Math.round(c.lines)) < 0.05, `an excerpt box is ${c.lines.toFixed(2)} lines high`);
  await rig!.screenshot('compare-groups-light');
  await f.locator('[data-testid=compare-header]').scrollIntoViewIfNeeded();
  await sleep(300);
  await rig!.screenshot('compare-light');
});

test('the Runs tree: Compare Runs… on a selection of two runs compares those two in the same panel', { timeout: 90_000 }, async () => {
  const page = rig!.page;
  await showRunsView(page);
  await treeRow(page, STUDY_RUNS[0]).click();
  await treeRow(page, STUDY_RUNS[2]).click({ modifiers: ['Control'] });
  await treeRow(page, STUDY_RUNS[2]).click({ button: 'right' });
  const item = page.locator('.context-view .action-item', { hasText: 'Compare Runs…' }).first();
  await item.waitFor({ state: 'visible', timeout: 10_000 });
  // Under load a click can land while the menu is still laying out and be dropped (the menu stays
  // open, as a clean-clone run showed): click again until the menu has closed.
  await waitFor('the context menu to take the click on Compare Runs…', 15_000, async () => {
    if (await item.isVisible()) await item.click({ timeout: 2_000 }).catch(() => undefined);
    await sleep(300);
    return !(await item.isVisible());
  }, 200);
  await waitFor('the panel on the two selected runs', 20_000, async () => {
    const f = await compareFrame(page);
    const ids = await f.locator('[data-testid^=run-key-]').evaluateAll((els) => els.map((e) => e.getAttribute('data-run-id')));
    return JSON.stringify(ids) === JSON.stringify([STUDY_RUNS[0], STUDY_RUNS[2]]);
  });
  assert.equal(await page.locator('.tab', { hasText: /^Compare/ }).count(), 1, 'one Compare panel, reused');
  // Away from the tree, long enough for its hover to close, so the shot shows the panel.
  await page.mouse.move(700, 450);
  await sleep(1_000);
  await rig!.screenshot('compare-two-light');
});

// Issue 18 acceptance in real VS Code: "Reward Lens: Trajectories Table" on a 50,000-trajectory
// store, sorted by a header, filtered with Find's syntax, and a row opened in the inspector by
// keyboard; the numbers checked against the store itself. Screenshots in the dark and light themes.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStore } from '../../src/node/store';
import type { GroupEvent } from '../../src/core/protocol';
import { groupEvent, runStart } from '../kit/events';
import { openStore, inspectorFrame, queryStore } from '../kit/driver';
import { runCommand, startRig, switchToLightTheme, waitFor, webviewFrame, type Rig } from '../kit/rig';

const work = mkdtempSync(join(tmpdir(), 'rl-e2e-table-'));
const db = join(work, 'table.db');
const GROUPS = 6250; // x 8 members = 50,000 trajectories
let rig: Rig | undefined;

before(async () => {
  const store = await RunStore.open(db);
  try {
    const events: (GroupEvent | ReturnType<typeof runStart>)[] = [runStart('table-a'), runStart('table-b')];
    for (let i = 0; i < GROUPS; i++) events.push(groupEvent(i % 2 ? 'table-b' : 'table-a', Math.floor(i / 50), i % 50, { textBytes: 160, seed: 5 }));
    for (let at = 0; at < events.length; at += 500) {
      const chunk = events.slice(at, at + 500);
      await store.writeBatch({ file: 'gen', events: chunk.map((event, i) => ({ line: at + i + 1, byteOffset: at + i, event })), malformed: [], endOffset: at + chunk.length, endLine: at + chunk.length });
    }
  } finally {
    await store.close();
  }
  rig = await startRig({ name: 'table', folder: work, theme: 'dark' });
  await openStore(rig.page, db);
});
after(async () => {
  await rig?.close();
  rmSync(work, { recursive: true, force: true });
});

const tableFrame = (rig: Rig) => webviewFrame(rig.page, '[data-testid=table-row]', 60_000);

test('the table lists all 50,000 trajectories; a header sorts them; a filter narrows them; Enter opens the row\'s group', { timeout: 240_000 }, async () => {
  const page = rig!.page;
  await runCommand(page, 'Reward Lens: Trajectories Table');
  let f = await tableFrame(rig!);
  assert.equal(await f.locator('[data-testid=table-count]').getAttribute('data-value'), '50000');
  assert.ok((await f.locator('.body .grid-row').count()) < 120, 'only the rows in view are in the page');

  // Sort by R_total, largest first: the first row is the store's largest R_total.
  await f.click('[data-testid=table-sort-rTotal]');
  const [top] = await queryStore<{ id: number; r_total: number }>(db, 'SELECT id, r_total FROM trajectories ORDER BY r_total DESC NULLS LAST, id DESC LIMIT 1');
  await waitFor('the sorted first row', 30_000, async () => (await f.locator('[data-testid=table-row]').first().getAttribute('data-key')) === String(top!.id));

  // A filter in Find's syntax: the count is the store's.
  await f.fill('[data-testid=table-filter]', 'run:table-b verdict:wrong step:10-19 source:online');
  const [want] = await queryStore<{ n: number }>(db, "SELECT count(*) AS n FROM trajectories WHERE run_id = 'table-b' AND verdict = 'wrong' AND step BETWEEN 10 AND 19 AND source = 'online'");
  await waitFor('the filtered count', 30_000, async () => (await f.locator('[data-testid=table-count]').getAttribute('data-value')) === String(want!.n));
  assert.ok(want!.n > 100 && want!.n < 50_000);
  const runs = await f.locator('[data-testid=table-row] .col-run').allTextContents();
  assert.ok(runs.length > 0 && runs.every((r) => r === 'table-b'));
  await rig!.screenshot('table-dark');

  // The keyboard: down twice, Enter opens that row's group in the inspector, focused on it.
  const key = await f.locator('[data-testid=table-row]').nth(2).getAttribute('data-key');
  const [row] = await queryStore<{ traj_id: string; step: number }>(db, 'SELECT traj_id, step FROM trajectories WHERE id = ?', [Number(key)]);
  await f.focus('[data-testid=table-viewport]');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  const inspector = await inspectorFrame(page);
  await waitFor('the row\'s member focused in the inspector', 30_000, async () => ((await inspector.locator('[data-testid=detail-title]').textContent().catch(() => '')) ?? '').includes(row!.traj_id));
  f = await tableFrame(rig!);
  assert.ok(f.url(), 'the table stays open beside the inspector');
});

test('light theme: the table follows it', { timeout: 90_000 }, async () => {
  const page = rig!.page;
  await switchToLightTheme(page);
  await page.locator('.tab', { hasText: /^Trajectories/ }).first().click();
  const f = await tableFrame(rig!);
  const bg = await f.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const [r, g, b] = (bg.match(/\d+/g) ?? []).map(Number);
  assert.ok((r ?? 0) + (g ?? 0) + (b ?? 0) > 600, `the page follows the light theme (body background ${bg})`);
  await rig!.screenshot('table-light');
});

// Issue 5 acceptance, on a stored run: open a group from the Runs tree, move with j/k, relabel
// with c/w, then check the label rows in the store (read-only, from outside) and the re-scored
// what-if badges against the reward core; open the dashboard and click a point through to a
// group; open a trajectory as the inline document with its decorations. Screenshots in the dark
// and then the light theme. The live-training part of the acceptance is in training.e2e.ts.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Frame, Page } from 'playwright-core';
import { scoreGroup } from '../../src/core/reward';
import { ordinaryRun, writeEvents } from './fixtures';
import { ingest, inspectorFrame, openGroupFromTree, openStore, queryStore } from '../kit/driver';
import { runCommand, sleep, startRig, waitFor, webviewFrame, type Rig } from '../kit/rig';

const work = mkdtempSync(join(tmpdir(), 'rl-e2e-inspect-'));
const db = join(work, 'fixture.db');
const RUN = 'fixture-run';
let rig: Rig | undefined;

before(async () => {
  writeEvents(join(work, 'events.jsonl'), ordinaryRun(RUN));
  ingest(join(work, 'events.jsonl'), db);
  rig = await startRig({ name: 'inspection', folder: work, theme: 'dark' });
  await openStore(rig.page, db);
});
after(async () => {
  await rig?.close();
  rmSync(work, { recursive: true, force: true });
});

/** The selected member card's trajectory id. */
async function selectedId(frame: Frame): Promise<string | null> {
  return frame.locator('[data-testid^=member-][aria-selected=true]').getAttribute('data-trajectory-id');
}

/** Presses j (or k) until the member with `id` is selected; proves both keys move the selection. */
async function moveTo(page: Page, frame: Frame, id: string): Promise<void> {
  const ids = await frame.locator('[data-testid^=member-]').evaluateAll((els) => els.map((e) => e.getAttribute('data-trajectory-id')));
  const target = ids.indexOf(id);
  assert.ok(target >= 0, `member ${id} is listed (listed: ${ids.join(', ')})`);
  for (let guard = 0; guard < ids.length + 2; guard += 1) {
    const now = ids.indexOf(await selectedId(frame));
    if (now === target) return;
    await page.keyboard.press(now < target ? 'j' : 'k');
    await waitFor('the selection to move', 3_000, async () => ids.indexOf(await selectedId(frame)) !== now);
  }
  assert.equal(await selectedId(frame), id);
}

async function badgeValue(frame: Frame, id: string, testid: string): Promise<number> {
  const raw = await frame.locator(`[data-trajectory-id="${id}"] [data-testid=${testid}]`).getAttribute('data-value', { timeout: 5_000 });
  assert.ok(raw !== null && raw !== '', `${testid} of ${id} carries a value`);
  return Number(raw);
}

/** Expected final-group R_total and advantage for the half-<step> group with these online verdicts, from the reward core. */
function expectedHalfGroup(onlineCorrect: boolean[]): Map<string, { rTotal: number; advantage: number }> {
  const score = scoreGroup({
    variant: 'oger', replace: 1, advantage: { std: 'sample', eps: 1e-6 },
    online: onlineCorrect.map((correct, i) => ({ divergence: 0.1 + 0.05 * i, entropyLast: 0.3 + 0.1 * i, correct })),
    offline: [{ correct: true }, { correct: true }], insertedOffline: [0],
  });
  const out = new Map<string, { rTotal: number; advantage: number }>();
  for (const m of score.group) out.set(`half-1-s1-${m.source === 'online' ? 'on' : 'off'}${m.index}`, { rTotal: m.totalReward, advantage: m.advantage });
  return out;
}

let inspector: Frame | undefined;

test('inspector: open a group from the Runs tree; j/k move; c and w relabel; store and re-scored badges agree with the reward core', { timeout: 150_000 }, async () => {
  const page = rig!.page;
  inspector = await openGroupFromTree(page, RUN, /step 1\b/i, /half-1|one half/i);
  const frame = inspector;
  assert.equal((await frame.locator('[data-testid=prompt-id]').textContent())?.trim(), 'half-1');
  assert.equal(await frame.locator('[data-testid^=member-]').count(), 6, 'all 4 online and 2 teacher members are listed');
  assert.equal(await frame.locator('[data-testid=chip-replaced]').count(), 1, 'the replaced online member is marked');

  await frame.locator('[data-testid=member-0]').click();
  // online #1 answered 0.2 and was judged wrong; the researcher says correct (c).
  await moveTo(page, frame, 'half-1-s1-on1');
  await moveTo(page, frame, 'half-1-s1-on0');
  await moveTo(page, frame, 'half-1-s1-on1');
  await page.keyboard.press('c');
  const on1Verdict = frame.locator('[data-trajectory-id="half-1-s1-on1"] [data-testid=badge-verdict]');
  await waitFor('the relabel to be saved', 10_000, async () => (await on1Verdict.getAttribute('data-label')) === 'correct' && (await on1Verdict.getAttribute('data-pending')) === 'false');
  // online #3 was correct; the researcher says wrong (w).
  await moveTo(page, frame, 'half-1-s1-on3');
  await page.keyboard.press('w');
  const on3Verdict = frame.locator('[data-trajectory-id="half-1-s1-on3"] [data-testid=badge-verdict]');
  await waitFor('the second relabel to be saved', 10_000, async () => (await on3Verdict.getAttribute('data-label')) === 'wrong' && (await on3Verdict.getAttribute('data-pending')) === 'false');

  const rows = await queryStore<{ traj_id: string; label: string }>(db,
    'SELECT t.traj_id, l.label FROM labels l JOIN trajectories t ON t.id = l.trajectory_id WHERE t.run_id = ? ORDER BY l.id', [RUN]);
  assert.deepEqual(rows, [{ traj_id: 'half-1-s1-on1', label: 'correct' }, { traj_id: 'half-1-s1-on3', label: 'wrong' }]);

  const expected = expectedHalfGroup([true, true, true, false]);
  for (const [id, want] of expected) {
    const logged = expectedHalfGroup([true, false, true, true]).get(id)!;
    const rTotalId = Math.abs(want.rTotal - logged.rTotal) > 1e-9 ? 'badge-rtotal-whatif' : 'badge-rtotal';
    const advantageId = Math.abs(want.advantage - logged.advantage) > 1e-9 ? 'badge-advantage-whatif' : 'badge-advantage';
    assert.ok(Math.abs((await badgeValue(frame, id, rTotalId)) - want.rTotal) < 1e-9, `${id} ${rTotalId}`);
    assert.ok(Math.abs((await badgeValue(frame, id, advantageId)) - want.advantage) < 1e-9, `${id} ${advantageId}`);
  }
  assert.equal(await frame.locator('[data-testid=whatif-summary]').getAttribute('data-overridden'), 'true');
  await frame.locator('[data-testid=heatmap-toggle]').click();
  await sleep(400);
  await rig!.screenshot('inspector-relabelled-dark');
});

test('dashboard: clicking a step point lists that step\'s groups and opens one in the inspector', { timeout: 90_000 }, async () => {
  const page = rig!.page;
  await runCommand(page, 'Reward Lens: Open Dashboard');
  const dash = await webviewFrame(page, '[data-testid=point-step-2]', 30_000);
  assert.equal(await dash.locator('[data-testid=step-count]').getAttribute('data-value'), '3');
  await rig!.screenshot('dashboard-dark');
  await dash.locator('[data-testid=point-step-2]').first().click({ force: true });
  const groupButtons = dash.locator('[data-testid=step-groups] [data-testid^=group-]');
  await waitFor('step 2 groups in the dashboard', 10_000, async () => (await groupButtons.count()) === 2);
  await rig!.screenshot('dashboard-step-dark');
  // Marks this page: the light-theme test checks the dashboard comes back as this same page.
  await dash.evaluate(() => { (window as unknown as { __keptAlive: number }).__keptAlive = 1; });
  const target = groupButtons.filter({ hasText: /sum-2|17|19/ }).first();
  await target.click();
  await waitFor('the inspector to show step 2\'s sum-2 group', 15_000, async () => {
    const frame = await inspectorFrame(page);
    return (await frame.locator('[data-testid=prompt-id]').textContent())?.trim() === 'sum-2';
  });
});

test('inline view: a trajectory opens as a read-only document with its summary and per-paragraph entropy', { timeout: 90_000 }, async () => {
  const page = rig!.page;
  const frame = await inspectorFrame(page);
  await frame.locator('[data-testid=member-0]').click();
  const id = await selectedId(frame);
  assert.ok(id, 'a member is selected');
  await frame.locator('[data-testid=open-document]').click();
  // It opens beside the inspector, in the now active editor group. Monaco renders spaces as NBSP.
  const editor = page.locator('.editor-group-container.active .monaco-editor').first();
  await waitFor(`the document for ${id}`, 15_000, async () => (await editor.locator('.view-lines').innerText().catch(() => '')).replace(/\u00a0/g, ' ').includes(`Trajectory ${id}`));
  const decorations = await editor.evaluate((root) => {
    const texts: string[] = [];
    for (const el of Array.from(root.querySelectorAll('.view-lines span, .view-overlays div, .margin-view-overlays div'))) {
      for (const pseudo of ['::before', '::after']) {
        const c = getComputedStyle(el, pseudo).content;
        if (c && c !== 'none' && c !== 'normal' && c !== '""') texts.push(c);
      }
    }
    return texts;
  });
  assert.ok(decorations.some((t) => /R_total/.test(t) && /\bA\b/.test(t)), `a head decoration with R_total and the advantage (saw ${decorations.slice(0, 6).join(' | ')})`);
  assert.ok(decorations.some((t) => /H̄ \d/.test(t)), 'per-paragraph mean entropy in the margin');
  // Hover over the first characters of a paragraph line (a line box is wider than its text).
  await editor.locator('.view-lines .view-line', { hasText: 'We add' }).first().hover({ position: { x: 12, y: 6 } });
  await page.mouse.move(1, 1, { steps: 1 }).catch(() => undefined);
  await editor.locator('.view-lines .view-line', { hasText: 'We add' }).first().hover({ position: { x: 16, y: 7 } });
  const hover = page.locator('.monaco-hover-content:visible').first();
  await hover.waitFor({ state: 'visible', timeout: 5_000 });
  assert.match(await hover.innerText(), /R_OGER|R_total/);
  await rig!.screenshot('inline-document-dark');
});

test('light theme: inspector, dashboard and inline document stay readable', { timeout: 90_000 }, async () => {
  const page = rig!.page;
  await runCommand(page, 'Preferences: Color Theme');
  const input = page.locator('.quick-input-widget input.input');
  // The picker labels the theme "Light Modern"; its settings id is "Default Light Modern".
  await input.fill('Light Modern');
  // Enter before the list filters would pick "Browse Additional Color Themes…" (the marketplace).
  await page.locator('.quick-input-list .monaco-list-row', { has: page.locator('.label-name', { hasText: /^(Default )?Light Modern$/ }) }).first().click();
  await waitFor('the light theme', 15_000, async () => (await page.locator('.monaco-workbench.vs').count()) > 0);
  await sleep(800);
  await rig!.screenshot('inline-document-light');
  await page.locator('.tab', { hasText: /Inspector|half|sum/ }).first().click();
  const frame = await inspectorFrame(page);
  const bg = await frame.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const [r, g, b] = (bg.match(/\d+/g) ?? []).map(Number);
  assert.ok((r ?? 0) + (g ?? 0) + (b ?? 0) > 600, `the inspector follows the light theme (body background ${bg})`);
  await rig!.screenshot('inspector-light');
  await page.locator('.tab', { hasText: /Dashboard/ }).first().click();
  // Coming back to the tab: the same page, kept alive while hidden, still on the step that was
  // picked, and re-themed (not a blank page, not a rebuilt one that forgot the step).
  const dash = await webviewFrame(page, '[data-testid=point-step-2]', 20_000);
  await dash.locator('[data-testid=point-step-2]').first().waitFor({ state: 'visible', timeout: 10_000 });
  assert.equal(await dash.evaluate(() => (window as unknown as { __keptAlive?: number }).__keptAlive), 1, 'the dashboard was kept alive while hidden');
  assert.equal(await dash.locator('[data-testid=step-groups] [data-testid^=group-]').count(), 2, 'step 2 is still picked');
  const dashBg = await dash.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const [dr, dg, db] = (dashBg.match(/\d+/g) ?? []).map(Number);
  assert.ok((dr ?? 0) + (dg ?? 0) + (db ?? 0) > 600, `the hidden dashboard took the light theme too (body background ${dashBg})`);
  await sleep(500);
  await rig!.screenshot('dashboard-light');
});

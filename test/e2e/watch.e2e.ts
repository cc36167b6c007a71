// Issue 13: "Reward Lens: Watch Run Directory…" attaches the open store to a run folder another
// process writes (a verl job's +reward_lens.run_dir). The folder is picked before it has an
// events.jsonl; the notification says it waits; events written afterwards appear in the store and
// the Runs tree while the run is live; run_end ends the watch by itself.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ingest, openStore, queryStore, showRunsView, treeRow } from '../kit/driver';
import { ordinaryRun, writeEvents } from './fixtures';
import { runCommand, sleep, startRig, waitFor, type Rig } from '../kit/rig';

const work = mkdtempSync(join(tmpdir(), 'rl-e2e-watch-'));
const db = join(work, 'runs.db');
const runDir = join(work, 'verl-run');
let rig: Rig | undefined;

before(async () => {
  // A store with another run in it, so there is something to open.
  const other = join(work, 'other.jsonl');
  writeEvents(other, ordinaryRun('earlier-run'));
  ingest(other, db);
  mkdirSync(runDir);
  rig = await startRig({ name: 'watch', folder: work, theme: 'dark', settings: { 'rewardLens.liveRefreshMs': 300 } });
});
after(async () => {
  await rig?.close();
  rmSync(work, { recursive: true, force: true });
});

const line = (e: unknown) => `${JSON.stringify(e)}\n`;

test('Watch Run Directory…: waits for events.jsonl, shows the run live, ends at run_end', { timeout: 240_000 }, async () => {
  const page = rig!.page;
  await openStore(page, db);
  await showRunsView(page);
  const input = page.locator('.quick-input-widget input.input');
  for (let attempt = 1; ; attempt++) {
    await runCommand(page, 'Reward Lens: Watch Run Directory…');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await sleep(500);
    await input.fill(runDir);
    await sleep(300);
    if ((await input.inputValue()) === runDir) {
      // Enter on a folder path opens the folder in code-server's dialog; its OK button ("Watch")
      // picks the folder shown.
      await page.keyboard.press('Enter');
      await sleep(700);
      const ok = page.locator('.quick-input-widget .monaco-button', { hasText: 'Watch' });
      if (await ok.isVisible()) await ok.click();
      break;
    }
    await page.keyboard.press('Escape');
    if (attempt === 3) throw new Error('the run folder could not be typed into the open dialog');
  }
  const toast = page.locator('.notifications-toasts .notification-toast', { hasText: 'watching verl-run' });
  await toast.waitFor({ state: 'visible', timeout: 20_000 });
  await waitFor('the waiting message', 20_000, async () => /waiting for events\.jsonl/.test(await toast.innerText()));
  await rig!.screenshot('watch-waiting-dark');

  // The "trainer" starts writing: run_start and the first step's events.
  const events = ordinaryRun('verl-live');
  const cut = events.findIndex((e, i) => i > 0 && e.type === 'step' && e.step === 1);
  writeFileSync(join(runDir, 'events.jsonl'), events.slice(0, cut).map(line).join(''));
  await waitFor('the first step in the store', 60_000, async () => {
    const rows = await queryStore<{ n: number }>(db, "SELECT COUNT(*) AS n FROM groups WHERE run_id = 'verl-live'").catch(() => []);
    return (rows[0]?.n ?? 0) > 0;
  });
  await treeRow(page, /verl-live/).waitFor({ state: 'visible', timeout: 30_000 });
  await waitFor('the progress line', 20_000, async () => /run verl-live at step 0/.test(await toast.innerText()));
  assert.match(await treeRow(page, /verl-live/).innerText(), /running/);
  await rig!.screenshot('watch-live-dark');

  // The rest of the run, then run_end: the watch ends by itself and says so.
  appendFileSync(join(runDir, 'events.jsonl'), events.slice(cut).map(line).join('') + line({ v: 1, type: 'run_end', run_id: 'verl-live', status: 'completed', reason: null, step: 2 }));
  const done = page.locator('.notifications-toasts .notification-toast', { hasText: /run verl-live ended at step 2/ });
  await done.waitFor({ state: 'visible', timeout: 60_000 });
  await waitFor('the run to show as completed', 30_000, async () => /completed/.test(await treeRow(page, /verl-live/).innerText()));
  const [run] = await queryStore<{ status: string; groups: number }>(db, "SELECT status, (SELECT COUNT(*) FROM groups WHERE run_id = 'verl-live') AS groups FROM runs WHERE run_id = 'verl-live'");
  assert.equal(run?.status, 'completed');
  assert.ok((run?.groups ?? 0) >= 3);
  await rig!.screenshot('watch-ended-dark');
});

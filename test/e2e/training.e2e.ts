// Issue 5 acceptance, live: "Reward Lens: Start Training Run" from the palette trains with the
// Python backend (the repo's .venv via rewardLens.python.interpreter) and the Runs tree shows the
// run and its steps while it trains; the status bar shows the run; the inspector opens on a live
// group. The demo config's 600-step warm start takes minutes on a loaded 2-core machine, so the
// suite writes the demo task with the backend's own demo_task and trains it with a tiny config
// (no warm start, 2 steps, 2 prompts × 4 rollouts) picked from the same quick pick.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expand, inspectorFrame, queryStore, showRunsView, treeRow } from '../kit/driver';
import { answerQuickInput, repoRoot, runCommand, startRig, waitFor, type Rig } from '../kit/rig';

const python = join(repoRoot, '.venv', 'bin', 'python');
const work = mkdtempSync(join(tmpdir(), 'rl-e2e-train-'));
const configs = join(work, '.reward-lens', 'configs');
let rig: Rig | undefined;

before(async () => {
  if (!existsSync(python)) throw new Error(`${python} is missing: scripts/setup.d/30-python.sh sets up the backend`);
  const demo = join(configs, 'demo-data');
  mkdirSync(demo, { recursive: true });
  const made = spawnSync(python, ['-m', 'reward_lens.demo_task', '--out', demo], { encoding: 'utf8', timeout: 120_000 });
  if (made.status !== 0) throw new Error(`reward_lens.demo_task failed:\n${made.stdout}${made.stderr}`);
  const config = JSON.parse(readFileSync(join(demo, 'config.json'), 'utf8')) as Record<string, unknown>;
  Object.assign(config, { steps: 2, sft_steps: 0, batch_prompts: 2, rollout_n: 4, eval_data: null, eval_every: 0, verifier_workers: 1 });
  writeFileSync(join(configs, 'tiny-e2e.json'), JSON.stringify(config, null, 2));
  rig = await startRig({ name: 'training', folder: work, theme: 'dark', settings: { 'rewardLens.python.interpreter': python, 'rewardLens.liveRefreshMs': 300 } });
});
after(async () => {
  if (rig) await runCommand(rig.page, 'Reward Lens: Stop Run').catch(() => undefined);
  await rig?.close();
  rmSync(work, { recursive: true, force: true });
});

test('Start Training Run from the palette: the run and its steps appear live in the Runs tree, then it completes', { timeout: 420_000 }, async () => {
  const page = rig!.page;
  await showRunsView(page);
  await runCommand(page, 'Reward Lens: Start Training Run');
  await answerQuickInput(page, 'tiny-e2e.json');
  const started = Date.now();

  const runRow = page.locator('.part.sidebar .monaco-list-row', { hasText: /running/ }).first();
  await runRow.waitFor({ state: 'visible', timeout: 180_000 });
  const runLabel = (await runRow.locator('.label-name').textContent())?.trim() ?? '';
  assert.ok(runLabel.length > 0, 'the running run has a label');
  await expand(page, runLabel);
  await treeRow(page, /^step 1$/).waitFor({ state: 'visible', timeout: 240_000 });
  const firstStepAfterS = (Date.now() - started) / 1000;
  const status = await page.locator('.part.statusbar').innerText();
  await rig!.screenshot('training-live-dark');
  // The second step arrives while the tree is open: it must appear without a manual refresh.
  await treeRow(page, /^step 2$/).waitFor({ state: 'visible', timeout: 240_000 });
  await waitFor('the run to complete', 120_000, async () => /completed/.test(await treeRow(page, runLabel).innerText()));
  console.log(`first live step after ${firstStepAfterS.toFixed(1)} s; completed after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.match(status, /step \d+/i, `the status bar shows the active run's step (it read: ${status.replace(/\s+/g, ' ')})`);

  await expand(page, /^step 1$/);
  const group = page.locator('.part.sidebar .monaco-list-row[aria-level="3"]').first();
  await group.click();
  const frame = await inspectorFrame(page);
  assert.equal(await frame.locator('[data-testid=badge-run]').innerText().then((t) => t.includes(runLabel)), true);
  await rig!.screenshot('training-inspector-dark');

  const rows = await queryStore<{ steps: number }>(join(work, '.reward-lens', 'runs.db'), 'SELECT COUNT(*) AS steps FROM steps WHERE run_id = ?', [runLabel]);
  assert.equal(rows[0]?.steps, 2, 'both steps are in the store');
});

// The demo ends inside VS Code (issue 18): scripts/demo-open.sh, on a machine without a local `code`
// CLI, starts code-server with the packaged extension and the run directory as the workspace, and
// the run's store is open in the Runs view without any command. The same script the README's demo
// command runs, on a small run of the shape the demo writes (events.jsonl + reward-lens.db) after
// an OXA warm start (DEMO_WARM_START=oxa, issue 14): the dashboard shows the warm-start phase
// before RL on the entropy curve, in the dark and the light theme.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ingest, treeRow } from '../kit/driver';
import { repoRoot, runCommand, sleep, startRig, waitFor, webviewFrame, type Rig } from '../kit/rig';
import { WARM_START_STEPS, warmStartRun, writeEvents } from './fixtures';

const RUN = 'demo-20261203-000000';
const runDir = mkdtempSync(join(tmpdir(), 'rl-demo-run-'));
let rig: Rig | undefined;
let port = 0;

before(async () => {
  writeEvents(join(runDir, 'events.jsonl'), warmStartRun(RUN));
  ingest(join(runDir, 'events.jsonl'), join(runDir, 'reward-lens.db'));
  rig = await startRig({
    name: 'demo-open',
    folder: runDir,
    serve: (p) => {
      port = p;
      return spawn('bash', [join(repoRoot, 'scripts', 'demo-open.sh'), runDir], {
        cwd: repoRoot,
        env: { ...process.env, DEMO_PORT: String(p), REWARD_LENS_CODE_CLI: 'none' },
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    },
  });
});
after(async () => {
  await rig?.close();
  rmSync(runDir, { recursive: true, force: true });
});

test('demo-open.sh prints the URL and opens the run: its store in the Runs view, its dashboard in the editor', { timeout: 120_000 }, async () => {
  const page = rig!.page;
  assert.match(rig!.serverLog(), new RegExp(`open http://127\\.0\\.0\\.1:${port}/\\?folder=${runDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  const settings = JSON.parse(readFileSync(join(runDir, '.vscode', 'settings.json'), 'utf8')) as Record<string, string>;
  assert.equal(settings['rewardLens.storePath'], 'reward-lens.db');
  // No command run: the workspace settings point at the run's store, activation opens it and,
  // with openDashboardOnStart, shows the Runs view and the run's dashboard.
  await webviewFrame(page, '[data-testid=point-step-2]', 60_000);
  await treeRow(page, RUN).waitFor({ state: 'visible', timeout: 30_000 });
  await rig!.screenshot('demo-open-dashboard');
});

test('the warm start shows before RL: a shaded phase on every curve, the on-policy entropy through both phases, promote and suppress beside it', { timeout: 90_000 }, async () => {
  const page = rig!.page;
  const dash = await webviewFrame(page, '[data-testid=point-step-2]', 30_000);
  assert.equal(await dash.locator('[data-testid=step-count]').getAttribute('data-value'), '3', 'RL steps 0 … 2');
  assert.equal(await dash.locator('[data-testid=warm-start-count]').getAttribute('data-value'), String(WARM_START_STEPS));
  const curves = await dash.locator('[data-testid=curves] figure.chart').count();
  assert.ok(curves >= 6, `the demo run draws its curves (${curves})`);
  assert.equal(await dash.locator('[data-testid^=warm-start-band-]').count(), curves, 'every curve shades the warm start');
  const entropy = dash.locator('[data-testid=chart-entropy]');
  assert.match(await entropy.locator('figcaption').innerText(), /actor\/entropy_on_policy/);
  assert.deepEqual(await entropy.locator('path.series').evaluateAll((els) => els.map((e) => e.getAttribute('data-series'))), ['on-policy', 'warm-start promote', 'warm-start suppress']);
  // The on-policy curve is one path across the boundary: its first point sits inside the band.
  const [bandRight, curveLeft] = await entropy.evaluate((fig) => {
    const rect = fig.querySelector('.phase-warm-start rect') as SVGRectElement;
    const path = fig.querySelector('path[data-series=on-policy]') as SVGPathElement;
    return [rect.x.baseVal.value + rect.width.baseVal.value, path.getPointAtLength(0).x];
  });
  assert.ok(curveLeft < bandRight, `the on-policy entropy starts inside the warm start (${curveLeft} < ${bandRight})`);
  // 9 warm-start records against 3 RL steps: the warm start gets at most 30% of the plot, not 77%.
  const [left, , right] = (await entropy.locator('svg').getAttribute('data-plot-x'))!.split(' ').map(Number) as [number, number, number];
  const share = (bandRight - left) / (right - left);
  assert.ok(share > 0.25 && share <= 0.31, `the warm start's share of the width (${share.toFixed(2)})`);
  // Picking a warm-start step by keyboard explains it instead of asking for groups it has none of.
  await entropy.locator('svg').focus();
  await page.keyboard.press('Home');
  await page.keyboard.press('Enter');
  await waitFor('the warm-start step detail', 10_000, async () => (await dash.locator('[data-testid=warm-start-note]').count()) === 1);
  assert.match(await dash.locator('[data-testid=step-detail] h2').innerText(), new RegExp(`before the warm start`));
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('Enter');
  await waitFor('the next warm-start record', 10_000, async () => /after 2 of 8 optimizer steps/.test(await dash.locator('[data-testid=step-detail] h2').innerText()));
  await page.mouse.move(1, 1);
  await sleep(300);
  // code-server starts in its default light theme here; then the dark one.
  await rig!.screenshot('demo-warm-start-light');
  await runCommand(page, 'Preferences: Color Theme');
  await page.locator('.quick-input-widget input.input').fill('Dark Modern');
  await page.locator('.quick-input-list .monaco-list-row', { has: page.locator('.label-name', { hasText: /^(Default )?Dark Modern$/ }) }).first().click();
  await waitFor('the dark theme', 15_000, async () => (await page.locator('.monaco-workbench.vs-dark').count()) > 0);
  await page.mouse.move(700, 860);
  await sleep(800);
  const bg = await dash.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const [r, g, b] = (bg.match(/\d+/g) ?? []).map(Number);
  assert.ok((r ?? 0) + (g ?? 0) + (b ?? 0) < 200, `the dashboard follows the dark theme (body background ${bg})`);
  await rig!.screenshot('demo-warm-start-dark');
});

// The demo ends inside VS Code (issue 18): scripts/demo-open.sh, on a machine without a local `code`
// CLI, starts code-server with the packaged extension and the run directory as the workspace, and
// the run's store is open in the Runs view without any command. The same script the README's demo
// command runs, on a small run of the shape the demo writes (events.jsonl + reward-lens.db).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ingest, treeRow } from '../kit/driver';
import { repoRoot, startRig, webviewFrame, type Rig } from '../kit/rig';
import { ordinaryRun, writeEvents } from './fixtures';

const RUN = 'demo-20261203-000000';
const runDir = mkdtempSync(join(tmpdir(), 'rl-demo-run-'));
let rig: Rig | undefined;
let port = 0;

before(async () => {
  writeEvents(join(runDir, 'events.jsonl'), ordinaryRun(RUN));
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

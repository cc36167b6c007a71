// Verifier faults (issue 6): re-verifying a stored run with a verifier that raises on 1% of inputs
// and hangs on 0.1% finishes; every error and timeout is counted in the diff and stored as an
// error verdict (never a silent "wrong"); the host's event loop never freezes; cancel stops it
// within 1 s and leaves no verifier process behind. 5,000 trajectories here; `npm run bench` runs
// the same scenario on 100,000.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { RunStore } from '../../src/node/store';
import { buildReverifyFixture, runAndCancel, runFaulty, ReverifyCancelled, type ReverifyFixture } from '../kit/reverifyFixture';
import { killAllChildren, REPO_ROOT, tempDir } from './helpers';

after(killAllChildren);

const PYTHON = process.env.REWARD_LENS_PYTHON && existsSync(process.env.REWARD_LENS_PYTHON) ? process.env.REWARD_LENS_PYTHON : path.join(REPO_ROOT, '.venv', 'bin', 'python');
const BACKEND = path.join(REPO_ROOT, 'python');

/** Processes whose command line mentions this path (the fixture's temp dir): verifier leftovers. */
function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

let fixture: ReverifyFixture | null = null;
const { dir, cleanup } = tempDir('reverify');
after(cleanup);

test('re-verify 5,000 trajectories with a verifier that raises on 1% and hangs on 0.1%: finishes, errors and timeouts counted, no freeze', async () => {
  assert.ok(existsSync(PYTHON), `no Python backend at ${PYTHON}: run scripts/setup.sh`);
  fixture = await buildReverifyFixture(dir, 5000);
  const out = await runFaulty(fixture, { python: PYTHON, backendRoot: BACKEND, timeoutS: 1 });
  const d = out.result.diff;
  console.log(
    `re-verify 5,000 faulty: ${out.seconds.toFixed(1)} s, errors ${d.errors.total} (timeouts ${d.errors.timeouts}, crashed ${d.errors.crashed}, other ${d.errors.other}), ` +
      `process restarts ${out.result.processRestarts}, max event-loop lag ${out.maxEventLoopLagMs} ms`,
  );
  assert.equal(out.result.written, fixture.trajectories, 'a verdict stored for every trajectory');
  assert.equal(d.reverified, fixture.trajectories);
  assert.equal(d.errors.total, fixture.expectedRaise + fixture.expectedHang, 'every raise and every hang is an error verdict');
  assert.equal(d.errors.timeouts, fixture.expectedHang, 'every hang is counted as a timeout');
  assert.ok(Object.values(d.flips).some((n) => n > 0), 'the diff has verdict flips to show (a fifth of the logged verdicts disagree)');
  assert.ok(out.maxEventLoopLagMs < 1000, `the host's event loop froze for ${out.maxEventLoopLagMs} ms`);
  const store = await RunStore.open(fixture.db, { readonly: true });
  try {
    const verdicts = await store.verdicts(out.result.verifier.id, fixture.runId);
    const errors = verdicts.filter((v) => v.verdict === 'error');
    assert.equal(errors.length, fixture.expectedRaise + fixture.expectedHang);
    assert.ok(errors.every((v) => (v.reason ?? '').startsWith('error')), 'error verdicts carry an error: reason');
    assert.ok(errors.some((v) => /injected verifier failure/.test(v.reason ?? '')), 'the exception text is kept in the reason');
  } finally {
    await store.close();
  }
  assert.deepEqual(processesMentioning(dir), [], 'verifier processes left behind after the run');
});

test('cancel stops a faulty re-verify within 1 s and leaves no verifier process behind', async () => {
  assert.ok(fixture, 'the fixture of the previous test');
  const f = fixture as ReverifyFixture;
  const c = await runAndCancel(f, { python: PYTHON, backendRoot: BACKEND, timeoutS: 1 }, 1000);
  console.log(`cancel after ${c.doneAtCancel} items settled in ${c.settleMs} ms`);
  assert.ok(c.doneAtCancel >= 1000, 'cancel was requested mid-run');
  assert.ok(c.error instanceof ReverifyCancelled, `cancel surfaces as ReverifyCancelled (${String(c.error)})`);
  assert.ok(c.settleMs <= 1000, `cancel took ${c.settleMs} ms`);
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(processesMentioning(dir), [], 'verifier processes left behind after cancel');
});

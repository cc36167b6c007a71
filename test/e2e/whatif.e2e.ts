// Issue 16 acceptance in real VS Code: after relabels and a verifier change (another verdict set made
// active), "Reward Lens: What-If Over Whole Run" shows the diff of the whole run (verdicts changed,
// ΔR_total, advantage sign flips, replacement changes), equal to re-scoring each group with the
// reward core's whatIfGroup; a row opens its group in the inspector by keyboard. Screenshot in the
// dark theme.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { whatIfGroup, type ScoredTrajectory } from '../../src/core/rescore';
import type { Verdict } from '../../src/core/protocol';
import { RunStore } from '../../src/node/store';
import { ordinaryRun, writeEvents } from './fixtures';
import { ingest, inspectorFrame, openStore } from '../kit/driver';
import { runCommand, startRig, waitFor, webviewFrame, type Rig } from '../kit/rig';

const work = mkdtempSync(join(tmpdir(), 'rl-e2e-whatif-'));
const db = join(work, 'fixture.db');
const RUN = 'fixture-run';
let rig: Rig | undefined;

interface Expected {
  verdictChanges: number;
  signFlips: number;
  replacementChanged: number;
  deltaRTotal: number;
  changedGroups: Set<string>;
}

/** The researcher's labels and another verifier's verdicts, written before VS Code opens the store. */
async function relabelAndReverify(): Promise<Expected> {
  const store = await RunStore.open(db);
  try {
    const key = async (trajId: string) => (await store.db.get<{ id: number }>('SELECT id FROM trajectories WHERE traj_id = ?', [trajId]))!.id;
    // Two relabels: a false negative and a reward hack.
    await store.addLabel({ trajectoryKey: await key('half-1-s1-on1'), label: 'correct', author: 'e2e' });
    await store.addLabel({ trajectoryKey: await key('sum-2-s2-on0'), label: 'hack', note: 'copied the teacher', author: 'e2e' });
    // A stricter verifier: "0.50" is no longer 0.5 (every half group), and it made the active set.
    const v = await store.addVerifierVersion({ source: 'def verify(r, g): ...  # strict decimals', name: 'strict.py' });
    const all = await store.db.all<{ id: number; traj_id: string; verdict: Verdict }>('SELECT id, traj_id, verdict FROM trajectories WHERE run_id = ?', [RUN]);
    await store.writeVerdicts(v.id, all.map((t) => ({ trajectoryKey: t.id, verdict: /^half-\d-s\d-on2$/.test(t.traj_id) ? 'wrong' : t.verdict, reason: null, extracted: null })));
    await store.setActiveVerifier(RUN, v.id);

    const want: Expected = { verdictChanges: 0, signFlips: 0, replacementChanged: 0, deltaRTotal: 0, changedGroups: new Set() };
    for (const step of await store.listSteps(RUN)) {
      for (const s of await store.listGroups(RUN, step.step)) {
        const g = (await store.getGroup(s.groupId))!;
        const verdicts = new Map<string, Verdict>();
        for (const t of g.trajectories) {
          const l = t.label.current?.label;
          const eff: Verdict = l === 'correct' ? 'correct' : l === 'wrong' || l === 'hack' ? 'wrong' : t.activeVerdict?.verdict ?? t.event.verdict;
          if (eff !== t.event.verdict) verdicts.set(t.event.id, eff);
        }
        const r = whatIfGroup(g.trajectories.map((t) => t.event as ScoredTrajectory), g.reward, { verdicts });
        want.verdictChanges += verdicts.size;
        want.signFlips += r.signFlips;
        if (r.replacementChanged) want.replacementChanged++;
        for (const m of r.members) want.deltaRTotal += m.deltaTotal ?? 0;
        if (verdicts.size > 0) want.changedGroups.add(g.promptId);
      }
    }
    return want;
  } finally {
    await store.close();
  }
}

let expected: Expected;

before(async () => {
  writeEvents(join(work, 'events.jsonl'), ordinaryRun(RUN));
  ingest(join(work, 'events.jsonl'), db);
  expected = await relabelAndReverify();
  rig = await startRig({ name: 'whatif', folder: work, theme: 'dark' });
  await openStore(rig.page, db);
});
after(async () => {
  await rig?.close();
  rmSync(work, { recursive: true, force: true });
});

test('What-If Over Whole Run: the diff after relabels and a verifier change; a row opens its group', { timeout: 150_000 }, async () => {
  const page = rig!.page;
  assert.equal(expected.verdictChanges, 5, 'two labels and three verdicts of the new set change the run');
  assert.ok(expected.signFlips > 0, 'the fixture flips some advantage signs');
  await runCommand(page, 'Reward Lens: What-If Over Whole Run');
  const frame = await webviewFrame(page, '[data-testid=whatif-summary]', 60_000);
  const value = async (testid: string) => (await frame.locator(`[data-testid=${testid}] .stat-value`).textContent())?.trim();
  assert.equal(await value('whatif-verdicts'), String(expected.verdictChanges));
  assert.equal(await value('whatif-sign-flips'), String(expected.signFlips));
  assert.equal(await value('whatif-replacements'), String(expected.replacementChanged));
  assert.equal(Number((await value('whatif-delta-rtotal'))?.replace('−', '-')), Number(expected.deltaRTotal.toFixed(3)));
  assert.match((await frame.locator('[data-testid=whatif-source]').textContent()) ?? '', /2 from relabels, 3 from the active verdict set strict\.py/);
  const rows = frame.locator('[data-testid^=whatif-row-]');
  assert.equal(await rows.count(), expected.changedGroups.size);
  const prompts = await rows.evaluateAll((els) => els.map((e) => e.querySelector('td.mono')?.textContent ?? ''));
  assert.deepEqual(new Set(prompts), expected.changedGroups);
  await rig!.screenshot('whatif-run-dark');

  // Keyboard: focus the first row, move down with j and back with k, open with Enter.
  await rows.first().focus();
  await page.keyboard.press('j');
  await page.keyboard.press('k');
  const first = prompts[0] as string;
  await page.keyboard.press('Enter');
  await waitFor(`the inspector to show ${first}`, 30_000, async () => {
    const inspector = await inspectorFrame(page);
    return (await inspector.locator('[data-testid=prompt-id]').textContent())?.trim() === first;
  });
  await rig!.screenshot('whatif-opened-group-dark');
});

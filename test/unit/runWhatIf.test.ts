// The whole-run what-if read from the store (columns, labels, the active verifier's verdicts)
// agrees with re-scoring each group as the inspector does: its effective verdicts (label, else the
// active verifier's, else the logged one) through whatIfGroup. Also for groups stored before
// schema 3 (no packed components), and cancel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunStore } from '../../src/node/store';
import { whatIfGroup, type ScoredTrajectory } from '../../src/core/rescore';
import type { GroupEvent, Verdict } from '../../src/core/protocol';
import { whatIfOverRun, WhatIfCancelled } from '../../src/node/whatif/runWhatIf';
import { groupEvent, prng, runStart } from '../kit/events';

async function seeded(): Promise<RunStore> {
  const store = await RunStore.open(':memory:');
  const groups: GroupEvent[] = [];
  for (let g = 0; g < 60; g++) groups.push(groupEvent('w', Math.floor(g / 20), g, { textBytes: 40, seed: 5 }));
  // A teacher the logged record put in a group, and members out of index order in the event.
  groups[3]!.trajectories.reverse();
  await store.writeBatch({ file: 'm', events: [runStart('w'), ...groups].map((event, i) => ({ line: i + 1, byteOffset: i, event })), malformed: [], endOffset: 1, endLine: 1 });
  const r = prng(17);
  const keys = (await store.db.all<{ id: number; verdict: Verdict }>('SELECT id, verdict FROM trajectories ORDER BY id'));
  // Labels: some flips, a hack, a label later superseded, a note.
  for (const k of keys.filter(() => r() < 0.06)) {
    const first = await store.addLabel({ trajectoryKey: k.id, label: k.verdict === 'correct' ? 'wrong' : 'correct', author: 't' });
    if (r() < 0.3) await store.addLabel({ trajectoryKey: k.id, label: k.verdict === 'correct' ? 'correct' : 'hack', author: 't', supersedes: first.id });
    if (r() < 0.3) await store.addLabel({ trajectoryKey: k.id, label: 'note', note: 'n', author: 't' });
  }
  // Another verifier judged most trajectories, flipping a few; it is made the active set.
  const v = await store.addVerifierVersion({ source: 'strict', name: 'strict.py' });
  await store.writeVerdicts(v.id, keys.filter(() => r() < 0.9).map((k) => ({ trajectoryKey: k.id, verdict: r() < 0.1 ? (k.verdict === 'correct' ? 'wrong' : 'correct') : k.verdict, reason: null, extracted: null })));
  await store.setActiveVerifier('w', v.id);
  return store;
}

async function perGroup(store: RunStore): Promise<{ signFlips: number; replacementChanged: number; deltaRTotal: number; changed: Set<number>; verdictChanges: number }> {
  let signFlips = 0;
  let replacementChanged = 0;
  let deltaRTotal = 0;
  let verdictChanges = 0;
  const changed = new Set<number>();
  for (const step of await store.listSteps('w')) {
    for (const s of await store.listGroups('w', step.step)) {
      const g = (await store.getGroup(s.groupId))!;
      const verdicts = new Map<string, Verdict>();
      for (const t of g.trajectories) {
        const l = t.label.current?.label;
        const v: Verdict = l === 'correct' ? 'correct' : l === 'wrong' || l === 'hack' ? 'wrong' : t.activeVerdict?.verdict ?? t.event.verdict;
        if (v !== t.event.verdict) verdicts.set(t.event.id, v);
      }
      verdictChanges += verdicts.size;
      const res = whatIfGroup(g.trajectories.map((t) => t.event as ScoredTrajectory), g.reward, { verdicts });
      signFlips += res.signFlips;
      if (res.replacementChanged) replacementChanged++;
      for (const m of res.members) if (m.deltaTotal !== null) deltaRTotal += m.deltaTotal;
      if (verdicts.size > 0 || res.members.some((m) => Math.abs(m.deltaAdvantage ?? 0) > 1e-12)) changed.add(g.groupId);
    }
  }
  return { signFlips, replacementChanged, deltaRTotal, changed, verdictChanges };
}

test('the whole-run what-if equals per-group re-scoring with the inspector\'s effective verdicts', async () => {
  const store = await seeded();
  try {
    const want = await perGroup(store);
    const phases = new Set<string>();
    const got = await whatIfOverRun(store, 'w', { slice: 7, onProgress: (p) => phases.add(p.phase) });
    assert.deepEqual([...phases].sort(), ['read', 'score']);
    assert.equal(got.groups, 60);
    assert.equal(got.trajectories, 480);
    assert.equal(got.legacyGroups, 0);
    assert.equal(got.verdictChanges, want.verdictChanges);
    assert.ok(got.fromLabels > 0 && got.fromVerifier > 0, `labels ${got.fromLabels}, verifier ${got.fromVerifier}`);
    assert.equal(got.fromLabels + got.fromVerifier, got.verdictChanges);
    assert.equal(got.activeVerifier?.name, 'strict.py');
    assert.equal(got.signFlips, want.signFlips);
    assert.ok(want.signFlips > 0);
    assert.equal(got.replacementChanged, want.replacementChanged);
    assert.ok(Math.abs(got.deltaRTotal - want.deltaRTotal) < 1e-9);
    assert.equal(got.changedGroups, want.changed.size);
    assert.deepEqual(new Set(got.rows.map((r) => r.groupId)), want.changed);
    assert.ok(got.rows.every((r) => /^p\d+$/.test(r.promptId)));

    // Groups stored before schema 3 have no packed components: their trajectory rows give the same answer.
    await store.db.run("DELETE FROM group_components WHERE group_id % 3 = 0");
    const legacy = await whatIfOverRun(store, 'w');
    assert.equal(legacy.legacyGroups, 20);
    for (const k of ['verdictChanges', 'signFlips', 'replacementChanged', 'changedGroups'] as const) assert.equal(legacy[k], got[k], k);
    assert.ok(Math.abs(legacy.deltaRTotal - got.deltaRTotal) < 1e-9);

    const ac = new AbortController();
    await assert.rejects(
      () => whatIfOverRun(store, 'w', { signal: ac.signal, slice: 5, onProgress: (p) => p.phase === 'score' && ac.abort() }),
      WhatIfCancelled,
    );
  } finally {
    await store.close();
  }
});

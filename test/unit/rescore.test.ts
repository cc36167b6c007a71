import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auditGroup, lintGroup, rescoreGroup, whatIfGroup, type ScoredTrajectory } from '../../src/core/rescore';
import { scoreGroup } from '../../src/core/reward';
import type { RewardSettings } from '../../src/core/protocol';

const settings: RewardSettings = { variant: 'oger', replace: 1, advantage: { std: 'sample', eps: 1e-6 } };

/** A group logged exactly as the reward core scores it, so audits start clean. */
function loggedGroup(verdicts: ('correct' | 'wrong' | 'error')[], ds: number[], hs: number[]): ScoredTrajectory[] {
  const spec = {
    variant: settings.variant,
    replace: 1,
    advantage: settings.advantage,
    online: verdicts.map((v, i) => ({ divergence: ds[i] as number, entropyLast: hs[i] as number, correct: v === 'correct' ? true : v === 'wrong' ? false : null })),
    offline: [{ correct: true }, { correct: true }],
    insertedOffline: [1],
  };
  const s = scoreGroup(spec);
  const online: ScoredTrajectory[] = verdicts.map((v, i) => {
    const m = s.group.find((g) => g.source === 'online' && g.index === i);
    return {
      id: `on${i}`, index: i, source: 'online', verdict: v, divergence: ds[i] as number, entropy_last: hs[i] as number,
      r_oger: s.online[i]?.explorationReward as number, r_total: s.online[i]?.totalReward as number,
      advantage: m ? m.advantage : null, replaced: s.replaced.includes(i),
    };
  });
  const teacherAdv = s.group.find((g) => g.source === 'offline')?.advantage ?? null;
  return [
    ...online,
    { id: 'off0', index: 0, source: 'offline', verdict: 'correct', divergence: null, entropy_last: null, r_oger: null, r_total: null, advantage: null, replaced: false, inserted: false },
    { id: 'off1', index: 1, source: 'offline', verdict: 'correct', divergence: null, entropy_last: null, r_oger: null, r_total: 1, advantage: teacherAdv, replaced: false, inserted: true },
  ];
}

const verdicts: ('correct' | 'wrong')[] = ['correct', 'wrong', 'correct', 'correct', 'wrong', 'correct', 'wrong', 'correct'];
const ds = [0.4, 0.2, 0.05, 0.9, 0.3, 1.2, 0.5, 0.6];
const hs = [0.1, 1.0, 0.3, 0.2, 2.0, 0.05, 0.7, 1.5];

test('a group logged by the core audits clean', () => {
  assert.deepEqual(auditGroup(loggedGroup(verdicts, ds, hs), settings), []);
});

test('audit flags a tampered R_total and a wrong replacement, naming both values', () => {
  const g = loggedGroup(verdicts, ds, hs);
  (g[3] as ScoredTrajectory).r_total = 5;
  (g[0] as ScoredTrajectory).replaced = true;
  const flags = auditGroup(g, settings);
  assert.ok(flags.some((f) => f.trajectoryId === 'on3' && f.field === 'r_total' && f.logged === 5));
  assert.ok(flags.some((f) => f.trajectoryId === 'on0' && f.field === 'replaced' && f.logged === true && f.recomputed === false));
});

test('replacement takes the lowest divergence, and the inserted teacher fills the group', () => {
  const scores = rescoreGroup(loggedGroup(verdicts, ds, hs), settings);
  assert.deepEqual(scores.filter((s) => s.replaced).map((s) => s.id), ['on2']);
  assert.equal(scores.filter((s) => s.advantage !== null).length, 8);
  assert.equal(scores.find((s) => s.id === 'off0')?.advantage, null);
});

test('what-if: relabelling a false negative raises its reward and flips its advantage sign', () => {
  const g = loggedGroup(verdicts, ds, hs);
  const r = whatIfGroup(g, settings, { verdicts: new Map([['on1', 'correct']]) });
  const m = r.members.find((x) => x.id === 'on1');
  assert.ok(m);
  assert.ok((m.before.advantage as number) < 0 && (m.after.advantage as number) > 0);
  assert.ok(m.signFlip);
  assert.ok(r.signFlips >= 1);
  assert.ok((m.deltaTotal as number) > 1, 'R_m 0 → 1 plus its exploration bonus');
  assert.equal(r.replacementChanged, false, 'verdicts do not move the replacement');
});

test('what-if: a new divergence can move the replacement', () => {
  const g = loggedGroup(verdicts, ds, hs);
  const r = whatIfGroup(g, settings, { divergences: new Map([['on2', 0.99]]) });
  assert.equal(r.replacementChanged, true);
  assert.equal(r.members.find((x) => x.id === 'on1')?.after.replaced, true);
});

test('lints: negative teacher advantage, D > 1, truncated embedding, verifier error, zero std', () => {
  const g = loggedGroup(['correct', 'correct', 'correct', 'correct', 'correct', 'correct', 'correct', 'error'], ds, hs);
  (g[4] as ScoredTrajectory).embedding_truncated = true;
  const kinds = lintGroup(g, settings).map((l) => `${l.kind}:${l.trajectoryId}`);
  assert.ok(kinds.includes('offline-negative-advantage:off1'));
  assert.ok(kinds.includes('divergence-above-1:on5'));
  assert.ok(kinds.includes('embedding-truncated:on4'));
  assert.ok(kinds.includes('verifier-error:on7'));
  const flat = loggedGroup(['wrong', 'wrong', 'wrong', 'wrong', 'wrong', 'wrong', 'wrong', 'wrong'], ds, hs).map((t) =>
    t.source === 'offline' ? { ...t, verdict: 'wrong' as const, r_total: t.inserted ? 0 : null } : t,
  );
  assert.ok(lintGroup(flat, { ...settings, variant: 'luffy' }).some((l) => l.kind === 'zero-std-group'));
  assert.ok(!lintGroup(loggedGroup(verdicts, ds, hs), settings).some((l) => l.kind === 'zero-std-group'));
});

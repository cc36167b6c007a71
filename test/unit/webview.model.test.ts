// The inspector's derived state: member order, relabel overrides and the what-if re-score.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeWhatIf, diffCandidates, effectiveVerdict, orderMembers, pendingLabel, verdictOfLabel } from '../../webview/inspector/model';
import { whatIfGroup } from '../../src/core/rescore';
import type { ViewGroup, ViewLabelState } from '../../src/core/messages';
import { sampleGroup } from '../kit/ui';

const label = (l: 'correct' | 'wrong' | 'hack'): ViewLabelState => ({
  current: { id: 1, label: l, note: null, author: 'a', createdAt: '2026-01-01T00:00:00Z', supersedes: null },
  notes: [],
  history: [],
});

function group(): ViewGroup {
  return sampleGroup({ chars: 300, seed: 4 });
}

test('members: the replaced online member is followed by the teacher in its slot; unused teachers come last', () => {
  const g = group();
  const rows = orderMembers(g);
  assert.equal(rows.length, 10);
  assert.deepEqual(rows.map((r) => r.position), [...Array(10).keys()]);
  const replacedAt = rows.findIndex((r) => r.source === 'online' && r.member.event.replaced);
  assert.ok(replacedAt >= 0);
  const next = rows[replacedAt + 1]!;
  assert.equal(next.source, 'offline');
  assert.equal(next.member.event.inserted, true);
  assert.equal(next.partner, rows[replacedAt]!.member);
  assert.equal(rows[replacedAt]!.inFinalGroup, false);
  assert.equal(next.slot, rows[replacedAt]!.index);
  const last = rows.at(-1)!;
  assert.equal(last.source, 'offline');
  assert.equal(last.inFinalGroup, false);
  assert.match(next.title, /teacher deepseek-r1/);
  // online members keep index order around the inserted teacher
  const onlineIdx = rows.filter((r) => r.source === 'online').map((r) => r.index);
  assert.deepEqual(onlineIdx, [...onlineIdx].sort((a, b) => a - b));
  // a teacher's diff candidates never include itself; an online member's are all teachers
  assert.equal(diffCandidates(g, next.member).length, 1);
  assert.equal(diffCandidates(g, rows[0]!.member).length, 2);
});

test('labels map to verdicts: hack counts as wrong; the label beats the active verifier, which beats the log', () => {
  assert.equal(verdictOfLabel(label('correct')), 'correct');
  assert.equal(verdictOfLabel(label('hack')), 'wrong');
  assert.equal(verdictOfLabel({ current: null, notes: [], history: [] }), null);
  const m = group().trajectories[0]!;
  assert.equal(effectiveVerdict(m), m.event.verdict);
  m.activeVerdict = { verdict: 'error', reason: 'timeout', extracted: null, verifierId: 'v2' };
  assert.equal(effectiveVerdict(m), 'error');
  m.label = label('correct');
  assert.equal(effectiveVerdict(m), 'correct');
});

test('what-if: no labels → nothing overridden; relabelling the inserted teacher wrong flips its advantage, as whatIfGroup says', () => {
  const g = group();
  const none = computeWhatIf(g);
  assert.equal(none.overridden, false);
  assert.equal(none.signFlips, 0);
  assert.equal(none.error, null);
  const teacher = g.trajectories.find((t) => t.event.source === 'offline' && t.event.inserted)!;
  teacher.label = pendingLabel(teacher.label, 'wrong');
  assert.equal(teacher.label.current?.id, -1);
  const w = computeWhatIf(g);
  assert.equal(w.overridden, true);
  const change = w.byKey.get(teacher.trajectoryKey)!;
  assert.ok((change.before.advantage ?? 0) > 0);
  assert.ok((change.after.advantage ?? 0) < 0);
  assert.equal(change.signFlip, true);
  const direct = whatIfGroup(g.trajectories.map((t) => t.event), g.reward, { verdicts: new Map([[teacher.event.id, 'wrong']]) });
  assert.equal(w.signFlips, direct.signFlips);
  for (const m of direct.members) {
    const key = g.trajectories.find((t) => t.event.id === m.id)!.trajectoryKey;
    assert.equal(w.byKey.get(key)?.after.advantage, m.after.advantage);
  }
});

test('what-if on a group the core cannot score reports the reason instead of throwing', () => {
  const g = group();
  // divergence-aware replacement needs every online member's D; a trainer that logged none cannot be re-scored
  for (const t of g.trajectories) if (t.event.source === 'online') t.event.divergence = null;
  const w = computeWhatIf(g);
  assert.match(w.error ?? '', /divergence/);
  assert.equal(w.byKey.size, 0);
});

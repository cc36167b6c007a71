// The verdict diff: flips each way, reward/advantage changes through the reward core, sign flips,
// lints appearing/disappearing, errors by kind, missing verdicts, and bounded examples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RewardSettings, Verdict } from '../../src/core/protocol';
import { verdictDiff, VerdictDiffBuilder, errorKind, verdictOfResult, type DiffGroupInput, type DiffMember, type VerdictLike } from '../../src/core/verdictDiff';

const GRPO: RewardSettings = { variant: 'grpo', replace: 0, advantage: { std: 'sample', eps: 1e-6 } };

function member(key: number, verdict: Verdict, extra: Partial<DiffMember> = {}): DiffMember {
  return { trajectoryKey: key, id: `t${key}`, source: 'online', index: key, verdict, replaced: false, ...extra };
}

function group(groupId: number, members: DiffMember[], next: Record<number, VerdictLike>, old: Record<number, VerdictLike> = {}, reward = GRPO): DiffGroupInput {
  return {
    groupId,
    step: groupId * 10,
    promptId: `p${groupId}`,
    gold: '42',
    reward,
    trajectories: members,
    oldVerdicts: new Map(Object.entries(old).map(([k, v]) => [Number(k), v])),
    newVerdicts: new Map(Object.entries(next).map(([k, v]) => [Number(k), v])),
  };
}

const v = (verdict: Verdict, reason: string | null = null, extracted: string | null = null): VerdictLike => ({ verdict, reason, extracted });

// GRPO advantage with the sample std and eps 1e-6, computed here independently of the core.
function advantages(rewards: number[]): number[] {
  const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
  const std = Math.sqrt(rewards.reduce((a, r) => a + (r - mean) ** 2, 0) / (rewards.length - 1));
  return rewards.map((r) => (r - mean) / (std + 1e-6));
}

test('a fixed false negative flips wrong→correct, raises its R_total by 1 and flips its advantage sign', () => {
  const members = [member(1, 'wrong', { extracted_answer: '42.0', verdict_reason: 'mismatch' }), member(2, 'correct'), member(3, 'wrong'), member(4, 'wrong')];
  const d = verdictDiff([group(1, members, { 1: v('correct', 'match', '42.0'), 2: v('correct'), 3: v('wrong'), 4: v('wrong') })]);
  assert.equal(d.flips['wrong->correct'], 1);
  assert.equal(d.flips['correct->wrong'], 0);
  assert.equal(d.reverified, 4);
  assert.equal(d.unchanged, 3);
  assert.equal(d.groupsChanged, 1);
  const before = advantages([0, 1, 0, 0]);
  const after = advantages([1, 1, 0, 0]);
  const ex = d.examples['wrong->correct'][0];
  assert.ok(ex);
  assert.equal(ex.trajectoryKey, 1);
  assert.equal(ex.beforeExtracted, '42.0');
  assert.equal(ex.beforeReason, 'mismatch');
  assert.equal(ex.afterReason, 'match');
  assert.equal(ex.totalBefore, 0);
  assert.equal(ex.totalAfter, 1);
  assert.ok(Math.abs((ex.advantageBefore as number) - (before[0] as number)) < 1e-9);
  assert.ok(Math.abs((ex.advantageAfter as number) - (after[0] as number)) < 1e-9);
  assert.equal(d.rTotal.changed, 1);
  assert.equal(d.rTotal.sum, 1);
  // Member 1 goes from negative to positive; member 2 stays positive; 3 and 4 stay negative.
  assert.equal(d.signFlips, 1);
  assert.equal(d.signFlipExamples[0]?.trajectoryKey, 1);
  const expectedAdvChanges = before.filter((b, i) => Math.abs(b - (after[i] as number)) > 1e-9).length;
  assert.equal(d.advantage.changed, expectedAdvChanges);
});

test('errors are counted by kind, shown as flips, and the verifier-error lint appears', () => {
  const members = [member(1, 'correct'), member(2, 'wrong'), member(3, 'wrong')];
  const d = verdictDiff([
    group(1, members, { 1: v('error', 'error: timeout after 5s'), 2: v('error', 'error: crashed (worker exited with code 3)'), 3: v('error', 'error: ValueError: x') }),
  ]);
  assert.deepEqual({ total: d.errors.total, timeouts: d.errors.timeouts, crashed: d.errors.crashed, other: d.errors.other }, { total: 3, timeouts: 1, crashed: 1, other: 1 });
  assert.equal(d.flips['correct->error'], 1);
  assert.equal(d.flips['wrong->error'], 2);
  assert.equal(d.lintsAppeared['verifier-error'], 3);
  assert.equal(d.lintExamples.appeared.filter((l) => l.kind === 'verifier-error').length, 3);
  assert.equal(d.errors.examples.length, 3);
});

test('an error that stays an error is still counted; an unchanged group changes nothing else', () => {
  const d = verdictDiff([group(1, [member(1, 'error'), member(2, 'correct')], { 1: v('error', 'error: timeout after 5s'), 2: v('correct') })]);
  assert.equal(d.errors.timeouts, 1);
  assert.equal(d.errorsBefore, 1);
  assert.equal(d.groupsChanged, 0);
  assert.equal(d.rTotal.changed, 0);
  assert.deepEqual(d.lintsAppeared, {});
});

test('the zero-std lint appears when a flip makes every reward equal, and disappears when one breaks the tie', () => {
  const appeared = verdictDiff([group(1, [member(1, 'correct'), member(2, 'wrong')], { 1: v('correct'), 2: v('correct') })]);
  assert.equal(appeared.lintsAppeared['zero-std-group'], 1);
  const gone = verdictDiff([group(1, [member(1, 'wrong'), member(2, 'wrong')], { 1: v('correct'), 2: v('wrong') })]);
  assert.equal(gone.lintsDisappeared['zero-std-group'], 1);
});

test('the active set, not the logged verdict, is the "before" side', () => {
  // Logged wrong, but the active set already says correct: the new correct verdict is no flip.
  const d = verdictDiff([group(1, [member(1, 'wrong'), member(2, 'wrong')], { 1: v('correct'), 2: v('wrong') }, { 1: v('correct', 'relabelled') })]);
  assert.equal(d.flips['wrong->correct'], 0);
  assert.equal(d.unchanged, 2);
});

test('members without a new verdict are counted as missing and keep their old verdict', () => {
  const d = verdictDiff([group(1, [member(1, 'wrong'), member(2, 'correct'), member(3, 'wrong')], { 1: v('correct') })]);
  assert.equal(d.missing, 2);
  assert.equal(d.reverified, 1);
  assert.equal(d.flips['wrong->correct'], 1);
});

test('OGER: the teacher-negative-advantage lint disappears when a wrong online answer is fixed', () => {
  const oger: RewardSettings = { variant: 'oger', replace: 1, advantage: { std: 'sample', eps: 1e-6 } };
  // Every online member correct with R_total > 1 pushes the inserted teacher (R = 1) below the mean.
  const members: DiffMember[] = [
    member(1, 'correct', { divergence: 0.5, entropy_last: 0.1 }),
    member(2, 'correct', { divergence: 0.6, entropy_last: 0.1 }),
    member(3, 'correct', { divergence: 0.1, entropy_last: 0.1 }),
    { trajectoryKey: 9, id: 'teacher', source: 'offline', index: 0, verdict: 'correct', replaced: false, inserted: true },
  ];
  const before = new VerdictDiffBuilder();
  // Flip member 2 to wrong: rewards drop below the teacher's for that member.
  before.addGroup(group(1, members, { 1: v('correct'), 2: v('wrong'), 3: v('correct'), 9: v('correct') }, {}, oger));
  const d = before.result();
  assert.equal(d.flips['correct->wrong'], 1);
  assert.ok(d.rTotal.changed >= 1);
  assert.equal(d.rescoreFailures.count, 0);
  const kinds = [...Object.keys(d.lintsAppeared), ...Object.keys(d.lintsDisappeared)];
  assert.ok(kinds.includes('offline-negative-advantage'), `teacher lint changed: ${JSON.stringify(d.lintExamples)}`);
});

test('examples are bounded per kind while counts are exact', () => {
  const groups: DiffGroupInput[] = [];
  for (let g = 0; g < 40; g++) groups.push(group(g, [member(g * 10 + 1, 'wrong'), member(g * 10 + 2, 'correct')], { [g * 10 + 1]: v('correct'), [g * 10 + 2]: v('correct') }));
  const d = verdictDiff(groups, 5);
  assert.equal(d.flips['wrong->correct'], 40);
  assert.equal(d.examples['wrong->correct'].length, 5);
  assert.equal(d.groups, 40);
});

test('a group the reward core cannot score is reported, not thrown', () => {
  const bad: RewardSettings = { variant: 'oger', replace: 1, advantage: { std: 'sample', eps: 1e-6 } };
  // OGER needs divergences for online members; none are logged here.
  const d = verdictDiff([group(1, [member(1, 'wrong'), member(2, 'correct'), { trajectoryKey: 3, id: 'teach', source: 'offline', index: 0, verdict: 'correct', replaced: false, inserted: true }], { 1: v('correct') }, {}, bad)]);
  assert.equal(d.flips['wrong->correct'], 1);
  assert.equal(d.rescoreFailures.count, 1);
  assert.match(d.rescoreFailures.messages[0] ?? '', /group 1 \(step 10\): cannot re-score group: .*divergence/);
  assert.equal(d.rTotal.changed, 0);
});

test('result helpers', () => {
  assert.equal(verdictOfResult(true), 'correct');
  assert.equal(verdictOfResult(false), 'wrong');
  assert.equal(verdictOfResult(null), 'error');
  assert.equal(errorKind('error: timeout after 5s'), 'timeout');
  assert.equal(errorKind('error: crashed (x)'), 'crashed');
  assert.equal(errorKind('error: ValueError'), 'other');
  assert.equal(errorKind(null), 'other');
});

test('diff webview messages are validated against the typed union', async () => {
  const { validateDiffMessage } = await import('../../src/core/diffMessages');
  const sha = 'a'.repeat(64);
  assert.deepEqual(validateDiffMessage({ type: 'ready' }), { ok: true, message: { type: 'ready' } });
  assert.deepEqual(validateDiffMessage({ type: 'openTrajectory', trajectoryKey: 12 }), { ok: true, message: { type: 'openTrajectory', trajectoryKey: 12 } });
  assert.deepEqual(validateDiffMessage({ type: 'accept', verifierId: sha }), { ok: true, message: { type: 'accept', verifierId: sha } });
  assert.deepEqual(validateDiffMessage({ type: 'browseSets' }), { ok: true, message: { type: 'browseSets' } });
  const refused = [
    null,
    [],
    'ready',
    { type: 'openTrajectory', trajectoryKey: -1 },
    { type: 'openTrajectory', trajectoryKey: 1.5 },
    { type: 'openTrajectory', trajectoryKey: '12' },
    { type: 'accept', verifierId: 'not-a-hash' },
    { type: 'accept', verifierId: sha, extra: 1 },
    { type: 'ready', html: '<img src=x onerror=alert(1)>' },
    { type: 'run', command: 'rm -rf /' },
    { type: 'accept', verifierId: sha.toUpperCase() },
    Object.assign(Object.create({ polluted: true }), { type: 'ready' }),
    { type: 'openTrajectory', trajectoryKey: 1, pad: 'x'.repeat(5000) },
  ];
  for (const raw of refused) assert.equal(validateDiffMessage(raw).ok, false, JSON.stringify(raw)?.slice(0, 60));
});

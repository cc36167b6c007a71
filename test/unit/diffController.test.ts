// The re-verify diff panel's decisions without VS Code: it opens only the members the diff lists,
// accepts only the verdict set it shows, answers a reloaded page, and logs refusals with the same
// flood limit as the inspector and the dashboard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DiffViewModel, HostToDiff } from '../../src/core/diffMessages';
import { verdictDiff, type DiffMember, type VerdictLike } from '../../src/core/verdictDiff';
import { DiffController, listedTrajectoryKeys } from '../../src/extension/verifier/diffController';

function model(verifierId = 'b'.repeat(64)): DiffViewModel {
  const grpo = { variant: 'grpo' as const, replace: 0, advantage: { std: 'sample' as const, eps: 1e-6 } };
  const members: DiffMember[] = [
    { trajectoryKey: 41, id: 't1', source: 'online', index: 0, verdict: 'wrong', replaced: false },
    { trajectoryKey: 42, id: 't2', source: 'online', index: 1, verdict: 'correct', replaced: false },
    { trajectoryKey: 43, id: 't3', source: 'online', index: 2, verdict: 'wrong', replaced: false },
    { trajectoryKey: 44, id: 't4', source: 'online', index: 3, verdict: 'wrong', replaced: false },
  ];
  const next: Array<[number, VerdictLike]> = [
    [41, { verdict: 'correct', reason: 'match', extracted: '3' }],
    [42, { verdict: 'correct', reason: 'match', extracted: '3' }],
    [43, { verdict: 'error', reason: 'error: timeout after 5s', extracted: null }],
    [44, { verdict: 'wrong', reason: 'no match', extracted: '5' }],
  ];
  const diff = verdictDiff([{ groupId: 7, step: 3, promptId: 'p', gold: '3', reward: grpo, trajectories: members, oldVerdicts: new Map(), newVerdicts: new Map(next) }]);
  return { runId: 'run-a', verifier: { id: verifierId, name: 'verifier.py', path: null }, previousVerifierId: null, activeVerifierId: null, written: 4, durationMs: 10, processRestarts: 0, diff };
}

function harness(m: DiffViewModel) {
  const posted: HostToDiff[] = [];
  const logs: string[] = [];
  const opened: number[] = [];
  const accepted: Array<[string, string]> = [];
  const shown: string[] = [];
  let failAccept = false;
  const c = new DiffController(
    {
      post: (msg) => { posted.push(msg); return true; },
      log: (l) => void logs.push(l),
      now: () => 0,
      openTrajectory: async (k) => void opened.push(k),
      accept: async (runId, id) => {
        if (failAccept) throw new Error('database is locked');
        accepted.push([runId, id]);
      },
      browseSets: async () => undefined,
      showError: (msg) => void shown.push(msg),
      setTitle: () => undefined,
    },
    m,
  );
  return { c, posted, logs, opened, accepted, shown, failAccepts: () => { failAccept = true; } };
}

test('the diff lists the flipped and errored members; only those can be opened', async () => {
  const m = model();
  const keys = listedTrajectoryKeys(m);
  assert.ok(keys.has(41) && keys.has(43), 'a flip and an error are listed');
  assert.ok(!keys.has(42), 'an unchanged member is not');
  const h = harness(m);
  assert.equal(await h.c.handle({ type: 'openTrajectory', trajectoryKey: 41 }), true);
  assert.equal(await h.c.handle({ type: 'openTrajectory', trajectoryKey: 42 }), false);
  assert.equal(await h.c.handle({ type: 'openTrajectory', trajectoryKey: 999999 }), false);
  assert.deepEqual(h.opened, [41]);
  assert.equal(h.logs.filter((l) => l.startsWith('[diff] refused a webview message: openTrajectory names trajectory')).length, 2);
});

test('ready sends the model (again for a reloaded page); accept only for the set shown', async () => {
  const h = harness(model());
  await h.c.handle({ type: 'ready' });
  await h.c.handle({ type: 'ready' });
  assert.deepEqual(h.posted.map((p) => p.type), ['diff', 'diff']);
  assert.equal(await h.c.handle({ type: 'accept', verifierId: 'c'.repeat(64) }), false);
  assert.equal(h.posted.at(-1)?.type, 'acceptFailed');
  assert.equal(await h.c.handle({ type: 'accept', verifierId: 'b'.repeat(64) }), true);
  assert.deepEqual(h.accepted, [['run-a', 'b'.repeat(64)]]);
  assert.deepEqual(h.posted.at(-1), { type: 'accepted', verifierId: 'b'.repeat(64) });
  assert.equal(h.c.current.activeVerifierId, 'b'.repeat(64));
  await h.c.show(model('d'.repeat(64)));
  assert.equal(await h.c.handle({ type: 'accept', verifierId: 'b'.repeat(64) }), false, 'a newer diff replaces what may be accepted');
});

test('a failed accept is reported to the page, a failed open to the user; hostile messages are refused without throwing', async () => {
  const h = harness(model());
  h.failAccepts();
  assert.equal(await h.c.handle({ type: 'accept', verifierId: 'b'.repeat(64) }), false);
  assert.deepEqual(h.posted.at(-1), { type: 'acceptFailed', message: 'database is locked' });
  for (const raw of [null, 'ready', { type: 'openTrajectory', trajectoryKey: '41' }, { type: 'accept', verifierId: '../x' }, { type: 'ready', path: '/etc/passwd' }]) {
    assert.equal(await h.c.handle(raw), false);
  }
  for (let i = 0; i < 500; i++) await h.c.handle({ type: 'nonsense' });
  assert.ok(h.logs.length <= 21, `a flood is logged as a burst, not line by line (${h.logs.length} lines)`);
});

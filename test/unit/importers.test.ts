// verl rollout_data_dir and TRL completions parquet imports: grouped by prompt within a step,
// verdict from the reward, unknown columns kept, malformed rows reported, re-import a no-op.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RunStore } from '../../src/node/store';
import { importTrl, importVerl } from '../../src/node/importers';
import { parsePythonJson } from '../../src/node/importers/common';

const fixtures = resolve(__dirname, '..', 'fixtures');

async function withStore<T>(fn: (store: RunStore) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'rl-import-'));
  const store = await RunStore.open(join(dir, 'store.db'));
  try {
    return await fn(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('Python-style NaN/Infinity tokens become null outside strings and stay untouched inside them', () => {
  assert.deepEqual(parsePythonJson('{"a": NaN, "b": -Infinity, "c": Infinity, "s": "NaN and \\"Infinity\\""}'), {
    a: null, b: null, c: null, s: 'NaN and "Infinity"',
  });
  assert.throws(() => parsePythonJson('{"a": nope}'), SyntaxError);
});

test('verl: step files become grpo groups by prompt, with verdicts, recomputed advantages and extra keys kept', async () => {
  await withStore(async (store) => {
    const s = await importVerl(store, join(fixtures, 'verl', 'rollout'), { runId: 'verl-demo' });
    assert.equal(s.files, 2);
    assert.equal(s.rows, 10);
    assert.equal(s.groups, 3);
    assert.equal(s.trajectories, 10);
    assert.deepEqual(s.malformed.map((m) => [m.file.endsWith('0.jsonl'), m.line]), [[true, 7]]);
    assert.match(s.malformed[0]?.reason ?? '', /invalid JSON/);
    const [run] = await store.listRuns();
    assert.equal(run?.variant, 'grpo');
    assert.deepEqual(run?.reward, { variant: 'grpo', replace: 0, advantage: { std: 'sample', eps: 1e-6 } });
    assert.equal(run?.stepCount, 2);
    const step0 = await store.listGroups('verl-demo', 0);
    assert.deepEqual(step0.map((g) => g.trajectoryCount), [4, 3]);
    const g = await store.getGroup(step0[0]?.groupId as number);
    assert.equal(g?.gold, '5');
    assert.match(g?.prompt ?? '', /What is 2\+3\?/);
    const ev = g?.trajectories.map((t) => t.event) ?? [];
    assert.deepEqual(ev.map((t) => t.verdict), ['correct', 'wrong', 'correct', 'wrong']);
    assert.deepEqual(ev.map((t) => t.r_total), [1, 0, 1, 0]);
    // GRPO over [1,0,1,0]: mean 0.5, sample std 0.57735 → ±0.866
    for (const [i, t] of ev.entries()) assert.ok(Math.abs((t.advantage as number) - (i % 2 === 0 ? 0.8660245 : -0.8660245)) < 1e-5);
    assert.equal(ev[0]?.acc, true);
    assert.equal(ev[0]?.pred, '5');
    assert.equal(ev[2]?.verl_index, 17, 'a key named like a protocol field is prefixed, not dropped');
    assert.equal(ev[3]?.format_penalty, null);
    assert.equal(ev[3]?.text, 'I think it is 23. \\boxed{23}');
    const factor = await store.getGroup(step0[1]?.groupId as number);
    const fe = factor?.trajectories.map((t) => t.event) ?? [];
    assert.deepEqual(fe[0]?.score_detail, { score: 1, acc: 1 });
    assert.equal(fe[2]?.text, 'Answer: NaN is not a number, (x+1)(x-1). \\boxed{(x+1)(x-1)}');
    const step1 = await store.listGroups('verl-demo', 1);
    const g1 = await store.getGroup(step1[0]?.groupId as number);
    assert.deepEqual(g1?.trajectories.map((t) => t.event.verdict), ['correct', 'wrong', 'correct']);
    assert.equal((await store.listSteps('verl-demo'))[1]?.metrics['critic/score/min'], -0.5);
    // Found by search like any run.
    assert.equal((await store.search('prime')).hits[0]?.runId, 'verl-demo');

    const again = await importVerl(store, join(fixtures, 'verl', 'rollout'), { runId: 'verl-demo' });
    assert.equal(again.skippedFiles, 2);
    assert.equal(again.groups, 0);
    assert.equal((await store.stats()).trajectories, 10);
  });
});

test('TRL: completions parquet (snappy and zstd) becomes grpo groups, rewards summed, logged advantages kept', async () => {
  await withStore(async (store) => {
    const s = await importTrl(store, join(fixtures, 'trl'));
    assert.equal(s.runId, 'trl-trl');
    assert.equal(s.files, 2);
    assert.equal(s.rows, 8);
    assert.equal(s.groups, 3);
    assert.deepEqual(s.malformed, []);
    const [run] = await store.listRuns();
    assert.deepEqual(run?.reward.advantage, { std: 'sample', eps: 1e-4 });
    const step1 = await store.listGroups('trl-trl', 1);
    assert.deepEqual(step1.map((g) => g.trajectoryCount), [4, 2]);
    assert.deepEqual(step1.map((g) => g.zeroStd), [false, true]);
    const g = await store.getGroup(step1[0]?.groupId as number);
    const ev = g?.trajectories.map((t) => t.event) ?? [];
    assert.deepEqual(ev.map((t) => t.r_total), [2, 0, 2, 0]);
    assert.deepEqual(ev.map((t) => t.verdict), ['correct', 'wrong', 'correct', 'wrong']);
    assert.deepEqual(ev.map((t) => t.advantage), [0.866, -0.866, 0.866, -0.866]);
    assert.deepEqual(ev[3]?.rewards, { accuracy_reward: 0, format_reward: null });
    assert.equal(ev[0]?.source_dataset, 'gsm8k');
    assert.equal(g?.prompt, 'Solve: 1+1');
    const step2 = await store.listGroups('trl-trl', 2);
    assert.equal(step2.length, 1);
    assert.equal((await importTrl(store, join(fixtures, 'trl'))).skippedFiles, 2);
  });
});

// verl rollout_data_dir and TRL completions parquet imports: grouped by prompt within a step,
// verdict from the reward, unknown columns kept, malformed rows reported, re-import a no-op.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

test('verl: a dump written by verl 0.9 v1 _write_generations is grouped by uid, ordered by session, verdicts from the score', async () => {
  await withStore(async (store) => {
    // Fixtures written by verl's own dump function (test/fixtures/verl/make_fixture.py).
    const s = await importVerl(store, join(fixtures, 'verl', 'rollout'), { runId: 'verl-demo' });
    assert.equal(s.files, 2);
    assert.equal(s.rows, 13);
    assert.equal(s.groups, 4, 'the prompt drawn twice in step 1 is two groups (two uids), not one');
    assert.equal(s.trajectories, 13);
    assert.deepEqual(s.malformed, []);
    const [run] = await store.listRuns();
    assert.equal(run?.variant, 'grpo');
    assert.deepEqual(run?.reward, { variant: 'grpo', replace: 0, advantage: { std: 'sample', eps: 1e-6 } });
    assert.equal(run?.stepCount, 2);
    const step1 = await store.listGroups('verl-demo', 1);
    assert.deepEqual(step1.map((g) => g.trajectoryCount).sort(), [2, 4, 4]);
    const groups = await Promise.all(step1.map((g) => store.getGroup(g.groupId)));
    const add = groups.filter((g) => g?.prompt.includes('What is 2+3?'));
    assert.equal(add.length, 2);
    assert.notEqual(add[0]?.promptId, add[1]?.promptId, 'two groups of one step cannot share a prompt id');
    const first = add.find((g) => g?.trajectories.length === 4);
    const ev = first?.trajectories.map((t) => t.event) ?? [];
    assert.equal(first?.gold, '5');
    assert.deepEqual(ev.map((t) => t.uid), ['1d0c_0_0', '1d0c_1_0', '1d0c_2_0', '1d0c_3_0'], 'members in session order, uid kept');
    assert.deepEqual(ev.map((t) => t.verdict), ['correct', 'wrong', 'correct', 'wrong']);
    assert.deepEqual(ev.map((t) => t.r_total), [1, 0, 1, 0]);
    // GRPO over [1,0,1,0]: mean 0.5, sample std 0.57735 → ±0.866
    for (const [i, t] of ev.entries()) assert.ok(Math.abs((t.advantage as number) - (i % 2 === 0 ? 0.8660245 : -0.8660245)) < 1e-5);
    assert.equal(ev[3]?.text, 'I think it is 23 — “twenty-three”.\n</think>\n\\boxed{23}');
    const factor = groups.find((g) => g?.prompt.includes('Factor'));
    const fe = factor?.trajectories.map((t) => t.event) ?? [];
    assert.equal(fe[2]?.text, 'Answer: NaN is not a number, (x+1)(x-1).\n</think>\n\\boxed{(x+1)(x-1)}');
    assert.equal(fe[3]?.r_total, -0.5);
    assert.equal((await store.listSteps('verl-demo'))[0]?.metrics['critic/score/min'], -0.5);
    // Found by search like any run.
    assert.equal((await store.search('prime')).hits[0]?.runId, 'verl-demo');

    const again = await importVerl(store, join(fixtures, 'verl', 'rollout'), { runId: 'verl-demo' });
    assert.equal(again.skippedFiles, 2);
    assert.equal(again.groups, 0);
    assert.equal((await store.stats()).trajectories, 13);
  });
});

test('verl: compute_score verdicts in a legacy (v0) dump are kept, and a verifier error stays error', async () => {
  await withStore(async (store) => {
    const s = await importVerl(store, join(fixtures, 'verl', 'rollout-v0'), { runId: 'v0' });
    assert.equal(s.groups, 1);
    const [run] = await store.listRuns();
    assert.equal(run?.verifier?.name, 'Reward Lens verdicts in the verl dump');
    const [g] = await store.listGroups('v0', 1);
    const ev = (await store.getGroup(g?.groupId as number))?.trajectories.map((t) => t.event) ?? [];
    assert.deepEqual(ev.map((t) => t.verdict), ['correct', 'wrong', 'error', 'wrong']);
    assert.deepEqual(ev.map((t) => t.r_m), [1, 0, 0, 0]);
    assert.match(String(ev[2]?.verdict_reason), /verifier exploded on purpose/);
    assert.equal(ev[2]?.extracted_answer, null);
    assert.match(String(ev[3]?.verdict_reason), /truncated/);
    assert.equal(ev[0]?.acc, 1);
  });
});

test('verl: the Reward Lens trainer dump keeps verdicts, D, R_OGER, R_total, advantages and the inserted teacher', async () => {
  await withStore(async (store) => {
    const s = await importVerl(store, join(fixtures, 'verl', 'rollout-lens'), { runId: 'lens' });
    assert.equal(s.groups, 1);
    assert.deepEqual(s.malformed, []);
    const [g] = await store.listGroups('lens', 1);
    const ev = (await store.getGroup(g?.groupId as number))?.trajectories.map((t) => t.event) ?? [];
    // the store lists online members, then offline ones
    assert.deepEqual(ev.map((t) => [t.source, t.index, t.verdict]), [['online', 0, 'correct'], ['online', 1, 'error'], ['online', 2, 'correct'], ['offline', 0, 'correct']]);
    assert.equal(ev[3]?.teacher, 'DeepSeek-R1');
    assert.equal(ev[3]?.inserted, true);
    assert.equal(ev[0]?.divergence, 0.31);
    assert.ok(Math.abs((ev[0]?.r_oger as number) - 0.31 * Math.exp(-0.05)) < 1e-12);
    assert.ok(Math.abs((ev[0]?.r_total as number) - (1 + 0.31 * Math.exp(-0.05))) < 1e-12);
    assert.equal(ev[1]?.r_m, 0);
    assert.match(String(ev[1]?.verdict_reason), /verifier exploded on purpose/);
    // the trainer's advantages are kept as logged, not recomputed
    assert.deepEqual(ev.map((t) => t.advantage), [0.7044843967216714, -1.4675272664680201, 0.5531870722664644, 0.20985579747988434]);
    assert.equal(ev[0]?.advantage_recomputed, undefined);
    assert.equal(ev[3]?.replaced_online_text, '2+3=6\n</think>\n\\boxed{6}');
  });
});

test('verl: a broken line in a dump is reported with its line number, the rest imported', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rl-verl-bad-'));
  try {
    const good = readFileSync(join(fixtures, 'verl', 'rollout', '2.jsonl'), 'utf8');
    writeFileSync(join(dir, '2.jsonl'), `${good}{"input": "cut off by a crash", "out`);
    await withStore(async (store) => {
      const s = await importVerl(store, dir, { runId: 'bad' });
      assert.equal(s.trajectories, 3);
      assert.deepEqual(s.malformed.map((m) => m.line), [4]);
      assert.match(s.malformed[0]?.reason ?? '', /invalid JSON/);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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

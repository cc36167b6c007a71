import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateRewardCase, parseRewardCase, CaseError, evaluateRewardInput } from '../../src/core/rewardCase';
import { groupAdvantages } from '../../src/core/reward';
import { VARIANTS, VARIANT_TRAITS, type Variant } from '../../src/core/variants';

interface VectorFile {
  tolerance: number;
  cases: { name: string; input: unknown; expected: Record<string, unknown> }[];
}

const vectors = JSON.parse(readFileSync(join(__dirname, '..', 'vectors', 'reward_cases.json'), 'utf8')) as VectorFile;

function close(actual: unknown, expected: unknown, tol: number, path: string): void {
  if (typeof expected === 'number') {
    assert.equal(typeof actual, 'number', `${path}: expected a number, got ${JSON.stringify(actual)}`);
    assert.ok(Math.abs((actual as number) - expected) <= tol * Math.max(1, Math.abs(expected)), `${path}: ${actual} != ${expected}`);
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: expected an array`);
    assert.equal((actual as unknown[]).length, expected.length, `${path}: length`);
    expected.forEach((e, i) => close((actual as unknown[])[i], e, tol, `${path}[${i}]`));
  } else if (expected !== null && typeof expected === 'object') {
    for (const [k, v] of Object.entries(expected)) close((actual as Record<string, unknown>)[k], v, tol, `${path}.${k}`);
  } else {
    assert.equal(actual, expected, path);
  }
}

test('vector file covers every variant, k = 1..3, ties, D > 1 and the degenerate groups', () => {
  const names = vectors.cases.map((c) => c.name).join('\n');
  assert.deepEqual([...VARIANTS], ['grpo', 'luffy', 'oger', 'oger-no-refine', 'oger-no-reward']);
  for (const v of VARIANTS) {
    for (const k of [1, 2, 3]) assert.match(names, new RegExp(`^${v} replace=${k}`, 'm'));
  }
  for (const needle of ['ties', 'divergence above 1', 'all correct', 'all wrong', 'zero std', 'singleton']) {
    assert.ok(names.includes(needle), needle);
  }
  assert.ok(vectors.cases.length >= 40);
});

for (const c of vectors.cases) {
  test(`vector: ${c.name}`, () => {
    const got = evaluateRewardCase(parseRewardCase(c.input));
    close(got, c.expected, vectors.tolerance, 'result');
  });
}

test('OGER all-correct group gives the teacher a negative advantage', () => {
  const c = vectors.cases.find((x) => x.name === 'oger all correct');
  assert.ok(c);
  const got = evaluateRewardCase(parseRewardCase(c.input));
  const teacher = got.group.find((m) => m.source === 'offline');
  assert.ok(teacher && teacher.advantage < 0);
});

test('bad cases are refused with the field and value named', () => {
  assert.throws(() => parseRewardCase({ variant: 'ppo', online: [{ correct: true }] }), (e: Error) => e instanceof CaseError && /variant.*"ppo"/.test(e.message));
  assert.throws(() => parseRewardCase({ variant: 'grpo', online: [{ correct: 'yes' }] }), /online\[0\]\.correct.*"yes"/);
  assert.throws(() => parseRewardCase({ variant: 'oger', online: [{ embedding: [1], correct: true }], offline: [{ embedding: [1] }] }), /last_token_entropy is required/);
  assert.throws(() => parseRewardCase({ variant: 'grpo', advantage: { std: 'mad' }, online: [{ correct: true }] }), /advantage\.std.*"mad"/);
  assert.throws(() => evaluateRewardInput({ variant: 'luffy', online: [{ correct: true }, { correct: false }], offline: [{ correct: true }], inserted_offline: [4] }), /inserted_offline entry 4/);
  assert.throws(() => parseRewardCase({ variant: 'oger-no-refine', online: [{ embedding: [1, NaN], correct: true }], offline: [{ embedding: [1, 0] }] }), /embedding\[1\] must be a finite number/);
});

test('advantage estimators pinned: sample (ddof 1), population, none; singleton as verl', () => {
  const r = [1, 0, 0, 1];
  const sample = Math.sqrt(1 / 3);
  assert.ok(Math.abs((groupAdvantages(r)[0] as number) - 0.5 / (sample + 1e-6)) < 1e-12);
  assert.ok(Math.abs((groupAdvantages(r, { std: 'population', eps: 1e-6 })[0] as number) - 0.5 / (0.5 + 1e-6)) < 1e-12);
  assert.deepEqual(groupAdvantages(r, { std: 'none', eps: 1e-6 }), [0.5, -0.5, -0.5, 0.5]);
  assert.ok(Math.abs((groupAdvantages([1])[0] as number) - 1 / (1 + 1e-6)) < 1e-15);
});

interface CaseResult {
  online: Array<{ confidence: number; exploration_reward: number }>;
  replaced: number[];
  group: Array<{ source: string }>;
}

test('the variant traits file (python/reward_lens/variants.json) agrees with the independently generated vectors', () => {
  // The expected values come from test/vectors/generate.py, which hard-codes each variant's
  // behaviour; a wrong trait in the data file shows up here as a disagreement.
  for (const v of VARIANTS) {
    const t = VARIANT_TRAITS[v as Variant];
    const cases = vectors.cases.filter((c) => (c.input as { variant?: string }).variant === v);
    assert.ok(cases.length >= 3, `${v} has vectors`);
    let sawOffline = false;
    let sawBonus = false;
    let sawConfidence = false;
    for (const c of cases) {
      const input = c.input as { online: unknown[]; offline?: unknown[]; replace?: number };
      const e = c.expected as unknown as CaseResult;
      const offline = e.group.some((m) => m.source === 'offline');
      sawOffline ||= offline;
      if (!t.offlineMembers) assert.ok(!offline && e.replaced.length === 0, `${c.name}: no teacher joins a ${v} group`);
      if (t.replacement === 'last' && e.replaced.length) {
        const n = input.online.length;
        assert.deepEqual(e.replaced, Array.from({ length: e.replaced.length }, (_, i) => n - e.replaced.length + i), `${c.name}: the last k are replaced`);
      }
      for (const m of e.online) {
        sawBonus ||= m.exploration_reward !== 0;
        sawConfidence ||= m.confidence !== 1;
        if (!t.explorationReward) assert.equal(m.exploration_reward, 0, `${c.name}: ${v} gives no exploration reward`);
        if (!t.entropyConfidence) assert.equal(m.confidence, 1, `${c.name}: ${v} does not refine with entropy`);
      }
    }
    assert.equal(sawOffline, t.offlineMembers, `${v}: offline members in some vector iff the trait says so`);
    assert.equal(sawBonus, t.explorationReward, `${v}: an exploration reward in some vector iff the trait says so`);
    assert.equal(sawConfidence, t.entropyConfidence, `${v}: a confidence below 1 in some vector iff the trait says so`);
    if (t.needsEncoder) {
      const noEmbedding = cases.find((c) => (c.input as { offline?: unknown[] }).offline?.length);
      assert.ok(noEmbedding, `${v}: a vector with teachers`);
      const stripped = structuredClone(noEmbedding.input) as { online: Array<{ embedding?: unknown }> };
      delete stripped.online[0]!.embedding;
      assert.throws(() => parseRewardCase(stripped), /embedding is required/, `${v} needs embeddings`);
    }
  }
});

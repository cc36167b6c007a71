// Compare Runs' pure decisions: pass@k, the per-prompt table (rows, filters, sorting, window),
// the curves on shared steps, the members aligned by slot, the settings diff, the page's messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  alignMembers, buildRows, compareCurves, compareEntropyKey, excerptOf, keepRow, lastGroupStep, parseSortColumn, passAtK, rowSpread, sortRows, tableEntropyKind, tableK, tableView,
  DEFAULT_FILTER, MAX_TABLE_ROWS, type CompareGroupView, type CompareMemberView, type PromptCell, type PromptRow, type RunCells,
} from '../../src/core/compare';
import { CONFIG_LIMITS, diffSettings, type RunSettings } from '../../src/core/compareConfig';
import { validateCompareMessage } from '../../src/core/compareMessages';
import { MESSAGE_LIMITS, type ViewStepSeriesPoint } from '../../src/core/messages';
import { compareOrder, compareRunIdsArg, selectionProblem } from '../../src/extension/compare/args';

function choose(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

test('passAtK is the unbiased estimator 1 - C(n-c,k)/C(n,k), clipped and defined at the edges', () => {
  for (let n = 1; n <= 12; n++) {
    for (let c = 0; c <= n; c++) {
      for (let k = 1; k <= n; k++) {
        const want = n - c < k ? 1 : 1 - choose(n - c, k) / choose(n, k);
        assert.ok(Math.abs((passAtK(n, c, k) as number) - want) < 1e-12, `n=${n} c=${c} k=${k}`);
      }
    }
  }
  assert.equal(passAtK(8, 3, 1), 3 / 8, 'pass@1 is the accuracy');
  assert.equal(passAtK(4, 1, 9), 1, 'k beyond n is clipped to n: any correct passes');
  assert.equal(passAtK(0, 0, 1), null);
  assert.equal(passAtK(4, 5, 1), null);
  assert.equal(passAtK(4, 0, 4), 0);
});

const cell = (groupId: number, n: number, correct: number, extra: Partial<PromptCell> = {}): PromptCell => ({
  groupId, step: 9, n, correct, meanROger: correct ? 0.3 : null, tokenEntropy: 0.5, hLast: 0.4, ...extra,
});
const rc = (promptId: string, c: PromptCell): RunCells => ({ promptId, preview: `preview of ${promptId}`, cell: c });

function threeRuns(): PromptRow[] {
  return buildRows([
    [rc('p10', cell(1, 8, 8)), rc('p2', cell(2, 8, 0)), rc('p1', cell(3, 8, 4))],
    [rc('p10', cell(4, 8, 8)), rc('p2', cell(5, 8, 2)), rc('p1', cell(6, 8, 4))],
    [rc('p10', cell(7, 8, 6)), rc('p1', cell(8, 8, 0))],
  ]);
}

test('buildRows: one row per prompt any run has, cells in run order, natural prompt order', () => {
  const rows = threeRuns();
  assert.deepEqual(rows.map((r) => r.promptId), ['p1', 'p2', 'p10']);
  const p2 = rows[1] as PromptRow;
  assert.deepEqual(p2.cells.map((c) => c?.groupId ?? null), [2, 5, null], 'the third run has no group of p2');
  assert.equal(rowSpread(rows[0] as PromptRow), 0.5);
  assert.equal(rowSpread(p2), 0.25);
  assert.equal(rowSpread({ promptId: 'x', preview: '', cells: [cell(1, 8, 1), null] }), null, 'a spread needs two runs');
});

test('filters keep what they say', () => {
  const rows = threeRuns();
  const ids = (only: typeof DEFAULT_FILTER.only, text = '') => rows.filter((r) => keepRow(r, { text, only })).map((r) => r.promptId);
  assert.deepEqual(ids('all'), ['p1', 'p2', 'p10']);
  assert.deepEqual(ids('disagree'), ['p1', 'p2'], 'p10 is solved by every run; p1 and p2 by some only');
  assert.deepEqual(ids('spread'), ['p1', 'p2', 'p10'], 'p2 (0 vs 25%) and p10 (100 vs 75%) sit at the 25-point threshold');
  assert.deepEqual(ids('missing'), ['p2']);
  assert.deepEqual(ids('unsolved'), []);
  assert.deepEqual(ids('all', 'P1'), ['p1', 'p10'], 'text matches the prompt id, case-insensitive');
  assert.deepEqual(ids('all', 'preview of p2'), ['p2'], 'and the preview');
  const none: PromptRow = { promptId: 'q', preview: '', cells: [cell(1, 4, 0), cell(2, 4, 0)] };
  assert.equal(keepRow(none, { text: '', only: 'unsolved' }), true);
  assert.equal(keepRow(none, { text: '', only: 'disagree' }), false);
});

test('spread filter: p10 (100% / 100% / 75%) is exactly at the 25-point threshold and kept', () => {
  const rows = threeRuns();
  const p10 = rows.find((r) => r.promptId === 'p10') as PromptRow;
  assert.equal(rowSpread(p10), 0.25);
  assert.equal(keepRow(p10, { text: '', only: 'spread' }), true);
});

test('sorting: by a run metric, missing values last both ways, ties by prompt id', () => {
  const rows = threeRuns();
  const order = (column: string, dir: 'asc' | 'desc') => sortRows([...rows], { column: column as never, dir }, 8, 'tokens').map((r) => r.promptId);
  assert.deepEqual(order('accuracy:2', 'desc'), ['p10', 'p1', 'p2']);
  assert.deepEqual(order('accuracy:2', 'asc'), ['p1', 'p10', 'p2'], 'p2 has no cell in run 2: last either way');
  assert.deepEqual(order('spread', 'desc'), ['p1', 'p2', 'p10'], 'p2 and p10 tie at 25 points: prompt id order');
  assert.deepEqual(order('prompt', 'desc'), ['p10', 'p2', 'p1']);
  assert.deepEqual(order('pass:0', 'asc'), ['p2', 'p1', 'p10']);
});

test('parseSortColumn accepts only columns of the table', () => {
  assert.equal(parseSortColumn('accuracy:2', 3), 'accuracy:2');
  assert.equal(parseSortColumn('accuracy:3', 3), null);
  assert.equal(parseSortColumn('entropy:0', 2), 'entropy:0');
  for (const bad of ['accuracy', 'accuracy:-1', 'accuracy:10', 'toString', '__proto__', 'spread ', 1, null, {}]) assert.equal(parseSortColumn(bad, 6), null, String(bad));
});

test('tableView: filters, sorts and windows a copy; counts say how many matched', () => {
  const rows: PromptRow[] = [];
  for (let i = 0; i < 2 * MAX_TABLE_ROWS; i++) rows.push({ promptId: `p${i}`, preview: '', cells: [cell(i, 8, i % 9), cell(i, 8, 0)] });
  const before = rows.map((r) => r.promptId);
  const v = tableView(rows, { kind: 'last' }, [9, 9], { column: 'accuracy:0', dir: 'desc' }, { text: '', only: 'disagree' }, 2);
  assert.deepEqual(rows.map((r) => r.promptId), before, 'the host keeps its rows in order');
  assert.equal(v.total, 2 * MAX_TABLE_ROWS);
  assert.equal(v.matched, rows.filter((r) => (r.cells[0] as PromptCell).correct > 0).length);
  assert.equal(v.rows.length, MAX_TABLE_ROWS);
  assert.equal((v.rows[0]?.cells[0] as PromptCell).correct, 8);
  assert.equal(v.k, 8);
});

test('pass@k uses the smallest group, and the entropy column one kind for every run', () => {
  const rows: PromptRow[] = [{ promptId: 'a', preview: '', cells: [cell(1, 8, 1), cell(2, 7, 1, { tokenEntropy: null })] }];
  assert.equal(tableK(rows), 7, 'LUFFY logs 7 online members where GRPO logs 8');
  assert.equal(tableEntropyKind(rows, 2), 'hlast', 'one run without token entropies: H_last for all');
  assert.equal(tableEntropyKind([{ promptId: 'a', preview: '', cells: [cell(1, 8, 1), null] }], 2), 'tokens', 'a run without cells does not count');
  assert.equal(tableEntropyKind([{ promptId: 'a', preview: '', cells: [cell(1, 8, 1, { tokenEntropy: null, hLast: null })] }], 1), null);
  assert.equal(tableK([]), 1);
});

test('compareEntropyKey prefers an on-policy entropy, then the dashboard choice', () => {
  assert.equal(compareEntropyKey(['actor/entropy', 'actor/entropy_on_policy']), 'actor/entropy_on_policy');
  assert.equal(compareEntropyKey(['actor/entropy', 'critic/score/mean']), 'actor/entropy');
  assert.equal(compareEntropyKey(['oger/entropy', 'policy/token_entropy']), 'policy/token_entropy');
  assert.equal(compareEntropyKey(['critic/score/mean']), null);
});

function point(step: number, over: Partial<ViewStepSeriesPoint> = {}): ViewStepSeriesPoint {
  return { step, metrics: {}, groupCount: 2, accuracy: 0.5, rOgerMean: 0.1, rOgerMax: 0.3, failedRatio: 0, meanResponseTokens: 100, meanResponseChars: 400, meanOfflineAdvantage: -0.2, lintCount: 0, runawayCount: 0, ...over };
}

test('compareCurves: every run on the union of steps, null where a run has none, 4 significant digits', () => {
  const a = [point(0, { accuracy: 0.123456789, metrics: { 'actor/entropy': 1.5 } }), point(2)];
  const b = [point(1, { meanResponseTokens: null, metrics: { 'actor/entropy_on_policy': 0.25 } }), point(2, { meanResponseTokens: null, groupCount: 0 })];
  const c = compareCurves([a, b], ['actor/entropy', 'actor/entropy_on_policy']);
  assert.deepEqual(c.steps, [0, 1, 2]);
  assert.deepEqual(c.runs[0]?.accuracy, [0.1235, null, 0.5]);
  assert.deepEqual(c.runs[0]?.entropy, [1.5, null, null]);
  assert.deepEqual(c.runs[1]?.entropy, [null, 0.25, null]);
  assert.equal(c.lengthUnit, 'chars', 'one run without token counts: characters for all');
  assert.deepEqual(c.runs[1]?.length, [null, 400, 400]);
  assert.equal(lastGroupStep(b), 1, 'step 2 of b logged no groups');
  assert.equal(lastGroupStep([]), null);
});

const member = (source: 'online' | 'offline', index: number, key: number): CompareMemberView => ({
  trajectoryKey: key, trajectoryId: `${source}${index}`, source, index, teacher: source === 'offline' ? 'T' : null, verdict: 'correct', rTotal: 1, advantage: 0,
  rOger: null, divergence: null, entropyLast: null, replaced: false, inserted: false, truncated: false, extracted: '1', chars: 1, excerpt: '1',
});
const group = (id: number, members: CompareMemberView[]): CompareGroupView => ({ groupId: id, runId: `r${id}`, step: 1, accuracy: 1, meanROger: null, zeroStd: false, members });

test('alignMembers: a row per slot, online by index then teachers, gaps where a run has no such member', () => {
  const slots = alignMembers([
    group(1, [member('offline', 0, 10), member('online', 1, 11), member('online', 0, 12)]),
    null,
    group(3, [member('online', 0, 30), member('online', 1, 31), member('online', 2, 32), member('offline', 0, 33), member('offline', 1, 34)]),
  ]);
  assert.deepEqual(slots.map((s) => s.label), ['online #0', 'online #1', 'online #2', 'teacher #0', 'teacher #1']);
  assert.deepEqual(slots.map((s) => s.members.map((m) => m?.trajectoryKey ?? null)), [[12, null, 30], [11, null, 31], [null, null, 32], [10, null, 33], [null, null, 34]]);
  const dup = alignMembers([group(1, [member('online', 0, 1), member('online', 0, 2)])]);
  assert.deepEqual(dup.map((s) => s.members[0]?.trajectoryKey), [1, 2], 'two members claiming one slot are both shown');
});

test('excerptOf keeps the end of a long text, where the answer is', () => {
  assert.equal(excerptOf('short  \n'), 'short');
  const long = `${'x'.repeat(1000)}The answer is \\boxed{7}.`;
  const e = excerptOf(long, 40);
  assert.equal(e.length, 40);
  assert.ok(e.startsWith('…') && e.endsWith('\\boxed{7}.'));
});

const settings = (over: Partial<RunSettings> = {}): RunSettings => ({
  variant: 'oger', model: 'Qwen2.5-Math-1.5B', config: { lr: 1e-6, batch: 128, sampler: { top_p: 1 } },
  reward: { variant: 'oger', replace: 1, advantage: { std: 'sample', eps: 1e-6 } }, encoder: { id: 'bge', strategy: 'truncate' }, verifier: { id: 'v', name: 'math-verify' }, ...over,
});

test('diffSettings lists only what differs, nested paths and absent fields included', () => {
  const d = diffSettings([
    settings(),
    settings({ variant: 'grpo', config: { lr: 1e-6, batch: 64, sampler: { top_p: 1 }, seed: 3 }, reward: { variant: 'grpo', replace: 0, advantage: { std: 'sample', eps: 1e-6 } }, encoder: null }),
    settings({ config: { lr: 1e-6, batch: 128, sampler: { top_p: 0.9 } } }),
  ]);
  assert.deepEqual(d.rows.map((r) => r.path), ['variant', 'config.batch', 'config.sampler.top_p', 'config.seed', 'reward.replace', 'reward.variant', 'encoder']);
  const row = (p: string) => d.rows.find((r) => r.path === p)?.values;
  assert.deepEqual(row('variant'), ['"oger"', '"grpo"', '"oger"']);
  assert.deepEqual(row('config.seed'), [null, '3', null], 'a field one run lacks is absent, not equal');
  assert.deepEqual(row('encoder'), ['{"id":"bge","strategy":"truncate"}', 'null', '{"id":"bge","strategy":"truncate"}'], 'an object against null is one row');
  assert.ok(d.same >= 6, 'model, lr, eps, std, verifier id and name are equal');
  assert.equal(d.truncated, false);
  assert.deepEqual(diffSettings([settings(), settings()]).rows, [], 'identical runs: nothing listed');
  assert.deepEqual(diffSettings([settings({ config: { a: '1' } }), settings({ config: { a: 1 } })]).rows.map((r) => r.values), [['"1"', '1']], 'a string is not a number');
});

test('diffSettings stays bounded on a hostile config', () => {
  const huge: Record<string, unknown> = {};
  for (let i = 0; i < CONFIG_LIMITS.leaves * 2; i++) huge[`k${i}`] = i;
  let deep: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < 50; i++) deep = { d: deep };
  const d = diffSettings([settings({ config: huge }), settings({ config: { deep, long: 'x'.repeat(10_000) } })]);
  assert.equal(d.truncated, true);
  assert.ok(d.rows.length <= CONFIG_LIMITS.leaves * 2 + 10);
  for (const r of d.rows) for (const v of r.values) assert.ok(v === null || v.length <= CONFIG_LIMITS.valueChars);
  assert.ok(d.rows.some((r) => r.path === 'config.deep.d.d.d.d.d'), 'below the depth limit a subtree is one value');
});

test('compare messages: well-formed ones pass, normalised', () => {
  assert.deepEqual(validateCompareMessage({ type: 'ready' }, 3), { ok: true, message: { type: 'ready' } });
  assert.deepEqual(validateCompareMessage({ type: 'selectStep', step: 12 }, 3), { ok: true, message: { type: 'selectStep', step: 12 } });
  assert.deepEqual(validateCompareMessage({ type: 'selectStep', step: null }, 3), { ok: true, message: { type: 'selectStep', step: null } });
  assert.deepEqual(validateCompareMessage({ type: 'setTable', sort: { column: 'pass:2', dir: 'asc' }, filter: { text: 'p1', only: 'disagree' } }, 3), {
    ok: true, message: { type: 'setTable', sort: { column: 'pass:2', dir: 'asc' }, filter: { text: 'p1', only: 'disagree' } },
  });
  assert.equal(validateCompareMessage({ type: 'openPrompt', promptId: 'p-3' }, 2).ok, true);
  assert.deepEqual(validateCompareMessage({ type: 'openGroup', groupId: 4 }, 2), { ok: true, message: { type: 'openGroup', groupId: 4, focusTrajectoryKey: null } });
  assert.equal(validateCompareMessage({ type: 'rendered', view: 'compare', what: 'table', ms: 3, size: 10 }, 2).ok, true);
});

test('compare messages: hostile and malformed ones are refused', () => {
  const hostile: unknown[] = [
    null, 'ready', [], { type: 'ready', x: 1 }, { type: 'selectStep', step: -1 }, { type: 'selectStep', step: 1.5 }, { type: 'selectStep', step: '3' },
    { type: 'setTable', sort: { column: 'accuracy:3', dir: 'asc' }, filter: { text: '', only: 'all' } },
    { type: 'setTable', sort: { column: 'prompt', dir: 'up' }, filter: { text: '', only: 'all' } },
    { type: 'setTable', sort: { column: 'prompt', dir: 'asc', x: 1 }, filter: { text: '', only: 'all' } },
    { type: 'setTable', sort: { column: 'prompt', dir: 'asc' }, filter: { text: '', only: 'toString' } },
    { type: 'setTable', sort: { column: 'prompt', dir: 'asc' }, filter: { text: 'x'.repeat(201), only: 'all' } },
    { type: 'setTable', sort: { column: 'prompt', dir: 'asc' }, filter: { text: 3, only: 'all' } },
    { type: 'setTable', sort: 'prompt', filter: { text: '', only: 'all' } },
    { type: 'openPrompt', promptId: '' }, { type: 'openPrompt', promptId: 'x'.repeat(MESSAGE_LIMITS.maxIdChars + 1) }, { type: 'openPrompt', promptId: 5 },
    { type: 'openGroup', groupId: -2 }, { type: 'openGroup', groupId: 1, focusTrajectoryKey: 'x' },
    { type: 'rendered', view: 'dashboard', what: 'series', ms: 1, size: 1 }, { type: 'rendered', view: 'compare', what: 'series', ms: 1, size: 1 },
    { type: 'relabel', groupId: 1, trajectoryKey: 1, label: 'wrong' },
    { type: 'openPrompt', promptId: 'p', pad: 'x'.repeat(MESSAGE_LIMITS.maxMessageChars) },
  ];
  for (const h of hostile) assert.equal(validateCompareMessage(h, 3).ok, false, JSON.stringify(h)?.slice(0, 120));
});

test('Compare Runs arguments: tree selections, strings and junk', () => {
  const run = (id: string) => ({ kind: 'run', run: { runId: id } });
  const step = { kind: 'step', runId: 'a', step: {} };
  assert.deepEqual(compareRunIdsArg(undefined), []);
  assert.deepEqual(compareRunIdsArg(run('a'), [run('a'), run('b'), step, run('b')]), ['a', 'b'], 'the selection, runs only, without repeats');
  assert.deepEqual(compareRunIdsArg(run('c'), [run('a'), run('b')]), ['c'], 'right-clicked outside the selection: that run only');
  assert.deepEqual(compareRunIdsArg(['a', 'b', 7, 'a']), ['a', 'b'], 'run ids from code');
  assert.deepEqual(compareRunIdsArg({ run: { runId: 'x' } }), [], 'not a run node');
  assert.deepEqual(compareRunIdsArg('x'.repeat(300)), []);
  assert.match(selectionProblem(1) ?? '', /at least 2/);
  assert.match(selectionProblem(7) ?? '', /at most 6.*Unpick 1/);
  assert.equal(selectionProblem(2), null);
  assert.equal(selectionProblem(6), null);
  const runs = [{ runId: 'oger', startedAt: '2026-01-03' }, { runId: 'grpo', startedAt: '2026-01-01' }, { runId: 'b', startedAt: null }, { runId: 'a', startedAt: null }];
  assert.deepEqual(compareOrder(['oger', 'grpo', 'b', 'a'], runs), ['a', 'b', 'grpo', 'oger'], 'oldest first, however picked');
});

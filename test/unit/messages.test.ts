// Webview→host validators against hostile input: a compromised webview must not make the host act.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePerfLine, percentile, summarise } from '../kit/ui';
import { MESSAGE_LIMITS, drawnMetricKeys, formatRenderedLog, fromSeriesColumns, policyEntropyKey, toSeriesColumns, validateDashboardMessage, validateInspectorMessage, warmStartProgress, warmStartSteps, type StepSeriesColumns, type ViewStepSeriesPoint } from '../../src/core/messages';

const refused = (r: { ok: boolean }) => assert.equal(r.ok, false, JSON.stringify(r));

test('inspector: well-formed messages pass and come back normalised', () => {
  assert.deepEqual(validateInspectorMessage({ type: 'ready' }), { ok: true, message: { type: 'ready' } });
  assert.deepEqual(validateInspectorMessage({ type: 'relabel', groupId: 3, trajectoryKey: 17, label: 'wrong' }), {
    ok: true, message: { type: 'relabel', groupId: 3, trajectoryKey: 17, label: 'wrong' },
  });
  const note = validateInspectorMessage({ type: 'note', groupId: 3, trajectoryKey: 17, text: '  looks like a hack  ' });
  assert.deepEqual(note, { ok: true, message: { type: 'note', groupId: 3, trajectoryKey: 17, text: 'looks like a hack' } });
  assert.equal(validateInspectorMessage({ type: 'rendered', view: 'inspector', what: 'heatmap', ms: 12.5, size: 150000 }).ok, true);
  assert.equal(validateInspectorMessage({ type: 'openDocument', trajectoryKey: 0 }).ok, true);
  refused(validateInspectorMessage({ type: 'requestNote', groupId: 1, trajectoryKey: 2 }));
});

test('inspector: hostile and malformed messages are refused with a reason', () => {
  const cyclic: Record<string, unknown> = { type: 'ready' };
  cyclic.self = cyclic;
  const hostile: unknown[] = [
    null, undefined, 42, 'relabel', [], [{ type: 'ready' }], new Date(), cyclic,
    { type: 'ready', extra: 1 },
    { type: 'eval', code: 'process.exit()' },
    { type: 'constructor' }, { type: '__proto__' }, { type: 7 }, {},
    { type: 'relabel', groupId: 1, trajectoryKey: '17', label: 'wrong' },
    { type: 'relabel', groupId: 1, trajectoryKey: -1, label: 'wrong' },
    { type: 'relabel', groupId: 1, trajectoryKey: 1.5, label: 'wrong' },
    { type: 'relabel', groupId: 1, trajectoryKey: Number.NaN, label: 'wrong' },
    { type: 'relabel', groupId: 1, trajectoryKey: 2 ** 60, label: 'wrong' },
    { type: 'relabel', groupId: 1, trajectoryKey: 1, label: 'note' },
    { type: 'relabel', groupId: 1, trajectoryKey: 1, label: 'correct', path: '../../etc/passwd' },
    { type: 'relabel', trajectoryKey: 1, label: 'correct' },
    { type: 'note', groupId: 1, trajectoryKey: 1, text: '   ' },
    { type: 'note', groupId: 1, trajectoryKey: 1, text: { toString: 'x' } },
    { type: 'note', groupId: 1, trajectoryKey: 1, text: 'x'.repeat(MESSAGE_LIMITS.maxNoteChars + 1) },
    { type: 'note', groupId: 1, trajectoryKey: 1, text: 'x'.repeat(MESSAGE_LIMITS.maxMessageChars) },
    { type: 'openDocument', trajectoryKey: 'file:///etc/passwd' },
    { type: 'rendered', view: 'dashboard', what: 'series', ms: 1, size: 1 },
    { type: 'rendered', view: 'inspector', what: 'group', ms: -1, size: 1 },
    { type: 'rendered', view: 'inspector', what: 'group', ms: Number.POSITIVE_INFINITY, size: 1 },
    { type: 'rendered', view: 'inspector', what: 'nope', ms: 1, size: 1 },
    { type: 'selectStep', runId: 'r', step: 1 },
  ];
  for (const h of hostile) refused(validateInspectorMessage(h));
  const r = validateInspectorMessage({ type: 'x'.repeat(5000) });
  assert.equal(r.ok, false);
  if (!r.ok) assert.ok(r.reason.length < 120, 'a refusal reason never echoes a long payload');
});

test('inspector: an object with a poisoned prototype is not a plain message', () => {
  const o = Object.create({ type: 'ready' });
  refused(validateInspectorMessage(o));
  const parsed = JSON.parse('{"type":"relabel","groupId":1,"trajectoryKey":1,"label":"wrong","__proto__":{"admin":true}}');
  refused(validateInspectorMessage(parsed));
});

test('dashboard: valid messages pass, hostile ones are refused', () => {
  assert.deepEqual(validateDashboardMessage({ type: 'selectStep', runId: 'run-1', step: 12 }), { ok: true, message: { type: 'selectStep', runId: 'run-1', step: 12 } });
  assert.deepEqual(validateDashboardMessage({ type: 'openGroup', groupId: 4 }), { ok: true, message: { type: 'openGroup', groupId: 4, focusTrajectoryKey: null } });
  assert.equal(validateDashboardMessage({ type: 'openGroup', groupId: 4, focusTrajectoryKey: 9 }).ok, true);
  assert.equal(validateDashboardMessage({ type: 'rendered', view: 'dashboard', what: 'series', ms: 80, size: 2000 }).ok, true);
  for (const h of [
    { type: 'selectStep', runId: '', step: 1 },
    { type: 'selectStep', runId: 'r'.repeat(MESSAGE_LIMITS.maxIdChars + 1), step: 1 },
    { type: 'selectStep', runId: 5, step: 1 },
    { type: 'selectStep', runId: 'r', step: -3 },
    { type: 'openGroup', groupId: '4' },
    { type: 'openGroup', groupId: 4, focusTrajectoryKey: 'x' },
    { type: 'relabel', groupId: 1, trajectoryKey: 1, label: 'wrong' },
    { type: 'rendered', view: 'dashboard', what: 'heatmap', ms: 1, size: 1 },
  ]) refused(validateDashboardMessage(h));
});

test('rendered timings are logged in the format test/kit/ui.ts parses', () => {
  assert.equal(formatRenderedLog({ type: 'rendered', view: 'dashboard', what: 'series', ms: 81.26, size: 2000 }), '[perf] dashboard.series 81.3 ms size=2000');
});

test('test/kit/ui parses the logged timings back and computes nearest-rank percentiles', () => {
  const line = formatRenderedLog({ type: 'rendered', view: 'inspector', what: 'traceComplete', ms: 12.04, size: 150000 });
  assert.deepEqual(parsePerfLine(`2026-11-23 01:00:00.000 [info] ${line}`), { view: 'inspector', what: 'traceComplete', ms: 12, size: 150000 });
  assert.deepEqual(parsePerfLine('[perf] host.group-open 45.5 ms size=10'), { view: 'host', what: 'group-open', ms: 45.5, size: 10 });
  assert.equal(parsePerfLine('[inspector] refused a webview message: x'), null);
  const xs = Array.from({ length: 20 }, (_, i) => i + 1);
  assert.equal(percentile(xs, 95), 19);
  assert.equal(percentile(xs, 50), 10);
  assert.equal(percentile([7], 95), 7);
  assert.throws(() => percentile([], 50));
  assert.deepEqual(summarise([3, 1, 2]), { n: 3, p50: 2, p95: 3, max: 3 });
});

test('the dashboard is sent only the metric it draws: the policy entropy, under the name the trainer used', () => {
  const point = (metrics: Record<string, number | null>): ViewStepSeriesPoint => ({ step: 0, metrics, groupCount: 1, accuracy: 1, rOgerMean: null, rOgerMax: null, failedRatio: 0, meanResponseTokens: null, meanResponseChars: 10, meanOfflineAdvantage: null, lintCount: 0, runawayCount: null });
  const verl = [point({ 'actor/entropy': 1.2, 'actor/pg_loss': -0.4, 'timing_s/gen': 3.1, 'critic/score/mean': 0.5 }), point({ 'actor/entropy': 1.1, 'response_length/mean': 300 })];
  assert.deepEqual(drawnMetricKeys(verl), ['actor/entropy']);
  const wire = toSeriesColumns(verl, drawnMetricKeys(verl));
  assert.deepEqual(Object.keys(wire.metrics), ['actor/entropy']);
  assert.deepEqual(wire.metrics['actor/entropy'], [1.2, 1.1]);
  assert.deepEqual(Object.keys(toSeriesColumns(verl).metrics).sort(), ['actor/entropy', 'actor/pg_loss', 'critic/score/mean', 'response_length/mean', 'timing_s/gen'], 'without a selection every metric is kept');
  // Known names first; otherwise any "...entropy" that is not a reward's or the last token's.
  assert.equal(policyEntropyKey(['train/policy_entropy', 'entropy']), 'entropy');
  assert.equal(policyEntropyKey(['oger/entropy', 'h_last_entropy', 'train/policy_entropy']), 'train/policy_entropy');
  assert.equal(policyEntropyKey(['oger/entropy', 'reward/entropy']), null);
  assert.deepEqual(drawnMetricKeys([point({ 'actor/pg_loss': 1 })]), [], 'a run without an entropy metric sends no metric column');
});

test('a warm start: the on-policy entropy spans both phases, the promote/suppress entropies are sent, N is read off the step axis', () => {
  const point = (step: number, metrics: Record<string, number | null>): ViewStepSeriesPoint => ({ step, metrics, groupCount: step < 0 ? 0 : 1, accuracy: step < 0 ? null : 1, rOgerMean: null, rOgerMax: null, failedRatio: null, meanResponseTokens: null, meanResponseChars: null, meanOfflineAdvantage: null, lintCount: 0, runawayCount: null });
  // 8 OXA steps logged every 4: records after 0, 4 and 8 of them (steps -9, -5, -1), then RL.
  const run = [
    point(-9, { 'actor/entropy_on_policy': 0.4, 'sft/lr': 0.001, 'sft/oxa_mu': 1.3 }),
    point(-5, { 'actor/entropy_on_policy': 0.5, 'sft/loss': 0.9, 'sft/entropy_promote': 0.7, 'sft/entropy_suppress': 0.2 }),
    point(-1, { 'actor/entropy_on_policy': 0.55, 'sft/loss': 0.6, 'sft/entropy_promote': 0.6, 'sft/entropy_suppress': 0.1 }),
    point(0, { 'actor/entropy': 0.9, 'actor/entropy_on_policy': 0.55 }),
    point(1, { 'actor/entropy': 0.8, 'actor/entropy_on_policy': 0.5, 'actor/pg_loss': 0.1 }),
  ];
  assert.deepEqual(drawnMetricKeys(run), ['actor/entropy_on_policy', 'sft/entropy_promote', 'sft/entropy_suppress']);
  assert.deepEqual(toSeriesColumns(run, drawnMetricKeys(run)).metrics['actor/entropy_on_policy'], [0.4, 0.5, 0.55, 0.55, 0.5]);
  assert.equal(policyEntropyKey(['actor/entropy', 'actor/entropy_on_policy']), 'actor/entropy_on_policy', 'teacher tokens excluded first');
  assert.equal(policyEntropyKey(['sft/entropy_promote', 'sft/entropy_suppress']), null, 'a subset entropy is not the policy entropy');
  assert.equal(warmStartSteps(run), 8);
  assert.equal(warmStartProgress(-9, 8), 0);
  assert.equal(warmStartProgress(-1, 8), 8);
  assert.equal(warmStartSteps(run.slice(3)), 0, 'no warm start, no negative step');
});

test('the dashboard series survives its columnar wire form, including steps that logged different metrics', () => {
  const points: ViewStepSeriesPoint[] = [
    { step: 0, metrics: { 'actor/entropy': 1.25, 'critic/score/mean': 0.1 }, groupCount: 3, accuracy: 0.5, rOgerMean: 0.2, rOgerMax: 0.9, failedRatio: 0, meanResponseTokens: 120.5, meanResponseChars: 400, meanOfflineAdvantage: -0.25, lintCount: 2, runawayCount: 1 },
    { step: 1, metrics: { 'actor/entropy': 1.0000000000000002 }, groupCount: 3, accuracy: null, rOgerMean: null, rOgerMax: null, failedRatio: null, meanResponseTokens: null, meanResponseChars: null, meanOfflineAdvantage: null, lintCount: 0, runawayCount: null },
    { step: 7, metrics: { 'late/metric': 3, 'was/null': null }, groupCount: 1, accuracy: 1, rOgerMean: 0.3, rOgerMax: 0.3, failedRatio: 0.5, meanResponseTokens: 10, meanResponseChars: 30, meanOfflineAdvantage: null, lintCount: 0, runawayCount: 0 },
  ];
  const wire = JSON.parse(JSON.stringify(toSeriesColumns(points))) as StepSeriesColumns;
  assert.deepEqual(wire.step, [0, 1, 7]);
  assert.deepEqual(wire.metrics['late/metric'], [null, null, 3]);
  const back = fromSeriesColumns(wire);
  // An explicit null metric means "not logged", as an absent one does: it is left out.
  const expected = structuredClone(points);
  delete expected[2]!.metrics['was/null'];
  // Integers cross exactly; other numbers to SERIES_DIGITS significant digits.
  expected[1]!.metrics['actor/entropy'] = 1;
  assert.deepEqual(back, expected);
  const [precise] = fromSeriesColumns(toSeriesColumns([{ ...points[0]!, accuracy: 0.123456789123, meanResponseTokens: 1234567 }]));
  assert.equal(precise!.accuracy, 0.1234568);
  assert.equal(precise!.meanResponseTokens, 1234567);
  assert.deepEqual(fromSeriesColumns(toSeriesColumns([])), []);
  // the wire form is smaller than the points for a long run (names cross once)
  const many = Array.from({ length: 2000 }, (_, i) => ({ ...points[0]!, step: i }));
  assert.ok(JSON.stringify(toSeriesColumns(many)).length < 0.6 * JSON.stringify(many).length);
});

// Webview→host validators against hostile input: a compromised webview must not make the host act.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePerfLine, percentile, summarise } from '../../bench/ui';
import { MESSAGE_LIMITS, formatRenderedLog, validateDashboardMessage, validateInspectorMessage } from '../../src/core/messages';

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

test('rendered timings are logged in the format bench/ui.ts parses', () => {
  assert.equal(formatRenderedLog({ type: 'rendered', view: 'dashboard', what: 'series', ms: 81.26, size: 2000 }), '[perf] dashboard.series 81.3 ms size=2000');
});

test('bench/ui parses the logged timings back and computes nearest-rank percentiles', () => {
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

// The inline trajectory document's arithmetic: paragraphs, per-paragraph entropy from the
// protocol's code-point offsets, and the header/summary text the decorations show.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TrajectoryEvent } from '../../src/core/protocol';
import { breakdownRows, codePointToUtf16, marginText, reasoningFolds, renderTrajectory, splitParagraphs, summaryDecorationText, summaryText } from '../../src/extension/inline/render';

function traj(text: string, extra: Partial<TrajectoryEvent> = {}): TrajectoryEvent {
  return { id: 't1', source: 'online', index: 2, text, r_m: 1, verdict: 'correct', replaced: false, divergence: 0.4123, entropy_last: 0.5, r_oger: 0.25, r_total: 1.25, advantage: -0.75, ...extra };
}

test('paragraphs are split on blank lines and placed after the header lines', () => {
  const ps = splitParagraphs('a\nb\n\n\nc\n  \nd', 2);
  assert.deepEqual(ps.map((p) => [p.line, p.endLine, p.start, p.end]), [[2, 3, 0, 3], [6, 6, 6, 7], [8, 8, 11, 12]]);
});

test('mean entropy per paragraph from token offsets, with levels by tercile', () => {
  const text = 'first para\n\nsecond para\n\nthird';
  // tokens at offsets 0,6 (para 1), 12,19 (para 2), 25 (para 3); one on the blank line (11) is dropped
  const r = renderTrajectory(traj(text, { token_entropies: { offsets: [0, 6, 11, 12, 19, 25], values: [0.2, 0.4, 9, 1.0, 2.0, 5.0] } }), { runId: 'r', step: 3, promptId: 'p' });
  assert.equal(r.headerLines, 3);
  assert.equal(r.content.split('\n')[3], 'first para');
  const [a, b, c] = r.paragraphs;
  assert.ok(a && b && c);
  assert.equal(a.tokens, 2);
  assert.ok(Math.abs((a.meanEntropy as number) - 0.3) < 1e-12);
  assert.equal(b.meanEntropy, 1.5);
  assert.equal(c.meanEntropy, 5);
  assert.equal(c.maxEntropy, 5);
  assert.deepEqual(r.paragraphs.map((p) => p.level), ['low', 'mid', 'high']);
  assert.equal(marginText(a), 'H̄ 0.30');
  assert.ok(Math.abs((r.meanEntropy as number) - (0.2 + 0.4 + 9 + 1 + 2 + 5) / 6) < 1e-12);
});

test('code-point offsets from Python map onto UTF-16 when the text has astral characters', () => {
  const text = '😀😀 ab\n\ncd';
  const f = codePointToUtf16(text);
  assert.equal(f(0), 0);
  assert.equal(f(1), 2);
  assert.equal(f(3), 5); // 'a' is code point 3, UTF-16 index 5
  // code point 7 is 'c' (😀,😀,' ',a,b,\n,\n,c): in the second paragraph, not the first
  const r = renderTrajectory(traj(text, { token_entropies: { offsets: [3, 7], values: [1, 3] } }), { runId: 'r', step: 0, promptId: 'p' });
  assert.deepEqual(r.paragraphs.map((p) => p.meanEntropy), [1, 3]);
});

test('CRLF text: offsets still land in the right paragraph after normalisation', () => {
  const text = 'ab\r\n\r\ncd';
  const r = renderTrajectory(traj(text, { token_entropies: { offsets: [0, 6], values: [1, 2] } }), { runId: 'r', step: 0, promptId: 'p' });
  assert.equal(r.content.includes('\r'), false);
  assert.deepEqual(r.paragraphs.map((p) => p.meanEntropy), [1, 2]);
});

test('malformed entropies are ignored, never thrown on', () => {
  const bad = traj('x\n\ny', { token_entropies: { offsets: [0, -1, Number.NaN, 999999], values: [1, 2, 3] } as never });
  const r = renderTrajectory(bad, { runId: 'r', step: 0, promptId: 'p' });
  assert.deepEqual(r.paragraphs.map((p) => p.meanEntropy), [1, null]);
  const none = renderTrajectory(traj('x', { token_entropies: undefined }), { runId: 'r', step: 0, promptId: 'p' });
  assert.equal(none.meanEntropy, null);
  assert.equal(marginText(none.paragraphs[0]!), '');
});

test('header and summary carry the id, D, H_last, R_total and the signed advantage', () => {
  const r = renderTrajectory(traj('body', { id: 'run7-s3-on2', replaced: true }), { runId: 'run7', step: 3, promptId: 'q9' });
  assert.equal(r.content.split('\n')[0], 'Trajectory run7-s3-on2 · online #2 · replaced');
  assert.equal(r.content.split('\n')[1], 'run run7 · step 3 · prompt q9');
  assert.equal(summaryText(traj('x')), 'D 0.412   H_last 0.500   R_total 1.250   A −0.750   correct');
  // the decoration after the rule line fits a narrow editor; the full line stays in the hover
  assert.equal(summaryDecorationText(traj('x')), 'R_total 1.25 · A −0.75 · correct');
  assert.ok(summaryDecorationText(traj('x', { r_total: 123.456, advantage: -12.5, verdict: 'error' })).length <= 36);
  const off = renderTrajectory(traj('b', { source: 'offline', teacher: 'deepseek-r1\u202e', inserted: true }), { runId: 'r', step: 1, promptId: 'p' });
  assert.match(off.content, /offline \(teacher deepseek-r1\) · inserted/); // bidi control dropped from the header
});

test('breakdown rows: exp(−H), gold, label, lints and notes', () => {
  const rows = new Map(breakdownRows(traj('x', { extracted_answer: '42' }), { gold: '42', lints: [{ message: 'teacher with negative advantage' }], label: 'wrong by me', notes: ['looks hacked'] }, 0.8));
  assert.equal(rows.get('exp(−H_last)'), Math.exp(-0.5).toFixed(4));
  assert.equal(rows.get('Gold'), '42');
  assert.equal(rows.get('Extracted answer'), '42');
  assert.equal(rows.get('Relabel'), 'wrong by me');
  assert.equal(rows.get('Lints'), 'teacher with negative advantage');
  assert.equal(rows.get('Notes'), 'looks hacked');
  assert.equal(rows.get('A (advantage)'), '−0.7500');
});

test('document folds: the reasoning block by the run\'s format, as document lines after the header', () => {
  const sky = '<|begin_of_thought|>\nline a\nline b\n<|end_of_thought|>\n\n<|begin_of_solution|>\n42\n<|end_of_solution|>';
  const r = renderTrajectory(traj(sky), { runId: 'r', step: 0, promptId: 'p' }, 'skythought');
  assert.deepEqual(r.folds, [{ start: r.headerLines, end: r.headerLines + 3 }]);
  const lines = r.content.split('\n');
  assert.equal(lines[r.folds[0]!.start], '<|begin_of_thought|>');
  assert.equal(lines[r.folds[0]!.end], '<|end_of_thought|>');
  // the same text read as <think> has nothing to fold; a one-line block neither
  assert.deepEqual(renderTrajectory(traj(sky), { runId: 'r', step: 0, promptId: 'p' }, 'think').folds, []);
  assert.deepEqual(reasoningFolds('<think>short</think> 42', 3, 'think'), []);
  // \r\n line ends count as one line each; a block cut off runs to the last line
  const cut = renderTrajectory(traj('intro\r\n<think>\r\na\r\nb'), { runId: 'r', step: 0, promptId: 'p' }, 'think');
  assert.deepEqual(cut.folds, [{ start: cut.headerLines + 1, end: cut.headerLines + 3 }]);
});

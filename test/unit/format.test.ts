// The pure text helpers behind the inspector: hostile text, answers, think blocks, heatmap runs, diffs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fmtCompact, fmtNum, fmtPercent, fmtSigned, signOf } from '../../src/core/format';
import { escapeHtml, mdEscape, neutraliseControls, oneLine, splitControls } from '../../src/core/formatText';
import { boxedSpans, findAnswerSpan, splitThink } from '../../src/core/answerSpans';
import { entropyLevel, entropyRuns } from '../../src/core/entropyRuns';
import { lineDiff, nearestByLines, splitLines } from '../../src/core/lineDiff';

test('numbers: missing, infinite, negative zero and signs read right', () => {
  assert.equal(fmtNum(null), '—');
  assert.equal(fmtNum(undefined), '—');
  assert.equal(fmtNum(Number.NaN), 'NaN');
  assert.equal(fmtNum(Number.POSITIVE_INFINITY), '∞');
  assert.equal(fmtNum(-0.0001), '0.000');
  assert.equal(fmtNum(-1.23456, 2), '−1.23');
  assert.equal(fmtSigned(0.5), '+0.500');
  assert.equal(fmtSigned(-0.5), '−0.500');
  assert.equal(fmtSigned(0), '0.000');
  assert.equal(fmtPercent(0.256), '26%');
  // float noise around zero (a sum of GRPO advantages) reads as zero, without a sign
  assert.equal(fmtSigned(-2.220446049250313e-16), '0.000');
  assert.equal(fmtSigned(-0), '0.000');
  assert.equal(fmtSigned(-0.0004), '0.000');
  assert.equal(fmtPercent(-1e-9), '0%');
  assert.equal(fmtPercent(-0.25), '−25%');
  assert.equal(signOf(1e-13), 0);
  assert.equal(signOf(-2), -1);
});

test('one formatter: the tree and the webviews print a value alike (dash, minus, zero sign, tiny values)', () => {
  // src/extension/format.ts once printed "–", "-0.5" and "±0.000" where the webviews printed "—", "−0.5" and "0.000"
  assert.equal(fmtPercent(0.625), '63%');
  assert.equal(fmtPercent(null), '—');
  assert.equal(fmtCompact(0.41234), '0.412');
  assert.equal(fmtCompact(1e-7), '1.00e-7');
  assert.equal(fmtCompact(-1e-7), '−1.00e-7');
  assert.equal(fmtCompact(2.5e6), '2.50e+6');
  assert.equal(fmtCompact(-0.5), '−0.500');
  assert.equal(fmtCompact(Number.NaN), 'NaN');
  assert.equal(fmtCompact(null), fmtNum(null));
  assert.equal(fmtSigned(0), '0.000');
  assert.equal(fmtSigned(-0.5), '−0.500');
});

test('oneLine and mdEscape: one line, no controls, nothing a tooltip would render', () => {
  assert.equal(oneLine('a\n\tb\u202ec\u200fd', 100), 'a b c d');
  assert.equal(mdEscape('[x](command:y)'), '\\[x\\]\\(command:y\\)');
});

test('escapeHtml neutralises markup and attribute breakouts', () => {
  assert.equal(escapeHtml(`<img src=x onerror="alert('1')">&`), '&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;');
});

test('bidi and invisible direction controls become visible names and are removed', () => {
  const hostile = 'if (a\u202E } \u2066x\u2069 \u200Fz';
  const pieces = splitControls(hostile);
  assert.deepEqual(pieces.filter((p) => p.control).map((p) => p.text), ['⟨U+202E⟩', '⟨U+2066⟩', '⟨U+2069⟩', '⟨U+200F⟩']);
  const joined = pieces.map((p) => p.text).join('');
  assert.doesNotMatch(joined, /[\u202A-\u202E\u2066-\u2069\u200E\u200F]/);
  assert.equal(neutraliseControls('a\u202Db'), 'a⟨U+202D⟩b');
  assert.deepEqual(splitControls('plain'), [{ text: 'plain', control: false }]);
  assert.deepEqual(splitControls(''), []);
});

test('splitThink: closed, unclosed, prompt-opened and absent blocks', () => {
  assert.deepEqual(splitThink('<think>abc</think> answer'), { think: { start: 0, end: 18 }, unclosed: false });
  assert.deepEqual(splitThink('x <think>still going'), { think: { start: 2, end: 20 }, unclosed: true });
  assert.deepEqual(splitThink('reasoning</think>\nThe answer'), { think: { start: 0, end: 17 }, unclosed: false });
  assert.deepEqual(splitThink('no reasoning tags'), { think: null, unclosed: false });
});

test('findAnswerSpan prefers the matching \\boxed{}, balances braces, falls back sensibly', () => {
  const t = 'try \\boxed{3} then <think>x</think> so \\boxed{\\frac{1}{2}} final';
  const boxes = boxedSpans(t);
  assert.equal(boxes.length, 2);
  assert.equal(t.slice(boxes[1]!.start, boxes[1]!.end), '\\frac{1}{2}');
  const s = findAnswerSpan(t, '\\frac{1}{2}')!;
  assert.equal(t.slice(s.start, s.end), '\\frac{1}{2}');
  const early = findAnswerSpan(t, '3')!;
  assert.equal(early.start, 11);
  const lit = 'The answer is 42.';
  const l = findAnswerSpan(lit, '42')!;
  assert.equal(lit.slice(l.start, l.end), '42');
  // unknown extracted answer: the last box is still the answer the verifier would look at
  const u = findAnswerSpan(t, 'zzz')!;
  assert.equal(t.slice(u.start, u.end), '\\frac{1}{2}');
  assert.equal(findAnswerSpan('nothing here', null), null);
  assert.equal(findAnswerSpan('\\boxed{unterminated', null), null);
});

test('entropyRuns merges same-level tokens and drops malformed pairs', () => {
  const text = 'abcdefghij';
  const r = entropyRuns(text.length, [0, 2, 4, 6, 6, 20], [0.05, 0.05, 3, 3, 1, 1]);
  assert.equal(r.dropped, 2);
  assert.deepEqual(r.runs.map((x) => [x.start, x.end, x.level, x.tokens]), [[0, 4, 0, 2], [4, 10, 4, 2]]);
  assert.equal(entropyRuns(5, [0, 1], [Number.NaN, 1]).dropped, 1);
  assert.equal(entropyRuns(5, [0, 1, 2], [1]).dropped, 2);
  assert.deepEqual(entropyRuns(5, undefined, undefined), { runs: [], dropped: 0 });
  assert.equal(entropyLevel(0), 0);
  assert.equal(entropyLevel(100), 5);
});

test('entropyRuns keeps a 150K trace to a manageable number of spans', () => {
  const len = 150_000;
  const offsets: number[] = [];
  const values: number[] = [];
  for (let o = 0, i = 0; o < len; o += 4, i++) { offsets.push(o); values.push(i % 50 === 0 ? 3 : 0.01); }
  const r = entropyRuns(len, offsets, values);
  assert.equal(r.dropped, 0);
  assert.ok(r.runs.length < offsets.length / 10, `${r.runs.length} runs`);
  assert.equal(r.runs[r.runs.length - 1]!.end, len);
  // Its speed is measured by the UI benchmark (bench/ui-preview.ts), not asserted here.
});

test('lineDiff: exact edit script that reproduces both sides', () => {
  const teacher = 'a\nb\nc\nd\ne';
  const member = 'a\nB\nc\nd\nx\ne';
  const d = lineDiff(teacher, member);
  assert.equal(d.approximate, false);
  assert.equal(d.added, 2);
  assert.equal(d.removed, 1);
  const newSide = d.hunks.filter((h) => h.op !== 'delete').flatMap((h) => h.lines);
  const oldSide = d.hunks.filter((h) => h.op !== 'insert').flatMap((h) => h.lines);
  assert.deepEqual(newSide, splitLines(member));
  assert.deepEqual(oldSide, splitLines(teacher));
  assert.deepEqual(lineDiff('same\ntext', 'same\ntext').hunks, [{ op: 'equal', lines: ['same', 'text'] }]);
  assert.deepEqual(lineDiff('', 'x').hunks.map((h) => h.op), ['delete', 'insert']);
});

test('lineDiff on unrelated 150K traces falls back to an approximate diff', () => {
  const mk = (tag: string) => Array.from({ length: 3000 }, (_, i) => `${tag} line ${i} ${'x'.repeat(40)}`).join('\n');
  const a = mk('teacher');
  const b = mk('member');
  assert.ok(a.length > 140_000);
  const d = lineDiff(a, b);
  assert.equal(d.approximate, true);
  assert.equal(d.added, 3000);
  assert.equal(d.removed, 3000);
  // a near-copy of a long trace still gets an exact diff
  const c = a.replace('teacher line 1500 ', 'teacher line 1500 CHANGED ');
  const e = lineDiff(a, c);
  assert.equal(e.approximate, false);
  assert.equal(e.added, 1);
  assert.equal(e.removed, 1);
});

test('nearestByLines picks the teacher sharing most lines', () => {
  const member = 'Let x = 2\nthen y = 4\nanswer 6';
  const best = nearestByLines(member, [
    { key: 1, text: 'something else\nentirely' },
    { key: 2, text: 'Let x = 2\nthen  y = 4\nanswer 7' },
  ])!;
  assert.equal(best.candidate.key, 2);
  assert.ok(best.similarity > 0.4 && best.similarity < 1);
  assert.equal(nearestByLines(member, []), null);
});

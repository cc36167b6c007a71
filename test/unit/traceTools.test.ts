// The pure pieces behind long-trace reading: reasoning formats (markers, detection, splitting),
// the runaway-repetition lint, and find in a trace. Checked on the real SkyThought traces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectFormat, formatsIn, resolveFormat, splitReasoning } from '../../src/core/reasoning';
import { findAnswerSpan, splitThink } from '../../src/core/answerSpans';
import { REPETITION, repetitionMessage, repetitionReport } from '../../src/core/repetition';
import { FIND_MAX_HITS, findInText, firstHitFrom, hitCountText, stepHit } from '../../src/core/traceFind';
import { longestSkyThought, skyThoughtTraces } from '../kit/traces';

const SKY = (thought: string, solution: string) => `<|begin_of_thought|>\n${thought}\n<|end_of_thought|>\n\n<|begin_of_solution|>\n${solution}\n<|end_of_solution|>`;

test('reasoning markers: <think> and SkyThought blocks split into reasoning and answer part, markers included', () => {
  const t = SKY('so x = 3, \\boxed{3}', 'Thus \\boxed{3}.');
  const s = splitReasoning(t, 'skythought');
  assert.deepEqual(s.reasoning, { start: 0, end: t.indexOf('<|end_of_thought|>') + '<|end_of_thought|>'.length });
  assert.equal(t.slice(s.answer!.start, s.answer!.end), '\nThus \\boxed{3}.\n', 'the solution block\'s content');
  assert.equal(s.unclosed, false);
  // the same text read as <think> has no reasoning: everything is the answer part
  assert.deepEqual(splitReasoning(t, 'think'), { format: 'think', reasoning: null, answer: { start: 0, end: t.length }, unclosed: false });
  // none: no fold at all
  assert.equal(splitReasoning(t, 'none').reasoning, null);
  // cut off while thinking: reasoning to the end, no answer part
  const cut = '<|begin_of_thought|>\nlooping looping';
  assert.deepEqual(splitReasoning(cut, 'skythought'), { format: 'skythought', reasoning: { start: 0, end: cut.length }, answer: null, unclosed: true });
  // opened in the prompt: only the closing marker in the response
  const p = 'reasoning<|end_of_thought|> <|begin_of_solution|>42<|end_of_solution|>';
  assert.equal(splitReasoning(p, 'skythought').reasoning?.start, 0);
  assert.equal(p.slice(...((a) => [a!.start, a!.end] as const)(splitReasoning(p, 'skythought').answer)), '42');
  // splitThink keeps its old contract
  assert.deepEqual(splitThink('<think>abc</think> answer'), { think: { start: 0, end: 18 }, unclosed: false });
  assert.deepEqual(splitThink('reasoning</think>\nThe answer'), { think: { start: 0, end: 17 }, unclosed: false });
});

test('reasoning markers: detection per run from its texts, and the setting overrides it', () => {
  assert.equal(detectFormat(['<think>a</think> b', 'x</think>y', 'plain']), 'think');
  assert.equal(detectFormat([SKY('a', 'b'), 'plain', '<|begin_of_thought|> cut']), 'skythought');
  assert.equal(detectFormat(['no markers', '']), 'none');
  assert.equal(detectFormat([]), 'none');
  // a SkyThought trace that quotes "<think>" still counts as SkyThought (tie goes to the specific markers)
  assert.equal(detectFormat([`${SKY('the tag <think> means', 'b')}`]), 'skythought');
  assert.deepEqual(formatsIn('<think>'), ['think']);
  assert.equal(resolveFormat('think', 'skythought', () => []), 'think', 'an explicit setting wins');
  assert.equal(resolveFormat('auto', 'skythought', () => ['<think>x</think>']), 'skythought', 'the recorded format beats re-detection');
  let asked = false;
  assert.equal(resolveFormat('auto', null, () => { asked = true; return ['<think>x</think>']; }), 'think');
  assert.ok(asked);
});

test('reasoning markers on the 30 real SkyThought traces: every one is detected and split; the cut-off ones are unclosed', () => {
  const traces = skyThoughtTraces();
  assert.equal(traces.length, 30);
  assert.equal(detectFormat(traces.map((t) => t.text)), 'skythought');
  for (const t of traces) {
    const s = splitReasoning(t.text, 'skythought');
    assert.ok(s.reasoning, `trace ${t.idx} has reasoning`);
    assert.equal(s.unclosed, !t.finished, `trace ${t.idx}: unclosed exactly when cut off`);
    if (t.finished) {
      const answerPart = t.text.slice(s.answer!.start, s.answer!.end);
      assert.ok(!answerPart.includes('<|begin_of_solution|>') && !answerPart.includes('<|end_of_solution|>'), 'the answer part is the solution block\'s content');
      // the answer highlight sits in the solution, where the grader read it
      const span = findAnswerSpan(t.text, t.pred, 'skythought');
      assert.ok(span && span.start >= s.answer!.start && span.end <= s.answer!.end, `trace ${t.idx}: answer ${t.pred} found in the solution block`);
    }
  }
});

test('repetition lint: the real traces cut off in a loop are flagged, the finished ones are not', () => {
  for (const t of skyThoughtTraces()) {
    const r = repetitionReport(t.text);
    assert.equal(r.runaway, !t.finished, `trace ${t.idx} (${t.text.length} chars, ${t.finished ? 'finished' : 'cut off'}): max repeats ${r.maxRepeats}`);
    if (r.runaway) {
      assert.ok(r.maxRepeats >= REPETITION.minRepeats);
      assert.ok(r.start !== null && r.start >= 0 && r.start < t.text.length);
      assert.ok(r.repeatedChars > 0.5 * t.text.length, 'most of a looping trace is repeats');
      // spans are disjoint, in order, inside the text
      r.spans.forEach((s, i) => {
        assert.ok(s.start < s.end && s.end <= t.text.length);
        if (i > 0) assert.ok(s.start > r.spans[i - 1]!.end);
      });
      assert.equal(r.spans[0]!.start <= r.start!, true);
    }
  }
});

test('repetition lint: thresholds, positions and degenerate inputs', () => {
  const passage = Array.from({ length: 30 }, (_, i) => `w${i}`).join(' ');
  const intro = 'An honest start that says something once. '.repeat(3);
  const looped = `${intro}${Array(8).fill(passage).join('\n')}`;
  const r = repetitionReport(looped);
  assert.equal(r.runaway, true);
  assert.equal(r.maxRepeats, 8);
  assert.equal(r.start, intro.length, 'the loop starts at the first copy of the passage');
  assert.equal(r.spans.length, 1);
  assert.equal(r.spans[0]!.end, looped.length);
  // seven copies stay below the threshold
  assert.equal(repetitionReport(`${intro}${Array(7).fill(passage).join(' ')}`).runaway, false);
  // whitespace does not matter, words do
  assert.equal(repetitionReport(Array(8).fill(passage.replace(/ /g, '\n\t ')).join('   ')).runaway, true);
  assert.equal(repetitionReport(Array(8).fill(passage).join(' x ')).maxRepeats, 8);
  assert.equal(repetitionReport('').runaway, false);
  assert.equal(repetitionReport('too short to loop').maxRepeats, 0);
  assert.match(repetitionMessage('t-1', r, looped.length), /t-1 loops: a 24-word passage recurs 8 times \(\d+% of the text is repeats\)/);
});

test('repetition lint: the same counts as a naive window count, whatever was scanned before (the scan reuses its buffers)', () => {
  // Naive: split on \s (what the lint calls whitespace), count every window of 24 words by its joined text.
  const naive = (text: string) => {
    const words = [...text.matchAll(/\S+/g)];
    const counts = new Map<string, { n: number; first: number }>();
    for (let i = 0; i + REPETITION.window <= words.length; i++) {
      const key = words.slice(i, i + REPETITION.window).map((m) => m[0]).join(' ');
      const c = counts.get(key);
      if (c) c.n++;
      else counts.set(key, { n: 1, first: i });
    }
    let best = { n: 0, first: -1 };
    for (const c of counts.values()) if (c.n > best.n || (c.n === best.n && c.first < best.first)) best = c;
    return { runaway: best.n >= REPETITION.minRepeats, maxRepeats: best.n, start: best.n >= REPETITION.minRepeats ? words[best.first]!.index : null };
  };
  let seed = 7;
  const rand = (k: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % k;
  };
  const vocabulary = ['x', 'the', 'sum', '=', '42', 'so', 'wait,', '\\frac{1}{2}', 'é', '中文', 'step'];
  const texts: string[] = [];
  for (let k = 0; k < 60; k++) {
    const part = () => Array.from({ length: 1 + rand(40) }, () => vocabulary[rand(vocabulary.length)]).join([' ', '\n', '\t ', '\u00a0', '\u3000'][rand(5)]);
    const loop = part();
    texts.push([part(), Array(rand(14)).fill(loop).join(rand(2) ? ' ' : '\n\n'), part()].join(' '));
  }
  texts.push(longestSkyThought().text, 'short', '');
  // Long texts between short ones: stale table entries or words from a previous scan would show.
  for (const t of [...texts, ...texts.slice().reverse()]) {
    const r = repetitionReport(t);
    const want = naive(t);
    assert.deepEqual({ runaway: r.runaway, maxRepeats: r.maxRepeats, start: r.start }, want, JSON.stringify(t.slice(0, 80)));
  }
});

test('repetition lint: linear in the text (a 1.5M-character loop and 1.5M characters of distinct words both finish quickly)', () => {
  // Not a timing assertion: a quadratic lint would take minutes here, a linear one well under a second.
  const loop = longestSkyThought().text.repeat(10);
  assert.equal(repetitionReport(loop).runaway, true);
  const distinct = Array.from({ length: 200_000 }, (_, i) => `t${i.toString(36)}`).join(' ');
  assert.equal(repetitionReport(distinct).maxRepeats, 1);
});

test('find: case-insensitive by default, offsets stay right after characters whose lower case is longer', () => {
  const text = 'İstanbul and ISTANBUL and istanbul';
  const r = findInText(text, 'istanbul');
  assert.deepEqual(r.hits.map((h) => text.slice(h.start, h.end).toLowerCase()), ['istanbul', 'istanbul']);
  // 'İ'.toLowerCase() is two code units: lowering the text first would shift every later offset
  assert.equal(text.slice(r.hits[0]!.start, r.hits[0]!.end), 'ISTANBUL');
  assert.deepEqual(findInText(text, 'ISTANBUL', { caseSensitive: true }).hits, [{ start: 13, end: 21 }]);
  // regex characters are literal
  assert.equal(findInText('a.b axb a.b', 'a.b').hits.length, 2);
  assert.equal(findInText('\\boxed{3} and \\boxed{4}', '\\boxed{').hits.length, 2);
  assert.deepEqual(findInText('abc', ''), { hits: [], capped: false });
  const capped = findInText('a'.repeat(20), 'a', { max: 5 });
  assert.equal(capped.hits.length, 5);
  assert.equal(capped.capped, true);
  assert.equal(hitCountText(-1, capped), '5+');
  assert.equal(FIND_MAX_HITS, 10_000);
});

test('find: next/previous wrap, the first hit from the view, the count text', () => {
  const hits = [{ start: 5, end: 6 }, { start: 50, end: 51 }, { start: 500, end: 501 }];
  assert.equal(firstHitFrom(hits, 0), 0);
  assert.equal(firstHitFrom(hits, 6), 1);
  assert.equal(firstHitFrom(hits, 501), 0, 'past the last hit wraps to the first');
  assert.equal(firstHitFrom([], 3), -1);
  assert.equal(stepHit(2, 3, 1), 0);
  assert.equal(stepHit(0, 3, -1), 2);
  assert.equal(stepHit(-1, 3, -1), 2);
  assert.equal(stepHit(0, 0, 1), -1);
  assert.equal(hitCountText(1, { hits, capped: false }), '2 of 3');
  assert.equal(hitCountText(-1, { hits: [], capped: false }), 'No results');
});

test('find on the 153,700-character real trace: words inside the folded reasoning are found, in order', () => {
  const t = longestSkyThought();
  const split = splitReasoning(t.text, 'skythought');
  const r = findInText(t.text, 'symmetric');
  assert.ok(r.hits.length > 0);
  for (const h of r.hits) assert.equal(t.text.slice(h.start, h.end).toLowerCase(), 'symmetric');
  assert.ok(r.hits.every((h) => h.start >= split.reasoning!.start && h.end <= split.reasoning!.end), 'this trace is all reasoning (cut off)');
  assert.deepEqual(r.hits, [...r.hits].sort((a, b) => a.start - b.start));
});

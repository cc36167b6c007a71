// The Find box's filter tokens: parsed apart from the free text, bad ones reported (never thrown),
// and the completions the quick pick offers while a key or value is typed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyFilters, hasFilters, parseSearch, suggestFilters } from '../../src/core/searchFilters';

test('filter tokens are taken out of the text; the rest stays as typed', () => {
  const p = parseSearch('run:r-1 "let me check" step:12 step:10-20 verdict:wrong,error label:none lint:any source:teacher prompt:gsm8k-7 answer*');
  assert.equal(p.text, '"let me check" answer*');
  assert.deepEqual(p.problems, []);
  assert.deepEqual(p.filters, {
    runs: ['r-1'], steps: [{ from: 12, to: 12 }, { from: 10, to: 20 }], verdicts: ['wrong', 'error'], labels: ['none'],
    lints: ['any'], sources: ['offline'], prompts: ['gsm8k-7'],
  });
  assert.equal(hasFilters(p.filters), true);
  assert.equal(hasFilters(emptyFilters()), false);
});

test('quoted text and quoted ids: a colon inside a phrase is text, a quoted value may hold spaces', () => {
  assert.deepEqual(parseSearch('"run:x is text"'), { text: '"run:x is text"', filters: emptyFilters(), problems: [] });
  const p = parseSearch('prompt:"id with spaces" Run:A,B');
  assert.deepEqual(p.filters.prompts, ['id with spaces']);
  // ids may hold commas: a run id is one value
  assert.deepEqual(p.filters.runs, ['A,B']);
  assert.equal(p.text, '');
});

test('bad values say what is accepted; unknown keys stay in the text and are reported', () => {
  const p = parseSearch('verdict:maybe step:20-10 step:x label: lint:nope source:both marker');
  assert.equal(p.text, 'marker');
  assert.equal(p.problems.length, 6);
  assert.match(p.problems[0] as string, /verdict:maybe: not a verdict; use verdict:correct\|wrong\|error/);
  assert.match(p.problems[1] as string, /range ends before it starts/);
  assert.match(p.problems[2] as string, /step:12 or step:10-20/);
  assert.match(p.problems[3] as string, /label: needs a value/);
  assert.match(p.problems[4] as string, /verifier-error/);
  assert.match(p.problems[5] as string, /source:online\|teacher/);
  assert.equal(hasFilters(p.filters), false);

  const u = parseSearch('error: division by zero');
  assert.equal(u.text, 'error: division by zero');
  assert.equal(u.problems.length, 1);
  assert.match(u.problems[0] as string, /"error:" is not a filter \(searched as text\); filters: run: step: verdict: label: lint: source: prompt:/);
});

test('suggestions: keys for a key prefix, values for a key, the whole input kept', () => {
  assert.deepEqual(suggestFilters('answer ver').map((s) => s.value), ['answer verdict:']);
  assert.deepEqual(suggestFilters('answer verdict:').map((s) => s.value), ['answer verdict:correct ', 'answer verdict:wrong ', 'answer verdict:error ']);
  assert.deepEqual(suggestFilters('answer verdict:w').map((s) => s.label), ['verdict:wrong']);
  assert.deepEqual(suggestFilters('source:').map((s) => s.label), ['source:online', 'source:teacher']);
  assert.equal(suggestFilters('').length, 7);
  assert.equal(suggestFilters('answer ').length, 7);
  // a value already complete, an id key, a word that is no key: nothing to offer
  assert.deepEqual(suggestFilters('verdict:wrong'), []);
  assert.deepEqual(suggestFilters('run:'), []);
  assert.deepEqual(suggestFilters('answer'), []);
});

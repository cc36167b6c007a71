// The CodeLens title over `def verify`: plural agreement and the regression state it is drawn from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { disagreeCountText, disagreeLensTitle } from '../../src/extension/verifier/verifierFile';

const report = (n: number) => ({ disagreements: Array.from({ length: n }, (_, i) => i) });

test('counts agree with their verb', () => {
  assert.equal(disagreeCountText(0), '0 relabels disagree');
  assert.equal(disagreeCountText(1), '1 relabel disagrees');
  assert.equal(disagreeCountText(2), '2 relabels disagree');
});

test('the lens follows the published report: a finished re-run with no disagreement reads 0', () => {
  assert.equal(disagreeLensTitle({ running: false, error: null, report: report(1) }), '1 relabel disagrees');
  // the save-triggered re-run is under way: the old count is marked, not presented as current
  assert.equal(disagreeLensTitle({ running: true, error: null, report: report(1) }), '1 relabel disagrees (re-running…)');
  assert.equal(disagreeLensTitle({ running: false, error: null, report: report(0) }), '0 relabels disagree');
  assert.equal(disagreeLensTitle({ running: true, error: null, report: null }), 'running relabels…');
  assert.equal(disagreeLensTitle({ running: false, error: null, report: null }), '0 relabels disagree');
  assert.equal(disagreeLensTitle({ running: false, error: 'python exited', report: report(3) }), 'relabels: run failed (see output)');
});

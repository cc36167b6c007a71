// Tree, status-bar and tooltip text: badges and escaping of user data in markdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { badges, groupLabel, runDescription, runTooltip, statusBarText, stepDescription } from '../../src/extension/labels';
import { mdEscape, oneLine } from '../../src/core/formatText';
import type { GroupSummary, RunSummary } from '../../src/node/store/types';

test('badges: accuracy always, R_OGER μ (the inspector\'s name) when logged, lints when any', () => {
  assert.equal(badges({ accuracy: 0.5, meanROger: null, lintCount: 0 }), 'acc 50%');
  assert.equal(badges({ accuracy: 0.5, meanROger: 0.1234, lintCount: 3 }), '⚠ 3 · acc 50% · R_OGER μ 0.123', 'the lint count leads: a narrow side bar cuts the end off');
});

test('labels are one line without control or bidi characters', () => {
  assert.equal(oneLine('a\n\tb\u202ec\u0000d', 100), 'a b c d');
  assert.equal(oneLine('x'.repeat(10), 5), 'xxxx…');
  const g = { groupId: 1, runId: 'r', step: 1, promptId: 'half-1', promptPreview: 'What is one half\nof 8?', trajectoryCount: 6, accuracy: 1, meanROger: null, lintCount: 0, zeroStd: true, meanOfflineAdvantage: null, failedCount: 0, runawayCount: 0 } satisfies GroupSummary;
  assert.equal(groupLabel(g), 'half-1: What is one half of 8?');
});

test('markdown escaping: user data cannot inject links, HTML or command URIs into tooltips', () => {
  const evil = '[click](command:workbench.action.terminal.new) <img src=x onerror=alert(1)> `code`';
  const esc = mdEscape(evil);
  assert.doesNotMatch(esc, /(^|[^\\])\[/);
  assert.doesNotMatch(esc, /(^|[^\\])</);
  assert.doesNotMatch(esc, /(^|[^\\])`/);
  const run = {
    runId: evil, variant: 'oger', model: 'm', status: 'failed', reason: 'boom', startedAt: null, endedAt: null, stepCount: 1, groupCount: 1, trajectoryCount: 8,
    lastStep: 1, accuracy: 0.5, meanROger: 0.2, lintCount: 0, reward: { variant: 'oger', replace: 1, advantage: { std: 'sample', eps: 1e-6 } },
    encoder: null, verifier: { id: 'v', name: 'math-verify' }, config: {},
  } satisfies RunSummary;
  const tip = runTooltip(run);
  assert.ok(tip.includes('\\[click\\]\\(command:workbench'));
  assert.doesNotMatch(tip, /(^|[^\\])<img/);
});

test('status bar text follows the run and the trainer state', () => {
  assert.equal(statusBarText(null, null), '$(graph) Reward Lens');
  assert.equal(statusBarText(null, 'starting'), '$(loading~spin) Reward Lens: starting');
  assert.equal(statusBarText({ runId: 'r', status: 'running', lastStep: 12 }, 'running'), '$(pulse) Reward Lens: step 12 · running');
  assert.equal(statusBarText({ runId: 'r', status: 'running', lastStep: 12 }, 'stopping'), '$(loading~spin) Reward Lens: step 12 · stopping');
  assert.equal(statusBarText({ runId: 'r', status: 'failed', lastStep: null }, null), '$(error) Reward Lens: no steps yet · failed');
});

test('tree rows lead with their lint count, so the default side bar width does not cut it off', () => {
  const run = {
    runId: 'r', variant: 'oger', model: 'm', status: 'completed', reason: null, startedAt: null, endedAt: null, stepCount: 3, groupCount: 6, trajectoryCount: 36,
    lastStep: 2, accuracy: 0.625, meanROger: 0.2, lintCount: 4, reward: { variant: 'oger', replace: 1, advantage: { std: 'sample', eps: 1e-6 } },
    encoder: null, verifier: { id: 'v', name: 'math-verify' }, config: {},
  } satisfies RunSummary;
  assert.equal(runDescription(run), '⚠ 4 · oger · completed · acc 63% · R_OGER μ 0.200');
  assert.equal(runDescription({ ...run, lintCount: 0 }), 'oger · completed · acc 63% · R_OGER μ 0.200');
  assert.match(stepDescription({ step: 1, groupCount: 2, accuracy: 0.5, meanROger: null, lintCount: 1, metrics: {} } as unknown as Parameters<typeof stepDescription>[0]), /^⚠ 1 · 2 groups · acc 50%$/);
});

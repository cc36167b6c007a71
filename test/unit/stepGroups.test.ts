// The dashboard's step groups table: sort order (missing values last either way, ties by group id),
// header clicks, and which groups a picked point marks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextSort, pointFocus, sortStepGroups } from '../../src/core/stepGroups';
import type { ViewGroupSummary } from '../../src/core/messages';

const group = (groupId: number, over: Partial<ViewGroupSummary>): ViewGroupSummary => ({
  groupId, runId: 'r', step: 3, promptId: `p${groupId}`, promptPreview: '', trajectoryCount: 8, accuracy: 0.5, meanROger: null,
  lintCount: 0, zeroStd: false, meanOfflineAdvantage: null, failedCount: 0, runawayCount: 0, ...over,
});

const groups = [
  group(1, { meanOfflineAdvantage: 0.4, accuracy: 0.25, failedCount: 1 }),
  group(2, { meanOfflineAdvantage: null, accuracy: 0 }),
  group(3, { meanOfflineAdvantage: -1.2, accuracy: 0, failedCount: 3, runawayCount: null }),
  group(4, { meanOfflineAdvantage: -0.1, accuracy: 1 }),
  group(5, { meanOfflineAdvantage: 0.4, accuracy: 0.5, runawayCount: 2 }),
];
const ids = (gs: ViewGroupSummary[]) => gs.map((g) => g.groupId);

test('sorting: by value, ties by group id, missing values last in both directions', () => {
  assert.deepEqual(ids(sortStepGroups(groups, { key: 'teacherAdvantage', dir: 1 })), [3, 4, 1, 5, 2]);
  assert.deepEqual(ids(sortStepGroups(groups, { key: 'teacherAdvantage', dir: -1 })), [1, 5, 4, 3, 2]);
  assert.deepEqual(ids(sortStepGroups(groups, { key: 'looping', dir: -1 })), [5, 1, 2, 4, 3]);
  assert.deepEqual(ids(sortStepGroups(groups, { key: 'prompt', dir: -1 })), [5, 4, 3, 2, 1]);
  assert.deepEqual(ids(sortStepGroups(groups, null)), [1, 2, 3, 4, 5], 'stored order without a sort');
  assert.deepEqual(ids(groups), [1, 2, 3, 4, 5], 'the input is not reordered');
});

test('a header click sorts the column the way it reads best, a second click reverses it', () => {
  assert.deepEqual(nextSort(null, 'failed'), { key: 'failed', dir: -1 });
  assert.deepEqual(nextSort({ key: 'failed', dir: -1 }, 'failed'), { key: 'failed', dir: 1 });
  assert.deepEqual(nextSort({ key: 'failed', dir: 1 }, 'teacherAdvantage'), { key: 'teacherAdvantage', dir: 1 });
});

test('a point picked on a curve marks the groups behind it: a dip in the teacher advantage, the groups whose teacher is pushed down', () => {
  const focus = pointFocus('offline-advantage');
  assert.ok(focus);
  assert.deepEqual(focus.sort, { key: 'teacherAdvantage', dir: 1 });
  assert.deepEqual(ids(groups.filter(focus.behind)), [3, 4]);
  assert.deepEqual(ids(groups.filter(pointFocus('accuracy')!.behind)), [2, 3]);
  assert.deepEqual(ids(groups.filter(pointFocus('failed')!.behind)), [1, 3]);
  assert.deepEqual(ids(groups.filter(pointFocus('repetition')!.behind)), [5], 'an uncounted run marks nothing');
  assert.equal(pointFocus('entropy'), null, 'no per-group figure: no marks');
  assert.equal(pointFocus(null), null);
});

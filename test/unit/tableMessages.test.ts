// The trajectories table's page → host messages: every field checked, anything else refused with a reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateTableMessage, TABLE_MAX_LIMIT } from '../../src/core/tableMessages';

const query = { filter: 'verdict:wrong', sort: { column: 'rTotal', dir: 'desc' }, groupBy: 'none', flippedOnly: false };

test('valid messages pass unchanged', () => {
  assert.deepEqual(validateTableMessage({ type: 'ready' }), { ok: true, message: { type: 'ready' } });
  const q = { type: 'query', queryId: 3, query, offset: 200, limit: 200 };
  assert.deepEqual(validateTableMessage(q), { ok: true, message: q });
  assert.deepEqual(validateTableMessage({ type: 'openGroup', groupId: 7, focusTrajectoryId: 't-1' }), { ok: true, message: { type: 'openGroup', groupId: 7, focusTrajectoryId: 't-1' } });
  assert.equal(validateTableMessage({ type: 'openGroup', groupId: 7, focusTrajectoryId: null }).ok, true);
});

test('bad messages are refused with a reason, never thrown', () => {
  const bad: unknown[] = [
    null, [], 'query', { type: 'nope' }, { type: 'ready', extra: 1 },
    { type: 'query', queryId: -1, query, offset: 0, limit: 10 },
    { type: 'query', queryId: 1, query, offset: 0, limit: TABLE_MAX_LIMIT + 1 },
    { type: 'query', queryId: 1, query, offset: 0.5, limit: 10 },
    { type: 'query', queryId: 1, query: { ...query, sort: { column: 'label', dir: 'asc' } }, offset: 0, limit: 10 },
    { type: 'query', queryId: 1, query: { ...query, sort: { column: 't.id; DROP TABLE runs', dir: 'asc' } }, offset: 0, limit: 10 },
    { type: 'query', queryId: 1, query: { ...query, sort: { column: 'step', dir: 'sideways' } }, offset: 0, limit: 10 },
    { type: 'query', queryId: 1, query: { ...query, groupBy: 'run' }, offset: 0, limit: 10 },
    { type: 'query', queryId: 1, query: { ...query, filter: 'x'.repeat(2001) }, offset: 0, limit: 10 },
    { type: 'query', queryId: 1, query: { ...query, sql: 'x' }, offset: 0, limit: 10 },
    { type: 'openGroup', groupId: '7', focusTrajectoryId: null },
    { type: 'openGroup', groupId: 7, focusTrajectoryId: 5 },
    { type: 'rendered', ms: Number.POSITIVE_INFINITY, rows: 1 },
  ];
  for (const m of bad) {
    const r = validateTableMessage(m);
    assert.equal(r.ok, false, JSON.stringify(m)?.slice(0, 80));
    if (!r.ok) assert.ok(r.reason.length > 5);
  }
});

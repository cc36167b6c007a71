// The what-if webview's messages are validated before the host acts on them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateWhatIfMessage } from '../../src/core/whatIfMessages';

test('what-if webview messages: the three kinds pass, anything else is refused with a reason', () => {
  assert.deepEqual(validateWhatIfMessage({ type: 'ready' }), { ok: true, message: { type: 'ready' } });
  assert.deepEqual(validateWhatIfMessage({ type: 'openGroup', groupId: 12 }), { ok: true, message: { type: 'openGroup', groupId: 12 } });
  assert.deepEqual(validateWhatIfMessage({ type: 'rendered', ms: 12.5, rows: 3 }), { ok: true, message: { type: 'rendered', ms: 12.5, rows: 3 } });
  for (const bad of [
    null, [], 'ready', { type: 'openGroup', groupId: -1 }, { type: 'openGroup', groupId: 1.5 }, { type: 'openGroup', groupId: '3' },
    { type: 'openGroup', groupId: 3, extra: 1 }, { type: 'rendered', ms: Number.NaN, rows: 1 }, { type: 'rendered', ms: 1, rows: -2 },
    { type: 'ready', x: 1 }, { type: 'accept' }, { type: 7 }, Object.create({ type: 'ready' }),
  ]) {
    const r = validateWhatIfMessage(bad);
    assert.equal(r.ok, false, JSON.stringify(bad));
    if (!r.ok) assert.ok(r.reason.length > 0);
  }
});

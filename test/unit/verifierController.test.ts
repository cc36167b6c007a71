// The verifier feature without VS Code: when the regression set re-runs (a label added, a store
// opened, a save), that only the newest run publishes, that cases are read once per label change,
// and what the Problems panel says. Against a real store; the verification itself is a small
// deterministic function standing in for the Python runner (which test/integration covers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStore } from '../../src/node/store';
import type { RolloutEvent } from '../../src/core/protocol';
import { groupEvent, runStart } from '../kit/events';
import type { RegressionCase, RegressionReport } from '../../src/node/reverify/regression';
import { VerifierController, disagreementDiagnostics, type DisagreementDiagnostic, type FileRange } from '../../src/extension/verifier/controller';

const VERIFIER = 'def helper():\n    pass\n\ndef verify(response, gold):\n    return response == gold\n';

async function withStore<T>(fn: (store: RunStore) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'rl-verifier-'));
  const store = await RunStore.open(join(dir, 'store.db'));
  try {
    const g = groupEvent('r', 0, 0, { online: 3, offline: 0 });
    g.gold = '3';
    ['3', 'three', '4'].forEach((text, i) => Object.assign(g.trajectories[i]!, { id: 'abc'[i], text }));
    const events: RolloutEvent[] = [runStart('r'), g];
    await store.writeBatch({ file: 'mem', events: events.map((event, i) => ({ line: i + 1, byteOffset: i, event })), malformed: [], endOffset: events.length, endLine: events.length });
    return await fn(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A fake clock: timers run when the test says so. */
function clock() {
  let next = 1;
  const timers = new Map<number, { fn: () => void; ms: number }>();
  return {
    setTimeout: (fn: () => void, ms: number) => { const id = next++; timers.set(id, { fn, ms }); return id; },
    clearTimeout: (h: unknown) => void timers.delete(h as number),
    pending: () => timers.size,
    fire: () => { const all = [...timers.values()]; timers.clear(); for (const t of all) t.fn(); },
  };
}

function harness(store: RunStore | undefined, verify: (path: string, cases: RegressionCase[]) => Promise<RegressionReport>) {
  const published: Array<{ at: FileRange; list: DisagreementDiagnostic[] }> = [];
  const logs: string[] = [];
  let changed = 0;
  let caseReads = 0;
  const c = clock();
  const ctl = new VerifierController({
    getStore: () => store,
    verifierPath: () => '/w/verifier.py',
    readFile: async () => VERIFIER,
    verify: async (p, cases) => { caseReads++; return verify(p, cases); },
    publish: (_path, at, list) => void published.push({ at, list }),
    changed: () => void changed++,
    log: (l) => void logs.push(l),
    setTimeout: c.setTimeout,
    clearTimeout: c.clearTimeout,
  });
  return { ctl, published, logs, clock: c, changed: () => changed, verifies: () => caseReads };
}

/** "verdict = the response equals the gold": a relabel of "three" as correct disagrees. */
async function exactMatch(_path: string, cases: RegressionCase[]): Promise<RegressionReport> {
  const disagreements = cases
    .map((c) => ({ case: c, result: { id: String(c.trajectoryKey), correct: c.response === c.gold, reason: 'exact match', extracted: c.response }, disagrees: false }))
    .filter((o) => (o.result.correct ? 'correct' : 'wrong') !== o.case.label)
    .map((o) => ({ ...o, disagrees: true }));
  return { verifierId: 'x'.repeat(64), total: cases.length, disagreements, errors: 0, durationMs: 1 };
}

/** Lets pending store reads and promise chains run (a bound, not a timing: it returns as soon as `done` holds). */
async function settle(done: () => boolean = () => true, boundMs = 5000): Promise<void> {
  const until = Date.now() + boundMs;
  for (let i = 0; i < 50 || (!done() && Date.now() < until); i++) await new Promise((r) => setTimeout(r, i < 50 ? 0 : 5));
}

test('a label added through the store host re-runs the set once, and the diagnostic names the relabel on `def verify`', async () => {
  await withStore(async (store) => {
    const h = harness(store, exactMatch);
    await h.ctl.run('start');
    assert.equal(h.ctl.state.report?.total, 0);
    const b = (await store.getGroup(1))!.trajectories.find((t) => t.event.id === 'b')!;
    await store.addLabel({ trajectoryKey: b.trajectoryKey, label: 'correct', author: 't', note: 'three is 3' });
    // Without the event the cached (empty) cases would be re-used.
    await h.ctl.run('save');
    assert.equal(h.ctl.state.report?.total, 0, 'a save re-uses the cases it read');
    h.ctl.onLabelAdded();
    h.ctl.onLabelAdded();
    assert.equal(h.clock.pending(), 1, 'two labels in a row make one scheduled run');
    h.clock.fire();
    await settle(() => h.ctl.state.report?.total === 1 && !h.ctl.state.running);
    assert.equal(h.ctl.state.report?.total, 1);
    const last = h.published.at(-1)!;
    assert.deepEqual(last.at, { line: 3, start: 4, end: 10 }, 'on the name `verify`');
    assert.equal(last.list.length, 1);
    assert.equal(last.list[0]!.severity, 'error');
    assert.equal(last.list[0]!.trajectoryKey, b.trajectoryKey);
    assert.match(last.list[0]!.message, /trajectory b \(run r, step 0\) is labelled correct but the verifier says wrong: prediction three, gold 3 \(exact match\); note: three is 3/);
    assert.equal(h.ctl.lensTitle, '1 relabel disagrees');
  });
});

test('only the newest run publishes: a slow older run cannot bring back stale results', async () => {
  await withStore(async (store) => {
    const gates: Array<() => void> = [];
    const h = harness(store, async (p, cases) => {
      await new Promise<void>((r) => gates.push(r));
      return exactMatch(p, cases);
    });
    const older = h.ctl.run('older');
    await settle();
    const newer = h.ctl.run('newer');
    await settle();
    assert.equal(h.ctl.state.running, true);
    assert.match(h.ctl.lensTitle, /running/);
    gates[1]!();
    await newer;
    gates[0]!();
    await older;
    assert.equal(h.published.length, 1);
    assert.ok(h.logs.some((l) => /regression \(older\): superseded by a newer run, not shown/.test(l)));
    assert.equal(h.ctl.state.running, false);
  });
});

test('a failed run is shown as failed, never as 0 disagreements; no store or no verifier means no run', async () => {
  await withStore(async (store) => {
    const h = harness(store, async () => { throw new Error('python not found'); });
    assert.equal(await h.ctl.run('save'), null);
    assert.equal(h.ctl.state.error, 'python not found');
    assert.equal(h.ctl.lensTitle, 'relabels: run failed (see output)');
  });
  const none = harness(undefined, exactMatch);
  assert.equal(await none.ctl.run('save'), null);
  assert.equal(none.verifies(), 0);
});

test('opening another store drops the cached cases; dispose cancels the scheduled run', async () => {
  await withStore(async (store) => {
    const h = harness(store, exactMatch);
    await h.ctl.run('a');
    h.ctl.onStoreOpened();
    assert.equal(h.clock.pending(), 1);
    h.ctl.dispose();
    assert.equal(h.clock.pending(), 0);
    h.ctl.schedule('after dispose');
    assert.equal(h.clock.pending(), 0);
  });
});

test('diagnostics: a verifier error is a warning; untrusted text is one line', () => {
  const c: RegressionCase = { trajectoryKey: 9, trajectoryId: 'id\u202e\nx', runId: 'r', step: 2, groupId: 1, response: 'r', gold: 'g\u0000', label: 'wrong', note: null, labelId: 1 };
  const [d] = disagreementDiagnostics({ verifierId: 'v', total: 1, errors: 1, durationMs: 1, disagreements: [{ case: c, result: { id: '9', correct: null, reason: 'error: timeout', extracted: null }, disagrees: true }] });
  assert.equal(d?.severity, 'warning');
  assert.doesNotMatch(d?.message ?? '', /[\u0000-\u001f\u202e]/);
  assert.match(d?.message ?? '', /prediction \(none\)/);
});

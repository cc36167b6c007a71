// Compare Runs' host decisions against a real store holding a small variant study: three runs
// over the same prompts (protocol-v1 fixtures), one of them shorter and configured differently.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStore } from '../../src/node/store';
import { promptCellsAtStep } from '../../src/node/store/compareQueries';
import type { RolloutEvent } from '../../src/core/protocol';
import type { HostToCompare } from '../../src/core/compareMessages';
import { cellAccuracy, passAtK, type PromptCell } from '../../src/core/compare';
import { CompareController, type CompareEnv } from '../../src/extension/compare/controller';
import { groupEvent, runEnd, runStart, stepEvent } from '../kit/events';

const RUNS = ['study-grpo-s1', 'study-oger-s1', 'study-luffy-s1'];
const PROMPTS = 4;

function runEvents(runId: string, steps: number, seed: number, over: Record<string, unknown>): RolloutEvent[] {
  const events: RolloutEvent[] = [{ ...runStart(runId), ...over } as RolloutEvent];
  for (let s = 0; s < steps; s++) {
    for (let g = 0; g < PROMPTS; g++) events.push(groupEvent(runId, s, g, { textBytes: 300, seed }) as RolloutEvent);
    events.push(stepEvent(runId, s) as RolloutEvent);
  }
  events.push(runEnd(runId, steps - 1) as RolloutEvent);
  return events;
}

async function withStudy<T>(fn: (store: RunStore) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'rl-compare-'));
  const store = await RunStore.open(join(dir, 'store.db'));
  try {
    const all = [
      ...runEvents(RUNS[0] as string, 3, 1, { variant: 'grpo', config: { lr: 1e-6, batch: 128 } }),
      ...runEvents(RUNS[1] as string, 3, 2, {}),
      ...runEvents(RUNS[2] as string, 2, 3, { variant: 'luffy', config: { lr: 5e-7, batch: 128 } }),
    ];
    await store.writeBatch({ file: 'mem', events: all.map((event, i) => ({ line: i + 1, byteOffset: i, event })), malformed: [], endOffset: all.length, endLine: all.length });
    return await fn(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function env(store: RunStore | undefined) {
  const posted: HostToCompare[] = [];
  const logs: string[] = [];
  const opened: Array<[number, string | undefined]> = [];
  let t = 0;
  const e: CompareEnv = {
    getStore: () => store,
    post: (m) => { posted.push(structuredClone(m)); return true; },
    log: (l) => logs.push(l),
    now: () => (t += 5),
    openGroup: async (g, k) => { opened.push([g, k]); },
    setTitle: () => undefined,
  };
  return { env: e, posted, logs, opened };
}

function last<T extends HostToCompare['type']>(posted: HostToCompare[], type: T): Extract<HostToCompare, { type: T }> {
  const m = [...posted].reverse().find((x) => x.type === type);
  assert.ok(m, `a ${type} message was posted (posted: ${posted.map((x) => x.type).join(', ')})`);
  return m as Extract<HostToCompare, { type: T }>;
}

test('the runs open with their curves on shared steps, the settings that differ, and the table at each run\'s last step', async () => {
  await withStudy(async (store) => {
    const { env: e, posted } = env(store);
    const c = new CompareController(e, RUNS);
    const first = await c.begin(RUNS);
    assert.equal(first.type, 'compare');
    if (first.type !== 'compare') return;
    assert.deepEqual(first.runs.map((r) => [r.runId, r.variant, r.lastStep]), [[RUNS[0], 'grpo', 2], [RUNS[1], 'oger', 2], [RUNS[2], 'luffy', 1]]);
    assert.deepEqual(first.curves.steps, [0, 1, 2]);
    assert.equal(first.curves.runs[2]?.accuracy[2], null, 'the shorter run has no step 2');
    const series = await store.stepSeries(RUNS[0] as string);
    assert.equal(first.curves.runs[0]?.accuracy[1], Number((series[1]?.accuracy as number).toPrecision(4)));
    assert.deepEqual(first.config.rows.map((r) => r.path), ['variant', 'config.lr'], 'the fixtures differ in variant and learning rate only');
    assert.deepEqual(first.config.rows.find((r) => r.path === 'config.lr')?.values, ['0.000001', '0.000001', '5e-7']);
    assert.ok(!first.config.rows.some((r) => r.path === 'config.batch'), 'equal settings are not listed');
    const t = first.table;
    assert.deepEqual(t.steps, [2, 2, 1], 'each run at its own last step');
    assert.equal(t.total, PROMPTS);
    assert.equal(t.k, 6);
    assert.equal(t.entropyKind, 'tokens');
    // Every cell is its group's own figures.
    for (const row of t.rows) {
      row.cells.forEach((cell, i) => {
        assert.ok(cell);
        assert.equal(cell.step, t.steps[i]);
      });
    }
    const groups = await store.listGroups(RUNS[1] as string, 2);
    const p1 = t.rows.find((r) => r.promptId === 'p1')?.cells[1] as PromptCell;
    const g1 = groups.find((g) => g.promptId === 'p1');
    assert.equal(cellAccuracy(p1), g1?.accuracy);
    assert.equal(p1.meanROger, g1?.meanROger);
    assert.ok(Math.abs((p1.tokenEntropy as number) - (0.5 + 1.25 + 0.125 + 2) / 4) < 1e-6, 'the fixture logs the same 4 token entropies on every online member');
    assert.equal(posted.length, 0, 'begin() posts nothing: the page carries or asks for it');
  });
});

test('entropy cells are the pooled token entropies and mean H_last of the online members', async () => {
  await withStudy(async (store) => {
    const cells = await promptCellsAtStep(store.db, RUNS[0] as string, 1);
    const g = await store.getGroup(cells[0]?.cell.groupId as number);
    const online = g?.trajectories.filter((t) => t.event.source === 'online') ?? [];
    const hLast = online.reduce((s, t) => s + (t.event.entropy_last as number), 0) / online.length;
    assert.ok(Math.abs((cells[0]?.cell.hLast as number) - hLast) < 1e-12);
    assert.equal(cells[0]?.cell.n, online.length);
    assert.equal(cells[0]?.cell.correct, online.filter((t) => t.event.verdict === 'correct').length);
    assert.deepEqual(await promptCellsAtStep(store.db, RUNS[2] as string, 2), [], 'a step the run does not have');
  });
});

test('a step picked on the curves moves every run there; sort and filter are the host\'s; ids the page did not get are refused', async () => {
  await withStudy(async (store) => {
    const { env: e, posted, logs } = env(store);
    const c = new CompareController(e, RUNS);
    await c.begin(RUNS);
    assert.equal(await c.handle({ type: 'ready' }), true);
    assert.equal(last(posted, 'compare').table.total, PROMPTS);
    assert.equal(await c.handle({ type: 'selectStep', step: 2 }), true);
    let t = last(posted, 'table');
    assert.deepEqual(t.table.steps, [2, 2, null], 'the shorter run has no step 2');
    assert.equal(t.selectedStep, 2);
    assert.ok(t.table.rows.every((r) => r.cells[2] === null));
    assert.equal(await c.handle({ type: 'selectStep', step: 0 }), true);
    t = last(posted, 'table');
    assert.deepEqual(t.table.steps, [0, 0, 0]);
    assert.equal(await c.handle({ type: 'selectStep', step: 7 }), false, 'no run has step 7');
    // A step a run logged metrics for but no groups (a curve point all the same): an empty table, not a refusal.
    const metricsOnly = [stepEvent(RUNS[0] as string, 5)] as RolloutEvent[];
    await store.writeBatch({ file: 'mem3', events: metricsOnly.map((event, i) => ({ line: i + 1, byteOffset: i, event })), malformed: [], endOffset: 1, endLine: 1 });
    await c.onStoreChange({ runId: RUNS[0] });
    assert.equal(await c.handle({ type: 'selectStep', step: 5 }), true);
    t = last(posted, 'table');
    assert.deepEqual([t.table.steps, t.table.total], [[null, null, null], 0]);
    assert.equal(await c.handle({ type: 'selectStep', step: 0 }), true);
    assert.equal(await c.handle({ type: 'setTable', sort: { column: 'accuracy:1', dir: 'asc' }, filter: { text: '', only: 'all' } }), true);
    t = last(posted, 'table');
    const acc = t.table.rows.map((r) => cellAccuracy(r.cells[1] ?? null) as number);
    assert.deepEqual(acc, [...acc].sort((a, b) => a - b));
    assert.equal(t.selectedStep, 0, 'sorting keeps the picked step');
    assert.equal(await c.handle({ type: 'setTable', sort: { column: 'prompt', dir: 'asc' }, filter: { text: 'p3', only: 'all' } }), true);
    assert.deepEqual(last(posted, 'table').table.rows.map((r) => r.promptId), ['p3']);
    assert.equal(await c.handle({ type: 'setTable', sort: { column: 'pass:3', dir: 'asc' }, filter: { text: '', only: 'all' } }), false, 'only 3 runs');
    assert.equal(await c.handle({ type: 'selectStep', step: null }), true);
    assert.deepEqual(last(posted, 'table').table.steps, [2, 2, 1]);
    assert.ok(logs.some((l) => /refused a webview message: selectStep names step 7, which none of the compared runs has/.test(l)));
  });
});

test('a prompt opens each run\'s group side by side, and only those groups may be opened in the inspector', async () => {
  await withStudy(async (store) => {
    const { env: e, posted, logs, opened } = env(store);
    const c = new CompareController(e, RUNS);
    await c.begin(RUNS);
    await c.handle({ type: 'ready' });
    assert.equal(await c.handle({ type: 'openPrompt', promptId: 'p2' }), true);
    const p = last(posted, 'prompt').prompt;
    assert.equal(p.promptId, 'p2');
    assert.match(p.prompt, /^Problem 2 of step 2/);
    assert.equal(p.groups.length, 3);
    assert.deepEqual(p.groups.map((g) => g?.step), [2, 2, 1]);
    for (const g of p.groups) {
      assert.ok(g);
      assert.equal(g.members.length, 8);
      assert.ok(g.members.every((m) => m.excerpt.length <= 240), 'no full texts in the message');
    }
    const member = p.groups[1]?.members[3];
    assert.equal(await c.handle({ type: 'openGroup', groupId: p.groups[1]?.groupId, focusTrajectoryKey: member?.trajectoryKey }), true);
    assert.deepEqual(opened, [[p.groups[1]?.groupId, String(member?.trajectoryKey)]]);
    const other = (await store.listGroups(RUNS[0] as string, 0))[0]?.groupId;
    assert.equal(await c.handle({ type: 'openGroup', groupId: other, focusTrajectoryKey: null }), false, 'a group the panel did not show');
    assert.equal(await c.handle({ type: 'openPrompt', promptId: 'p99' }), false, 'a prompt not in the table');
    assert.equal(opened.length, 1);
    assert.equal(logs.filter((l) => /refused a webview message/.test(l)).length, 2);
  });
});

test('pass@k in the table is the unbiased estimator with the table\'s k', async () => {
  await withStudy(async (store) => {
    const { env: e } = env(store);
    const first = await new CompareController(e, RUNS).begin(RUNS);
    assert.equal(first.type, 'compare');
    if (first.type !== 'compare') return;
    const cell = first.table.rows[0]?.cells[0] as PromptCell;
    assert.equal(passAtK(cell.n, cell.correct, first.table.k), cell.correct > 0 ? 1 : 0, 'k = n: any correct response passes');
  });
});

test('timings: the page\'s rendered frames become host perf lines once per ask', async () => {
  await withStudy(async (store) => {
    const { env: e, logs } = env(store);
    const c = new CompareController(e, RUNS);
    await c.begin(RUNS);
    await c.handle({ type: 'ready' });
    await c.handle({ type: 'rendered', view: 'compare', what: 'runs', ms: 40, size: 3 });
    await c.handle({ type: 'rendered', view: 'compare', what: 'runs', ms: 40, size: 3 });
    assert.equal(logs.filter((l) => /^\[perf\] host\.compare-open \d+\.\d ms size=3$/.test(l)).length, 1);
    assert.equal(logs.filter((l) => l.startsWith('[perf] compare.runs 40.0 ms')).length, 2);
    await c.handle({ type: 'selectStep', step: 1 });
    await c.handle({ type: 'rendered', view: 'compare', what: 'table', ms: 4, size: 4 });
    assert.ok(logs.some((l) => /^\[perf\] host\.compare-table /.test(l)));
  });
});

test('errors say what to do: no store, a run not in the store, a cancelled read', async () => {
  const { env: e } = env(undefined);
  const none = await new CompareController(e, RUNS).begin(RUNS);
  assert.equal(none.type, 'empty');
  assert.match(none.type === 'empty' ? none.reason : '', /No run store is open.*Open Run Store/);
  await withStudy(async (store) => {
    const { env: e2 } = env(store);
    const gone = await new CompareController(e2, [RUNS[0] as string, 'deleted-run']).begin([RUNS[0] as string, 'deleted-run']);
    assert.match(gone.type === 'empty' ? gone.reason : '', /Run "deleted-run" is not in the open store\. Run "Reward Lens: Compare Runs…" again/);
    const c = new CompareController(e2, RUNS);
    const read = c.begin(RUNS);
    assert.equal(c.reading, true);
    c.cancel();
    const m = await read;
    assert.match(m.type === 'empty' ? m.reason : '', /cancelled\. Run "Reward Lens: Compare Runs…" again/);
    assert.equal(c.reading, false);
  });
});

test('a reused panel: a newer selection wins over a read still under way', async () => {
  await withStudy(async (store) => {
    const { env: e, posted } = env(store);
    const c = new CompareController(e, RUNS);
    await c.begin(RUNS);
    await c.handle({ type: 'ready' });
    void c.begin([RUNS[0] as string, RUNS[1] as string]);
    const second = c.deliver();
    void c.begin([RUNS[1] as string, RUNS[2] as string]);
    await Promise.all([second, c.deliver()]);
    const shown = posted.filter((m) => m.type === 'compare').at(-1);
    assert.ok(shown && shown.type === 'compare');
    assert.deepEqual(shown.runs.map((r) => r.runId), [RUNS[1], RUNS[2]]);
    assert.deepEqual(posted.filter((m) => m.type === 'empty'), [], 'the superseded read is dropped, not shown as cancelled');
  });
});

test('a live run: a store change re-reads in place, keeping the picked step, sort and filter; a hidden panel waits until shown', async () => {
  await withStudy(async (store) => {
    const { env: e, posted } = env(store);
    const c = new CompareController(e, RUNS);
    await c.begin(RUNS);
    await c.handle({ type: 'ready' });
    await c.handle({ type: 'selectStep', step: 1 });
    await c.handle({ type: 'setTable', sort: { column: 'prompt', dir: 'desc' }, filter: { text: '', only: 'all' } });
    const extra = [groupEvent(RUNS[2] as string, 2, 0, { textBytes: 300, seed: 3 }), stepEvent(RUNS[2] as string, 2)] as RolloutEvent[];
    await store.writeBatch({ file: 'mem2', events: extra.map((event, i) => ({ line: i + 1, byteOffset: i, event })), malformed: [], endOffset: 2, endLine: 2 });
    const shown = () => posted.filter((m) => m.type === 'compare').length;
    const before = shown();
    await c.onStoreChange({ runId: 'another-run' });
    assert.equal(shown(), before, 'a change to a run not compared is ignored');
    await c.setVisible(false);
    await c.onStoreChange({ runId: RUNS[2] });
    assert.equal(shown(), before, 'hidden: nothing redrawn yet');
    await c.setVisible(true);
    const m = last(posted, 'compare');
    assert.equal(m.runs[2]?.lastStep, 2, 'the shorter run now has a group at step 2');
    assert.equal(m.selectedStep, 1);
    assert.deepEqual(m.table.steps, [1, 1, 1]);
    assert.deepEqual(m.table.sort, { column: 'prompt', dir: 'desc' });
    assert.deepEqual(m.table.rows.map((r) => r.promptId), ['p3', 'p2', 'p1', 'p0']);
  });
});

// The panels' decisions against a real store: what they post, what they store, what they refuse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStore } from '../../src/node/store';
import type { RolloutEvent } from '../../src/core/protocol';
import type { HostToDashboard, HostToInspector } from '../../src/core/messages';
import { DashboardController, InspectorController, InspectorHistoryStack, RefusalLog } from '../../src/extension/panels/controllers';
import { parseGroupId, storeGroupId, type GroupId } from '../../src/core/ids';
import type { NewLabel } from '../../src/node/store/types';
import { contentSecurityPolicy, makeNonce, webviewHtml } from '../../src/extension/panels/html';
import { sampleGroup } from '../kit/ui';

async function withRun<T>(fn: (store: RunStore) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'rl-panels-'));
  const store = await RunStore.open(join(dir, 'store.db'));
  try {
    const g = sampleGroup({ chars: 600, seed: 4 });
    const events: RolloutEvent[] = [
      { v: 1, type: 'run_start', run_id: 'run-a', variant: 'oger', config: {}, model: 'm', reward: g.reward, encoder: null, verifier: { id: 'v1', name: 'math-verify' } },
      { v: 1, type: 'step', run_id: 'run-a', step: 0, metrics: { 'actor/entropy': 1.1, 'actor/pg_loss': -0.3 } },
      { v: 1, type: 'group', run_id: 'run-a', step: 0, prompt_id: 'p-0', prompt: 'What is 6 × 7?', gold: '42', trajectories: g.trajectories.map((t) => t.event) },
      { v: 1, type: 'step', run_id: 'run-a', step: 1, metrics: { 'actor/entropy': 0.9 } },
    ] as RolloutEvent[];
    await store.writeBatch({ file: 'mem', events: events.map((event, i) => ({ line: i + 1, byteOffset: i, event })), malformed: [], endOffset: events.length, endLine: events.length });
    return await fn(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function inspectorEnv(store: RunStore | undefined) {
  const posted: HostToInspector[] = [];
  const logs: string[] = [];
  const opened: string[] = [];
  let title = '';
  const env = {
    getStore: () => store,
    post: (m: HostToInspector) => { posted.push(structuredClone(m)); return true; },
    log: (l: string) => logs.push(l),
    now: () => 0,
    author: () => 'tester',
    addLabel: async (l: NewLabel) => {
      if (!store) throw new Error('no run store is open');
      return store.addLabel(l);
    },
    openTrajectoryDocument: async (k: number) => { opened.push(String(k)); },
    setTitle: (t: string) => { title = t; },
    reasoningSetting: () => 'auto' as const,
    options: () => ({ renderMarkdown: false }),
  };
  return { env, posted, logs, opened, title: () => title };
}

async function firstGroupId(store: RunStore): Promise<GroupId> {
  const [g] = await store.listGroups('run-a', 0);
  assert.ok(g);
  return storeGroupId(g.groupId);
}

test('inspector: ready loads the group with every member and honours the focus (key or trajectory id)', async () => {
  await withRun(async (store) => {
    const gid = await firstGroupId(store);
    const { env, posted, title } = inspectorEnv(store);
    const c = new InspectorController(env, gid);
    c.prepare(gid, 't-4-on-3');
    assert.equal(await c.handle({ type: 'ready' }), true);
    const [loading, group] = posted;
    assert.equal(loading?.type, 'loading');
    assert.equal(group?.type, 'group');
    if (group?.type !== 'group') return;
    assert.equal(group.group.trajectories.length, 10);
    assert.equal(group.group.gold, '42');
    const focused = group.group.trajectories.find((t) => t.trajectoryKey === group.focusTrajectoryKey);
    assert.equal(focused?.event.id, 't-4-on-3');
    assert.match(title(), /step 0/);
    await c.show(gid, String(focused!.trajectoryKey));
    const again = posted.at(-1);
    assert.equal(again?.type === 'group' && again.focusTrajectoryKey, focused!.trajectoryKey);
  });
});

test('inspector: a relabel is stored through addLabel and answered with the stored label state', async () => {
  await withRun(async (store) => {
    const gid = await firstGroupId(store);
    const { env, posted, logs } = inspectorEnv(store);
    const c = new InspectorController(env, gid);
    await c.handle({ type: 'ready' });
    const g = posted.find((m) => m.type === 'group');
    assert.ok(g && g.type === 'group');
    const target = g.group.trajectories[0]!;
    assert.equal(await c.handle({ type: 'relabel', groupId: gid, trajectoryKey: target.trajectoryKey, label: 'wrong' }), true);
    const saved = posted.at(-1);
    assert.equal(saved?.type, 'labelSaved');
    if (saved?.type !== 'labelSaved') return;
    assert.equal(saved.label.current?.label, 'wrong');
    assert.equal(saved.label.current?.author, 'tester');
    // relabel again: the new label supersedes the old one
    await c.handle({ type: 'relabel', groupId: gid, trajectoryKey: target.trajectoryKey, label: 'correct' });
    const labels = await store.labels('run-a');
    assert.deepEqual(labels.map((l) => l.label), ['wrong', 'correct']);
    assert.equal(labels[1]!.supersedes, labels[0]!.id);
    assert.equal((await store.getTrajectory(target.trajectoryKey))?.label.current?.label, 'correct');
    await c.handle({ type: 'note', groupId: gid, trajectoryKey: target.trajectoryKey, text: '<script>x</script> boxed twice' });
    assert.equal((await store.getTrajectory(target.trajectoryKey))?.label.notes[0]?.note, '<script>x</script> boxed twice');
    assert.ok(logs.some((l) => /labelled wrong trajectory/.test(l)));
  });
});

test('inspector: ids outside the shown group and hostile messages are refused, logged, and store nothing', async () => {
  await withRun(async (store) => {
    const gid = await firstGroupId(store);
    const { env, posted, logs, opened } = inspectorEnv(store);
    const c = new InspectorController(env, gid);
    await c.handle({ type: 'ready' });
    const before = posted.length;
    const bad: unknown[] = [
      { type: 'relabel', groupId: gid, trajectoryKey: 999_999, label: 'wrong' },
      { type: 'relabel', groupId: gid + 1, trajectoryKey: 1, label: 'wrong' },
      { type: 'note', groupId: gid, trajectoryKey: 999_999, text: 'x' },
      { type: 'openDocument', trajectoryKey: 999_999 },
      { type: 'relabel', groupId: gid, trajectoryKey: 1, label: 'wrong', sql: "'; DROP TABLE labels; --" },
      { type: 'exec', command: 'rm -rf /' },
      'ready',
    ];
    for (const m of bad) assert.equal(await c.handle(m), false, JSON.stringify(m));
    assert.equal(posted.length, before, 'nothing is posted back for a refused message');
    assert.equal(logs.filter((l) => l.startsWith('[inspector] refused a webview message')).length, bad.length);
    assert.deepEqual(await store.labels(), []);
    assert.deepEqual(opened, []);
  });
});

test('inspector: timings are logged; a missing group or store gets a designed empty state', async () => {
  await withRun(async (store) => {
    const { env, posted, logs } = inspectorEnv(store);
    const c = new InspectorController(env, storeGroupId(424242));
    await c.handle({ type: 'ready' });
    assert.equal(posted.at(-1)?.type, 'empty');
    await c.handle({ type: 'rendered', view: 'inspector', what: 'heatmap', ms: 12.34, size: 150000 });
    assert.ok(logs.includes('[perf] inspector.heatmap 12.3 ms size=150000'));
  });
  const { env, posted } = inspectorEnv(undefined);
  await new InspectorController(env, storeGroupId(1)).handle({ type: 'ready' });
  assert.equal(posted.at(-1)?.type, 'empty');
  // the store opens later: the store-change event brings the group in
  await withRun(async (store) => {
    const gid = await firstGroupId(store);
    let current: RunStore | undefined;
    const late = inspectorEnv(undefined);
    late.env.getStore = () => current;
    const c = new InspectorController(late.env, gid);
    await c.handle({ type: 'ready' });
    assert.equal(late.posted.at(-1)?.type, 'empty');
    current = store;
    await c.onStoreChange();
    assert.equal(late.posted.at(-1)?.type, 'group');
    const n = late.posted.length;
    await c.onStoreChange();
    assert.equal(late.posted.length, n, 'a shown group is not reloaded on every ingest');
  });
});

function dashboardEnv(store: RunStore | undefined) {
  const posted: HostToDashboard[] = [];
  const logs: string[] = [];
  const opened: Array<[string, string | undefined]> = [];
  const env = {
    getStore: () => store,
    post: (m: HostToDashboard) => { posted.push(structuredClone(m)); return true; },
    log: (l: string) => logs.push(l),
    now: (() => { let t = 1000; return () => (t += 5); })(),
    openGroup: async (g: GroupId, t?: string) => { opened.push([String(g), t]); },
    setTitle: () => undefined,
  };
  return { env, posted, logs, opened };
}

test('dashboard: series, then a step, then a group opens through the host', async () => {
  await withRun(async (store) => {
    const { env, posted, opened, logs } = dashboardEnv(store);
    const c = new DashboardController(env, 'run-a');
    await c.handle({ type: 'ready' });
    const series = posted.find((m) => m.type === 'series');
    assert.ok(series && series.type === 'series');
    assert.deepEqual(series.series.step, [0, 1]);
    assert.deepEqual(series.series.metrics['actor/entropy'], [1.1, 0.9], 'metrics travel as one column per name');
    assert.deepEqual(Object.keys(series.series.metrics), ['actor/entropy'], 'only the metric a curve draws is sent');
    assert.equal(series.variant, 'oger');
    await c.handle({ type: 'rendered', view: 'dashboard', what: 'series', ms: 40, size: 2 });
    assert.ok(logs.some((l) => /^\[perf\] host\.dashboard-open \d+\.\d ms size=2$/.test(l)), 'the open is timed end to end on the host');
    await c.handle({ type: 'rendered', view: 'dashboard', what: 'series', ms: 40, size: 2 });
    assert.equal(logs.filter((l) => l.startsWith('[perf] host.dashboard-open')).length, 1, 'a re-render without a new open is not timed again');
    assert.equal(await c.handle({ type: 'selectStep', runId: 'run-a', step: 0 }), true);
    const step = posted.at(-1);
    assert.ok(step && step.type === 'step');
    assert.equal(step.groups.length, 1);
    assert.equal(step.points.length, 8);
    await c.handle({ type: 'rendered', view: 'dashboard', what: 'step', ms: 9, size: 8 });
    assert.ok(logs.some((l) => /^\[perf\] host\.dashboard-step \d+\.\d ms size=8$/.test(l)));
    const gid = step.groups[0]!.groupId;
    assert.equal(await c.handle({ type: 'openGroup', groupId: gid, focusTrajectoryKey: step.points[2]!.trajectoryKey }), true);
    assert.deepEqual(opened, [[String(gid), String(step.points[2]!.trajectoryKey)]]);
  });
});

test('dashboard: a new panel gets its series in its HTML, answers that first ready with nothing, and never seeds from a closed store', async () => {
  await withRun(async (store) => {
    const { env, posted, logs } = dashboardEnv(store);
    const c = new DashboardController(env, 'run-a');
    const initial = await c.seed(5_000);
    assert.ok(initial && initial.type === 'series');
    assert.deepEqual(initial.series.step, [0, 1]);
    await c.handle({ type: 'ready' });
    assert.equal(posted.length, 0, 'the page already has the series');
    await c.handle({ type: 'rendered', view: 'dashboard', what: 'series', ms: 30, size: 2 });
    assert.ok(logs.some((l) => /^\[perf\] host\.dashboard-open /.test(l)), 'a seeded open is timed from the panel\'s creation');
    assert.equal(await c.handle({ type: 'selectStep', runId: 'run-a', step: 1 }), true, 'the seeded steps are known to the host');
    // VS Code re-creates a hidden page: that ready is answered with the series again.
    await c.handle({ type: 'ready' });
    assert.ok(posted.some((m) => m.type === 'series'));
    // The read outlives its budget: no seed, and the page's ready uses the read already begun.
    const slow = dashboardEnv(store);
    const getRun = store.getRun.bind(store);
    let reads = 0;
    store.getRun = async (runId: string) => { reads++; await new Promise((r) => setTimeout(r, 200)); return getRun(runId); };
    const d = new DashboardController(slow.env, 'run-a');
    assert.equal(await d.seed(20), null);
    await d.handle({ type: 'ready' });
    assert.equal(reads, 1, 'ready awaited the read the seed began');
    assert.ok(slow.posted.some((m) => m.type === 'series'));
    store.getRun = getRun;
    // The store closes between the seed and ready: the page must not show the old data.
    let current: typeof store | undefined = store;
    const gone = dashboardEnv(store);
    gone.env.getStore = () => current;
    const e = new DashboardController(gone.env, 'run-a');
    const seeding = e.seed(5_000);
    current = undefined;
    assert.equal(await seeding, null);
    await e.handle({ type: 'ready' });
    assert.equal(gone.posted.at(-1)?.type, 'empty');
  });
});

test('dashboard: asked again for the run it shows, it refreshes the curves in place (timed), and blanks them only for another run', async () => {
  await withRun(async (store) => {
    const { env, posted, logs } = dashboardEnv(store);
    const c = new DashboardController(env, 'run-a');
    await c.handle({ type: 'ready' });
    await c.handle({ type: 'rendered', view: 'dashboard', what: 'series', ms: 30, size: 2 });
    posted.length = 0;
    await c.show('run-a');
    assert.deepEqual(posted.map((m) => m.type), ['series'], 'the retained page keeps its curves until the fresh ones arrive');
    await c.handle({ type: 'rendered', view: 'dashboard', what: 'series', ms: 20, size: 2 });
    assert.equal(logs.filter((l) => l.startsWith('[perf] host.dashboard-open')).length, 2, 'the re-open is timed like the first');
    posted.length = 0;
    await c.show('run-b');
    assert.equal(posted[0]?.type, 'loading', 'another run does not leave run-a\'s curves on screen under its title');
  });
});

test('dashboard: while hidden it does not redraw on every ingest, and catches up once when shown', async () => {
  await withRun(async (store) => {
    const { env, posted } = dashboardEnv(store);
    const c = new DashboardController(env, 'run-a');
    await c.handle({ type: 'ready' });
    posted.length = 0;
    await c.onStoreChange({ runId: 'run-a', step: 1 });
    assert.deepEqual(posted.map((m) => m.type), ['series'], 'a visible dashboard follows the run');
    posted.length = 0;
    await c.setVisible(false);
    await c.onStoreChange({ runId: 'run-a', step: 2 });
    await c.onStoreChange({});
    assert.equal(posted.length, 0, 'nothing is drawn while hidden');
    await c.setVisible(true);
    assert.deepEqual(posted.map((m) => m.type), ['series'], 'one refresh on reveal for all the changes missed');
    posted.length = 0;
    await c.setVisible(false);
    await c.setVisible(true);
    assert.equal(posted.length, 0, 'nothing missed, nothing re-sent');
    await c.setVisible(false);
    await c.onStoreChange({ runId: 'other-run' });
    await c.setVisible(true);
    assert.equal(posted.length, 0, 'another run\'s ingest does not make this one stale');
    // Shown by Open Dashboard: that load is the catch-up, the view-state change adds none.
    await c.setVisible(false);
    await c.onStoreChange({ runId: 'run-a' });
    await c.show('run-a');
    await c.setVisible(true);
    assert.deepEqual(posted.map((m) => m.type), ['series']);
  });
});

test('dashboard: unknown runs, steps and unlisted groups are refused and logged', async () => {
  await withRun(async (store) => {
    const { env, logs, opened } = dashboardEnv(store);
    const c = new DashboardController(env, 'run-a');
    await c.handle({ type: 'ready' });
    const gid = await firstGroupId(store);
    assert.equal(await c.handle({ type: 'openGroup', groupId: gid }), false, 'no step listed yet');
    assert.equal(await c.handle({ type: 'selectStep', runId: 'other-run', step: 0 }), false);
    assert.equal(await c.handle({ type: 'selectStep', runId: 'run-a', step: 77 }), false);
    assert.equal(await c.handle({ type: 'selectStep', runId: 'run-a', step: '0' }), false);
    assert.equal(logs.filter((l) => l.startsWith('[dashboard] refused')).length, 4);
    assert.deepEqual(opened, []);
  });
  const { env, posted } = dashboardEnv(undefined);
  await new DashboardController(env, 'x').handle({ type: 'ready' });
  assert.equal(posted.at(-1)?.type, 'empty');
});

test('webview shell: nonce-only scripts, no unsafe-inline or eval, escaped title, resources from the webview origin only', () => {
  const nonce = makeNonce();
  assert.match(nonce, /^[A-Za-z0-9]{32}$/);
  assert.notEqual(makeNonce(), nonce);
  const csp = contentSecurityPolicy('https://wv.example', nonce);
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, new RegExp(`script-src 'nonce-${nonce}'(;|$)`));
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
  const html = webviewHtml({ view: 'inspector', title: '<script>alert(1)</script>', cspSource: 'https://wv.example', scriptUri: 'https://wv.example/dist/webview/inspector.js', nonce });
  assert.doesNotMatch(html, /<script>alert/);
  const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
  assert.equal(scripts.length, 1);
  assert.ok(scripts.every((s) => s.includes(`nonce="${nonce}"`)));
  assert.doesNotMatch(html, /\son[a-z]+=/i);
  assert.throws(() => webviewHtml({ view: 'dashboard', title: 't', cspSource: 'x', scriptUri: 'y', nonce: `"><script>` }));
  // A first message in the page is a data block that hostile text cannot end or turn into script.
  const hostile = { type: 'series', runId: '</script><script>window.__pwned=1</script><!-- \u2028', variant: 'oger' };
  const seeded = webviewHtml({ view: 'dashboard', title: 't', cspSource: 'https://wv.example', scriptUri: 'https://wv.example/d.js', nonce, initialMessage: hostile });
  const blocks = [...seeded.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
  assert.equal(blocks.length, 2, 'the data block and the bundle, nothing else');
  const data = blocks.find((b) => /type="application\/json"/.test(b[1] ?? ''));
  assert.ok(data);
  assert.doesNotMatch(data[2] ?? '', /</);
  assert.deepEqual(JSON.parse(data[2] ?? ''), hostile);
  assert.equal(parseGroupId('12'), 12);
  assert.equal(parseGroupId('-1'), null);
  assert.equal(parseGroupId('1e3'), null);
  assert.equal(parseGroupId('../../etc'), null);
});

test('a flood of refused messages is logged as a burst and then a count, not line by line', async () => {
  let t = 0;
  const lines: string[] = [];
  const log = new RefusalLog((l) => lines.push(l), () => t, 3, 1000);
  for (let i = 0; i < 10; i++) log.write(`refused ${i}`);
  assert.deepEqual(lines, ['refused 0', 'refused 1', 'refused 2']);
  t = 1000;
  log.write('refused later');
  assert.deepEqual(lines.slice(3), ['7 more refused webview message(s) were not logged', 'refused later']);
  const { env, logs } = inspectorEnv(undefined);
  const c = new InspectorController(env, storeGroupId(1));
  for (let i = 0; i < 500; i++) await c.handle({ type: 'nonsense' });
  assert.equal(logs.length, 20);
});

test('inspector history: back/forward as a browser\'s (a new open drops what was ahead; the selected member is where an entry returns)', () => {
  const h = new InspectorHistoryStack(3);
  const a = storeGroupId(1);
  const b = storeGroupId(2);
  const c = storeGroupId(3);
  assert.equal(h.canGo('back'), false);
  h.push({ groupId: a, trajectoryKey: null });
  h.push({ groupId: a, trajectoryKey: null }); // the same place again is not a new entry
  assert.equal(h.canGo('back'), false);
  h.select(a, 7);
  h.push({ groupId: b, trajectoryKey: 2 });
  assert.deepEqual(h.go('back'), { groupId: a, trajectoryKey: 7 });
  assert.equal(h.go('back'), null, 'nothing before the first');
  assert.equal(h.canGo('forward'), true);
  h.push({ groupId: c, trajectoryKey: null });
  assert.equal(h.canGo('forward'), false, 'opening a group drops what was ahead');
  assert.deepEqual(h.go('back'), { groupId: a, trajectoryKey: 7 });
  h.go('forward');
  h.push({ groupId: b, trajectoryKey: null });
  h.push({ groupId: a, trajectoryKey: 1 });
  // the limit keeps the newest 3: c, b, a
  assert.deepEqual(h.go('back'), { groupId: b, trajectoryKey: null });
  assert.deepEqual(h.go('back'), { groupId: c, trajectoryKey: null });
  assert.equal(h.canGo('back'), false);
});

test('inspector: navigate back and forward reopens the groups shown, with the member that was selected there', async () => {
  await withRun(async (store) => {
    const g2 = sampleGroup({ chars: 300, seed: 5 });
    const more = [{ v: 1, type: 'group', run_id: 'run-a', step: 1, prompt_id: 'p-1', prompt: 'What is 2 + 2?', gold: '4', trajectories: g2.trajectories.map((t) => t.event) }] as RolloutEvent[];
    await store.writeBatch({ file: 'mem2', events: more.map((event, i) => ({ line: i + 1, byteOffset: i, event })), malformed: [], endOffset: 1, endLine: 1 });
    const first = await firstGroupId(store);
    const [other] = await store.listGroups('run-a', 1);
    assert.ok(other);
    const second = storeGroupId(other.groupId);
    const { env, posted } = inspectorEnv(store);
    const c = new InspectorController(env, first);
    c.prepare(first);
    await c.handle({ type: 'ready' });
    const shown = posted.at(-1);
    assert.ok(shown?.type === 'group');
    assert.deepEqual(shown.history, { back: false, forward: false });
    const picked = shown.group.trajectories[3]!.trajectoryKey;
    assert.equal(await c.handle({ type: 'selected', groupId: first, trajectoryKey: picked }), true);
    await c.show(second);
    const onSecond = posted.at(-1);
    assert.ok(onSecond?.type === 'group');
    assert.equal(onSecond.group.promptId, 'p-1');
    assert.deepEqual(onSecond.history, { back: true, forward: false });

    assert.equal(await c.handle({ type: 'navigate', direction: 'back' }), true);
    const back = posted.at(-1);
    assert.ok(back?.type === 'group');
    assert.equal(back.group.promptId, 'p-0');
    assert.equal(back.focusTrajectoryKey, picked, 'back returns to the member that was selected');
    assert.deepEqual(back.history, { back: false, forward: true });
    assert.equal(c.currentGroupId, first);

    assert.equal(await c.handle({ type: 'navigate', direction: 'forward' }), true);
    const fwd = posted.at(-1);
    assert.ok(fwd?.type === 'group');
    assert.equal(fwd.group.promptId, 'p-1');
    assert.deepEqual(fwd.history, { back: true, forward: false });
    // a stale forward button: nothing happens, nothing is refused
    const count = posted.length;
    assert.equal(await c.handle({ type: 'navigate', direction: 'forward' }), true);
    assert.equal(posted.length, count);
    assert.equal(await c.handle({ type: 'navigate', direction: 'sideways' }), false, 'a bad direction is refused');
  });
});

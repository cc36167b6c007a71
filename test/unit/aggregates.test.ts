// The aggregate table (src/node/store/aggregates.ts) against what the store really holds: the
// columns of `groups` and `step_stats` that migrations 1 and 2 created by hand, and sums recomputed
// by SQL from the stored trajectories.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GROUP_AGGREGATES, RUNAWAY_COUNT, STEP_AGGREGATES, type Aggregate } from '../../src/node/store/aggregates';
import { RunStore } from '../../src/node/store';
import { groupEvent, runStart } from '../kit/events';

async function columns(store: RunStore, table: string): Promise<{ name: string; type: string; notnull: number }[]> {
  return store.db.all(`SELECT name, type, "notnull" FROM pragma_table_info('${table}')`);
}

// Columns a later migration appended (ALTER TABLE adds at the end): their type is checked, not their place.
const APPENDED_BY_MIGRATION = new Set<string>([RUNAWAY_COUNT.name]);

function expectColumns(actual: { name: string; type: string; notnull: number }[], all: readonly Aggregate[], table: string): void {
  const list = all.filter((a) => !APPENDED_BY_MIGRATION.has(a.name));
  for (const a of all.filter((x) => APPENDED_BY_MIGRATION.has(x.name))) {
    const c = actual.find((x) => x.name === a.name);
    assert.ok(c, `${table} has no column ${a.name}`);
    assert.equal(c.type, a.type, `${table}.${a.name} type`);
    assert.equal(c.notnull, a.combine === 'sum' ? 1 : 0, `${table}.${a.name} NOT NULL`);
  }
  const byName = new Map(actual.map((c) => [c.name, c]));
  const positions = list.map((a) => actual.findIndex((c) => c.name === a.name));
  for (const [i, a] of list.entries()) {
    const c = byName.get(a.name);
    assert.ok(c, `${table} has no column ${a.name}`);
    assert.equal(c.type, a.type, `${table}.${a.name} type`);
    assert.equal(c.notnull, a.combine === 'sum' ? 1 : 0, `${table}.${a.name} NOT NULL`);
    if (i > 0) assert.equal(positions[i], (positions[i - 1] as number) + 1, `${table}.${a.name} follows ${list[i - 1]?.name}`);
  }
}

test('the aggregate table matches the columns the migrations created', async () => {
  const store = await RunStore.open(':memory:');
  try {
    expectColumns(await columns(store, 'groups'), [...GROUP_AGGREGATES, STEP_AGGREGATES[STEP_AGGREGATES.length - 1] as Aggregate], 'groups');
    const step = await columns(store, 'step_stats');
    expectColumns(step, STEP_AGGREGATES, 'step_stats');
    assert.deepEqual(step.slice(0, 2).map((c) => c.name), ['run_id', 'step']);
    assert.equal(step.length, 2 + STEP_AGGREGATES.length, 'step_stats holds exactly the key and the aggregates');
  } finally {
    await store.close();
  }
});

test('per-group and per-step sums equal SQL sums over the stored trajectories', async () => {
  const store = await RunStore.open(':memory:');
  try {
    const groups = Array.from({ length: 12 }, (_, g) => groupEvent('agg', g % 3, g, { textBytes: 50, seed: 3 }));
    groups[4]!.trajectories[0]!.verdict = 'error';
    delete groups[5]!.trajectories[1]!.tokens;
    // One online response stuck in a loop (a 30-word passage 10 times), one teacher likewise (not counted).
    const loop = Array.from({ length: 10 }, () => Array.from({ length: 30 }, (_, w) => `word${w}`).join(' ')).join(' ');
    const looping = groups[7]!.trajectories.find((t) => t.source === 'online')!;
    looping.text = `Let me think. ${loop} and so on`;
    const teacher = groups[8]!.trajectories.find((t) => t.source === 'offline');
    if (teacher) teacher.text = loop;
    await store.writeBatch({
      file: 'mem', events: [runStart('agg'), ...groups].map((event, i) => ({ line: i + 1, byteOffset: i, event })), malformed: [], endOffset: 1, endLine: 13,
    });
    const recomputed = await store.db.all<Record<string, number | null>>(`
      SELECT g.id, count(*) AS trajectory_count, sum(t.source = 'online') AS online_count,
        sum(t.source = 'online' AND t.verdict = 'correct') AS online_correct,
        total(CASE WHEN t.source = 'online' AND t.verdict = 'correct' THEN t.r_oger END) AS roger_correct_sum,
        max(CASE WHEN t.source = 'online' THEN t.r_oger END) AS roger_max,
        sum(t.source = 'online' AND (t.truncated = 1 OR t.verdict = 'error')) AS failed_count,
        total(CASE WHEN t.source = 'online' THEN t.tokens END) AS tokens_sum,
        sum(t.source = 'online' AND t.tokens IS NOT NULL) AS tokens_n,
        total(CASE WHEN t.source = 'online' THEN t.text_chars END) AS chars_sum,
        total(CASE WHEN t.source = 'offline' AND t.inserted = 1 THEN t.advantage END) AS offline_adv_sum,
        sum(t.source = 'online' AND t.traj_id = '${looping.id}' AND g.step = ${groups[7]!.step} AND g.prompt_id = '${groups[7]!.prompt_id}') AS runaway_count
      FROM groups g JOIN trajectories t ON t.group_id = g.id GROUP BY g.id ORDER BY g.id`);
    const stored = await store.db.all<Record<string, number | null>>('SELECT * FROM groups ORDER BY id');
    assert.equal(stored.length, 12);
    for (const [i, want] of recomputed.entries()) {
      for (const [k, v] of Object.entries(want)) {
        assert.ok(Math.abs((stored[i]?.[k] as number) - (v as number)) < 1e-9 || stored[i]?.[k] === v, `group ${want.id} ${k}: ${stored[i]?.[k]} vs ${v}`);
      }
    }
    const flagged = await store.db.all<{ traj_id: string }>('SELECT traj_id FROM trajectories WHERE (lint_mask & 32) <> 0');
    assert.deepEqual(flagged.map((r) => r.traj_id), [looping.id], 'only the looping online response carries the runaway-repetition lint');
    const lints = JSON.parse((await store.db.get<{ lints: string }>('SELECT lints FROM groups WHERE step = ? AND prompt_id = ?', [groups[7]!.step, groups[7]!.prompt_id]))!.lints) as { kind: string; message: string }[];
    assert.match(lints.find((l) => l.kind === 'runaway-repetition')?.message ?? '', /loops: a 24-word passage recurs 10 times \(\d+% of the text is repeats\)/);
    const steps = await store.db.all<Record<string, number>>(`
      SELECT s.step, s.group_count, s.trajectory_count, s.online_correct, s.lint_count, s.roger_max, s.runaway_count,
        (SELECT sum(runaway_count) FROM groups g WHERE g.step = s.step) AS g_runaway,
        (SELECT count(*) FROM groups g WHERE g.step = s.step) AS g_count,
        (SELECT sum(trajectory_count) FROM groups g WHERE g.step = s.step) AS g_traj,
        (SELECT sum(online_correct) FROM groups g WHERE g.step = s.step) AS g_ok,
        (SELECT sum(lint_count) FROM groups g WHERE g.step = s.step) AS g_lints,
        (SELECT max(roger_max) FROM groups g WHERE g.step = s.step) AS g_max
      FROM step_stats s ORDER BY s.step`);
    assert.equal(steps.length, 3);
    for (const s of steps) {
      assert.deepEqual([s.group_count, s.trajectory_count, s.online_correct, s.lint_count, s.roger_max, s.runaway_count], [s.g_count, s.g_traj, s.g_ok, s.g_lints, s.g_max, s.g_runaway]);
    }
    const series = await store.stepSeries('agg');
    assert.deepEqual(series.map((p) => p.runawayCount), steps.map((s) => s.g_runaway));
    assert.equal(series.reduce((n, p) => n + (p.runawayCount ?? 0), 0), 1);
  } finally {
    await store.close();
  }
});

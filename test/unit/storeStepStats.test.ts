// Per-step sums (step_stats): kept at ingest in the batch's transaction, never double-counted by a
// replay or a refused group, rolled back with a failed batch, backfilled by the 1 → 2 migration on a
// store written by schema 1, and, like every per-group figure, counting accuracy by logged verdicts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStore, SCHEMA_VERSION } from '../../src/node/store';
import type { GroupEvent, RolloutEvent } from '../../src/core/protocol';
import { groupEvent, runStart, stepEvent } from '../kit/events';

async function withStore<T>(fn: (store: RunStore, file: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'rl-stepstats-'));
  const file = join(dir, 'store.db');
  const store = await RunStore.open(file);
  try {
    return await fn(store, file);
  } finally {
    await store.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

let nextLine = 1;
async function write(store: RunStore, events: RolloutEvent[], file = 'mem') {
  const first = nextLine;
  nextLine += events.length;
  return store.writeBatch({
    file,
    events: events.map((event, i) => ({ line: first + i, byteOffset: first + i, event })),
    malformed: [],
    endOffset: first + events.length,
    endLine: first + events.length,
  });
}

/** The series as the schema-1 code computed it: an aggregate over every group of the run. */
async function seriesFromGroups(store: RunStore, runId: string): Promise<Record<string, unknown>[]> {
  return store.db.all(
    `SELECT s.step, count(g.id) AS groups, sum(g.trajectory_count) AS trajectories, sum(g.online_count) AS oc, sum(g.online_correct) AS ok,
       sum(g.roger_correct_sum) AS rcs, sum(g.roger_correct_n) AS rcn, sum(g.roger_sum) AS rs, sum(g.roger_n) AS rn,
       max(g.roger_max) AS rmax, sum(g.failed_count) AS failed, sum(g.tokens_sum) AS ts, sum(g.tokens_n) AS tn,
       sum(g.chars_sum) AS cs, sum(g.offline_adv_sum) AS oas, sum(g.offline_adv_n) AS oan, sum(g.lint_count) AS lints
     FROM steps s LEFT JOIN groups g ON g.run_id = s.run_id AND g.step = s.step
     WHERE s.run_id = ? GROUP BY s.step ORDER BY s.step`,
    [runId],
  );
}

async function stepStats(store: RunStore, runId: string): Promise<Record<string, unknown>[]> {
  return store.db.all(
    `SELECT s.step, coalesce(ss.group_count, 0) AS groups, ss.trajectory_count AS trajectories, ss.online_count AS oc,
       ss.online_correct AS ok, ss.roger_correct_sum AS rcs, ss.roger_correct_n AS rcn, ss.roger_sum AS rs, ss.roger_n AS rn,
       ss.roger_max AS rmax, ss.failed_count AS failed, ss.tokens_sum AS ts, ss.tokens_n AS tn, ss.chars_sum AS cs,
       ss.offline_adv_sum AS oas, ss.offline_adv_n AS oan, ss.lint_count AS lints
     FROM steps s LEFT JOIN step_stats ss ON ss.run_id = s.run_id AND ss.step = s.step WHERE s.run_id = ? ORDER BY s.step`,
    [runId],
  );
}

/** Equal up to float summation order (sums are added per batch, the reference adds per group). */
function assertSameSums(actual: Record<string, unknown>[], expected: Record<string, unknown>[]): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((row, i) => {
    const want = expected[i] as Record<string, unknown>;
    for (const [k, v] of Object.entries(want)) {
      const got = row[k];
      if (typeof v === 'number' && typeof got === 'number') assert.ok(Math.abs(got - v) <= 1e-9 * Math.max(1, Math.abs(v)), `step ${String(want.step)} ${k}: ${got} vs ${v}`);
      else assert.equal(got, v, `step ${String(want.step)} ${k}`);
    }
  });
}

/** Deep equality where numbers may differ in the last bits (float sums in another order). */
function assertClose(actual: unknown, expected: unknown, at = ''): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    assert.ok(Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)), `${at}: ${actual} vs ${expected}`);
  } else if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object', `${at}: object expected`);
    assert.deepEqual(Object.keys(actual as object).sort(), Object.keys(expected).sort(), `${at}: keys`);
    for (const [k, v] of Object.entries(expected)) assertClose((actual as Record<string, unknown>)[k], v, `${at}.${k}`);
  } else {
    assert.equal(actual, expected, at);
  }
}

const groupsOf = (steps: number, perStep: number, seed: number): GroupEvent[] =>
  Array.from({ length: steps * perStep }, (_, i) => groupEvent('r1', Math.floor(i / perStep), i % perStep, { textBytes: 200, seed: seed + i }));

test('step_stats equals the sums over the groups, across batches, with replays and refused groups adding nothing', async () => {
  await withStore(async (store) => {
    const groups = groupsOf(3, 4, 11);
    await write(store, [runStart('r1'), stepEvent('r1', 0), ...groups.slice(0, 6)]);
    await write(store, groups.slice(6)); // step 1 is split across two batches
    await write(store, [stepEvent('r1', 3)]); // a step with no groups
    const before = await stepStats(store, 'r1');
    assertSameSums(before, await seriesFromGroups(store, 'r1'));
    assert.deepEqual(before.map((r) => r.groups), [4, 4, 4, 0]);

    const replay = await write(store, groups.slice(2, 9));
    assert.equal(replay.groups, 0);
    assert.equal(replay.duplicates, 7);
    const clash = groupEvent('r1', 2, 99, { textBytes: 200, seed: 5 });
    (clash.trajectories[0] as { id: string }).id = (groups[0] as GroupEvent).trajectories[0]?.id as string;
    const refused = await write(store, [clash]);
    assert.equal(refused.groups, 0);
    assert.equal(refused.malformed.length, 1);
    assert.deepEqual(await stepStats(store, 'r1'), before);
  });
});

test('a batch that fails rolls its step sums back with its rows; writing it again counts it once', async () => {
  await withStore(async (store) => {
    await write(store, [runStart('r1'), ...groupsOf(1, 2, 40)]);
    const before = await stepStats(store, 'r1');
    // Fail the batch at its last statement (the file offset), after its rows and sums are written.
    await store.db.exec(`CREATE TEMP TRIGGER fail_batch BEFORE INSERT ON ingest_offsets BEGIN SELECT RAISE(ABORT, 'injected failure'); END`);
    const more = [groupEvent('r1', 0, 7, { textBytes: 200, seed: 70 }), groupEvent('r1', 1, 0, { textBytes: 200, seed: 71 })];
    await assert.rejects(() => write(store, more, 'other'), /injected failure/);
    assert.deepEqual(await stepStats(store, 'r1'), before);
    await store.db.exec('DROP TRIGGER fail_batch');
    await write(store, more, 'other');
    const after = await stepStats(store, 'r1');
    assert.deepEqual(after.map((r) => r.groups), [3, 1]);
    assertSameSums(after, await seriesFromGroups(store, 'r1'));
  });
});

test('migration 1 → 2 backfills step_stats on a store written by schema 1, and the series is unchanged', async () => {
  await withStore(async (store, file) => {
    const groups = groupsOf(4, 3, 100);
    await write(store, [runStart('r1'), stepEvent('r1', 0), ...groups, stepEvent('r1', 9)]);
    const expectedSeries = await store.stepSeries('r1');
    const expectedSteps = await store.listSteps('r1');
    const expectedRun = await store.getRun('r1');
    // Schema 1 is migration 0 alone: the same tables without step_stats.
    await store.db.exec('DROP TABLE step_stats; PRAGMA user_version = 1');
    await store.close();

    const reopened = await RunStore.open(file);
    try {
      assert.equal((await reopened.db.get<{ user_version: number }>('PRAGMA user_version'))?.user_version, SCHEMA_VERSION);
      assertSameSums(await stepStats(reopened, 'r1'), await seriesFromGroups(reopened, 'r1'));
      assertClose(await reopened.stepSeries('r1'), expectedSeries, 'series');
      assertClose(await reopened.listSteps('r1'), expectedSteps, 'steps');
      assertClose(await reopened.getRun('r1'), expectedRun, 'run');
      // Ingest after the migration adds to the backfilled rows.
      await write(reopened, [groupEvent('r1', 3, 50, { textBytes: 200, seed: 999 })]);
      assertSameSums(await stepStats(reopened, 'r1'), await seriesFromGroups(reopened, 'r1'));
    } finally {
      await reopened.close();
    }
  });
});

test('series accuracy counts the logged verdicts: another active verifier and labels do not move it', async () => {
  await withStore(async (store) => {
    const groups = groupsOf(2, 2, 300);
    await write(store, [runStart('r1'), ...groups]);
    const online = groups.flatMap((g) => g.trajectories.filter((t) => t.source === 'online'));
    const step0 = online.filter((t) => groups.slice(0, 2).some((g) => g.trajectories.includes(t)));
    const series = await store.stepSeries('r1');
    assert.ok(Math.abs((series[0]?.accuracy as number) - step0.filter((t) => t.verdict === 'correct').length / step0.length) < 1e-12);

    const keys = (await store.db.all<{ id: number }>(`SELECT id FROM trajectories WHERE source = 'online' ORDER BY id`)).map((r) => r.id);
    const v = await store.addVerifierVersion({ name: 'strict', source: 'def verify(): return False' });
    await store.writeVerdicts(v.id, keys.map((k) => ({ trajectoryKey: k, verdict: 'wrong', reason: 'strict', extracted: null })));
    await store.setActiveVerifier('r1', v.id);
    await store.addLabel({ trajectoryKey: keys[0] as number, label: 'hack', author: 'test' });
    assert.deepEqual(await store.stepSeries('r1'), series);
    // The per-step points are where the active verdicts show.
    assert.ok((await store.stepPoints('r1', 0)).every((p) => p.verdict === 'wrong'));
  });
});

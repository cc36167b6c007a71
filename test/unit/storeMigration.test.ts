// A store written by the previous schema (2), by the previous code (test/fixtures/storeV2: made with
// make.ts from the last schema-2 commit), opens, migrates to the current schema, keeps every row,
// label, verdict set, embedding and ingest offset, is still searchable with every query kind on its
// old positional index, and takes new rows after the migration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { RunStore, SCHEMA_VERSION, textHash } from '../../src/node/store';
import type { GroupEvent, RolloutEvent } from '../../src/core/protocol';
import { groupEvent } from '../kit/events';
import { SORT_INDEXED_COLUMNS, sortIndexName } from '../../src/node/store/schema';

const FIXTURE = join(__dirname, '..', 'fixtures', 'storeV2');

function fixtureCopy(dir: string): string {
  const db = join(dir, 'store.db');
  writeFileSync(db, gunzipSync(readFileSync(join(FIXTURE, 'store-v2.db.gz'))));
  return db;
}

function fixtureEvents(): RolloutEvent[] {
  return gunzipSync(readFileSync(join(FIXTURE, 'events.jsonl.gz')))
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as RolloutEvent];
      } catch {
        return []; // the fixture's one malformed line
      }
    });
}

test('a schema-2 store written by the old code opens, migrates and keeps everything', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rl-migrate-'));
  try {
    const path = fixtureCopy(dir);
    await assert.rejects(() => RunStore.open(path, { readonly: true }), /open it once with write access to migrate/);
    const store = await RunStore.open(path);
    try {
      assert.equal((await store.db.get<{ user_version: number }>('PRAGMA user_version'))?.user_version, SCHEMA_VERSION);
      assert.ok(SCHEMA_VERSION >= 3);
      // The populated store keeps its positional index (a rebuild would re-tokenise every text).
      assert.doesNotMatch((await store.db.get<{ sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'trajectory_fts'"))!.sql, /detail=none/);

      const events = fixtureEvents();
      const groups = events.filter((e): e is GroupEvent => e.type === 'group');
      assert.equal(groups.length, 6);
      assert.deepEqual(await store.stats(), { runs: 1, steps: 2, groups: 6, trajectories: 48, labels: 1, malformedLines: 1 });
      const [run] = await store.listRuns();
      assert.equal(run?.runId, 'v2run');
      assert.equal(run?.status, 'completed');
      assert.equal(run?.trajectoryCount, 48);
      // Every group reads back exactly as its event was written (texts plain and deflated alike).
      for (const step of [0, 1]) {
        for (const summary of await store.listGroups('v2run', step)) {
          const back = await store.groupEvent(summary.groupId);
          const want = groups.find((g) => g.step === step && g.prompt_id === summary.promptId);
          assert.deepEqual(back, want, `group ${summary.promptId} of step ${step}`);
        }
      }
      const compressed = await store.db.get<{ n: number }>('SELECT count(*) AS n FROM trajectories WHERE text_z = 1');
      assert.ok((compressed?.n ?? 0) > 0, 'the fixture holds deflated texts');
      const labels = await store.labels('v2run');
      assert.equal(labels.length, 1);
      assert.equal(labels[0]?.note, 'checked by hand');
      const versions = await store.verifierVersions();
      const lenient = versions.find((v) => v.name === 'lenient.py');
      assert.ok(lenient);
      assert.equal((await store.verdicts(lenient.id, 'v2run')).length, 8);
      assert.deepEqual([...((await store.getEmbeddings('fp', [textHash('hello')])).get(textHash('hello')) ?? [])], [1, 0, 0.5]);
      const eventsBytes = gunzipSync(readFileSync(join(FIXTURE, 'events.jsonl.gz'))).length;
      assert.deepEqual(await store.ingestOffset('events.jsonl'), { byteOffset: eventsBytes, line: 11 });
      assert.equal((await store.malformedLines())[0]?.line, 6);
      assert.equal((await store.stepSeries('v2run')).length, 2);
      // Its texts were never scanned for loops: the count is unknown, not zero (schema 6).
      assert.deepEqual((await store.stepSeries('v2run')).map((p) => p.runawayCount), [null, null]);
      // The table's sorts read a per-run index of each value column (schema 7), and sort by it.
      const indexes = (await store.db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'trajectories'")).map((r) => r.name);
      for (const column of SORT_INDEXED_COLUMNS) assert.ok(indexes.includes(sortIndexName(column)), `index for ${column}`);
      const sorted = await store.tableRows({ filter: 'run:v2run', sort: { column: 'length', dir: 'desc' }, groupBy: 'none', flippedOnly: false }, 0, 100);
      assert.equal(sorted.rows.length, 48);
      assert.ok(sorted.rows.every((r, i) => i === 0 || sorted.rows[i - 1]!.length >= r.length));

      // Prompt text is found through the prompt index the migration filled from the stored groups (schema 8).
      const byPromptText = await store.search('huypbeft', 10);
      assert.deepEqual(byPromptText.prompts.map((p) => [p.promptId, p.match]), [['p0', 'text']]);

      // Search on the old index: words, a phrase, a prefix.
      const phrase = await store.search('"the answer is forty two"', 100);
      assert.equal(phrase.hits.length, 6);
      assert.ok(phrase.hits.every((h) => h.trajectoryId.endsWith('-on1')));
      assert.equal((await store.search('forty NOT two', 100)).hits.length, 0);
      assert.equal((await store.search('fort*', 100)).hits.length, 6);

      // New rows after the migration land beside the old ones and are found by the same search.
      const extra = groupEvent('v2run', 2, 0, { textBytes: 2000, seed: 99 });
      (extra.trajectories[3] as { text: string }).text += ' and the answer is forty two';
      const res = await store.writeBatch({ file: 'more', events: [{ line: 1, byteOffset: 0, event: extra }], malformed: [], endOffset: 1, endLine: 1 });
      assert.equal(res.trajectories, 8);
      assert.equal((await store.search('"the answer is forty two"', 100)).hits.length, 7);
      const [again] = await store.listGroups('v2run', 2);
      assert.deepEqual(await store.groupEvent(again!.groupId), extra);
      assert.equal((await store.listRuns())[0]?.trajectoryCount, 56);
      // A run first stored after the migration is counted from its first group.
      const fresh = groupEvent('after-v6', 0, 0, { textBytes: 200, seed: 5 });
      await store.writeBatch({ file: 'fresh', events: [{ line: 1, byteOffset: 0, event: fresh }], malformed: [], endOffset: 1, endLine: 1 });
      assert.deepEqual((await store.stepSeries('after-v6')).map((p) => p.runawayCount), [0]);
    } finally {
      await store.close();
    }
    // Opening the migrated store again changes nothing, read-only included.
    const ro = await RunStore.open(path, { readonly: true });
    assert.equal((await ro.stats()).trajectories, 64);
    await ro.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a new store gets the presence-only full-text index', async () => {
  const store = await RunStore.open(':memory:');
  try {
    assert.match((await store.db.get<{ sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'trajectory_fts'"))!.sql, /detail=none/);
  } finally {
    await store.close();
  }
});

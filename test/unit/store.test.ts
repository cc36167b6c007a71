// The run store: schema and pragmas, refusal of newer stores, append-only labels, text compression,
// FTS search (and its fallback for bad syntax), lossless round trip of unknown fields, and the read API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import { RunStore, SCHEMA_VERSION, StoreVersionError, textHash } from '../../src/node/store';
import { cutSnippet, snippetFromPrefix, snippetOfStored } from '../../src/node/store/store';
import { packText, unpackText } from '../../src/node/store/codec';
import type { GroupEvent, RolloutEvent } from '../../src/core/protocol';
import { groupEvent, prng, runEnd, runStart, stepEvent } from '../kit/events';
import { FORMAT_GROUPS } from '../../src/node/store/writer';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'rl-store-'));
}

async function withStore<T>(fn: (store: RunStore, dir: string) => Promise<T>): Promise<T> {
  const dir = tempDir();
  const store = await RunStore.open(join(dir, 'store.db'));
  try {
    return await fn(store, dir);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function write(store: RunStore, events: RolloutEvent[], file = 'mem') {
  return store.writeBatch({
    file,
    events: events.map((event, i) => ({ line: i + 1, byteOffset: i, event })),
    malformed: [],
    endOffset: events.length,
    endLine: events.length,
  });
}

function rawDb(path: string): Promise<sqlite3.Database> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(path, (e) => (e ? reject(e) : resolve(db)));
  });
}
const rawExec = (db: sqlite3.Database, sql: string) => new Promise<void>((res, rej) => db.exec(sql, (e) => (e ? rej(e) : res())));
const rawClose = (db: sqlite3.Database) => new Promise<void>((res) => db.close(() => res()));

test('a new store is migrated to the current schema with 16 KiB pages, WAL and NORMAL sync', async () => {
  await withStore(async (store) => {
    assert.equal((await store.db.get<{ user_version: number }>('PRAGMA user_version'))?.user_version, SCHEMA_VERSION);
    assert.equal((await store.db.get<{ page_size: number }>('PRAGMA page_size'))?.page_size, 16384);
    assert.equal((await store.db.get<{ journal_mode: string }>('PRAGMA journal_mode'))?.journal_mode, 'wal');
    assert.equal((await store.db.get<{ synchronous: number }>('PRAGMA synchronous'))?.synchronous, 1);
    assert.ok(((await store.db.get<{ timeout: number }>('PRAGMA busy_timeout'))?.timeout ?? 0) >= 5000);
    const tables = (await store.db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type IN ('table')")).map((r) => r.name);
    for (const t of ['runs', 'steps', 'groups', 'trajectories', 'token_stats', 'labels', 'verifier_versions', 'verdicts', 'embeddings', 'ingest_offsets', 'malformed_lines', 'trajectory_fts']) {
      assert.ok(tables.includes(t), `table ${t} exists`);
    }
  });
});

test('reopening a migrated store keeps its data and does not re-run migrations', async () => {
  const dir = tempDir();
  const path = join(dir, 's.db');
  try {
    let store = await RunStore.open(path);
    await write(store, [runStart('r1'), groupEvent('r1', 0, 0)]);
    await store.close();
    store = await RunStore.open(path);
    assert.equal((await store.stats()).trajectories, 8);
    await store.close();
    const ro = await RunStore.open(path, { readonly: true });
    assert.equal((await ro.listRuns()).length, 1);
    await assert.rejects(() => ro.addLabel({ trajectoryKey: 1, label: 'hack', author: 'x' }), /readonly|read-only/i);
    await ro.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a store written by a newer schema is refused with a message that says to update', async () => {
  const dir = tempDir();
  const path = join(dir, 'newer.db');
  try {
    const db = await rawDb(path);
    await rawExec(db, `PRAGMA user_version = ${SCHEMA_VERSION + 3}`);
    await rawClose(db);
    for (const readonly of [false, true]) {
      await assert.rejects(
        () => RunStore.open(path, { readonly }),
        (e: unknown) =>
          e instanceof StoreVersionError &&
          e.message === `this store was written by a newer Reward Lens (schema ${SCHEMA_VERSION + 3}); this version reads up to ${SCHEMA_VERSION}: update the extension`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('labels are append-only: a correction supersedes, the history keeps both, UPDATE and DELETE are refused', async () => {
  await withStore(async (store) => {
    await write(store, [runStart('r1'), groupEvent('r1', 0, 0)]);
    const [g] = await store.listGroups('r1', 0);
    assert.ok(g);
    const detail = await store.getGroup(g.groupId);
    const key = detail?.trajectories[0]?.trajectoryKey as number;
    const first = await store.addLabel({ trajectoryKey: key, label: 'correct', author: 'ana' });
    const note = await store.addLabel({ trajectoryKey: key, label: 'note', note: 'answer boxed twice', author: 'ana' });
    const fix = await store.addLabel({ trajectoryKey: key, label: 'hack', note: 'guessed from the options', author: 'ben', supersedes: first.id });
    const t = await store.getTrajectory(key);
    assert.equal(t?.label.current?.id, fix.id);
    assert.equal(t?.label.current?.label, 'hack');
    assert.deepEqual(t?.label.notes.map((n) => n.id), [note.id]);
    assert.deepEqual(t?.label.history.map((l) => l.id), [first.id, note.id, fix.id]);
    assert.equal((await store.labels('r1')).length, 3);
    assert.equal((await store.labels('other')).length, 0);
    await assert.rejects(() => store.db.run('UPDATE labels SET label = ? WHERE id = ?', ['wrong', first.id]), /append-only/);
    await assert.rejects(() => store.db.run('DELETE FROM labels WHERE id = ?', [first.id]), /append-only/);
    await assert.rejects(() => store.addLabel({ trajectoryKey: key, label: 'bogus' as 'hack', author: 'x' }), /label must be one of/);
    await assert.rejects(() => store.addLabel({ trajectoryKey: key + 1, label: 'wrong', author: 'x', supersedes: first.id }), /another trajectory/);
    assert.equal((await store.stats()).labels, 3);
  });
});

test('text is deflated only when it pays, and reads back exactly', () => {
  const short = 'x'.repeat(500);
  assert.equal(packText(short).compressed, 0);
  const repetitive = 'so the answer is 42. '.repeat(200);
  const packed = packText(repetitive);
  assert.equal(packed.compressed, 1);
  assert.ok((packed.value as Buffer).length < Buffer.byteLength(repetitive) * 0.8);
  assert.equal(unpackText(packed.value, packed.compressed), repetitive);
  // Uniform random printable ASCII (6.55 bits of entropy per byte) cannot save 20%: stored plain.
  const rand = prng(7);
  let noise = '';
  for (let i = 0; i < 3000; i++) noise += String.fromCharCode(0x21 + Math.floor(rand() * 94));
  const p2 = packText(noise);
  assert.equal(p2.compressed, 0);
  assert.equal(unpackText(p2.value, p2.compressed), noise);
  const unicode = 'Ω≈ç√∫ 数学 🧮 '.repeat(300);
  assert.equal(unpackText(packText(unicode).value, packText(unicode).compressed), unicode);
});

test("a snippet is cut from as little of a stored text as decides it, and is the whole text's", () => {
  const r = prng(23);
  const words = ['the', 'answer', 'is', 'π', '≤', '数学', 'let', 'me', 'check', 'x²', 'wait', '—', 'café', '\n', 'Zquxmarker', 'xisomorphismofquasicoherentsheaves'];
  // A term longer than the window holding another ('is') near its start: the long one may start
  // in the prefix and end past it, and then the short one found inside it must not decide.
  const termSets = [['zquxmarker'], ['zquxmarker', 'check'], ['answer', 'wait'], [], ['nowhere'], ['xisomorphismofquasicoherentsheaves', 'is']];
  let decided = 0;
  for (let k = 0; k < 400; k++) {
    const n = 5 + Math.floor(r() * 300);
    const text = Array.from({ length: n }, () => words[Math.floor(r() * words.length)] as string).join(' ');
    // Cuts anywhere (every one, for some texts), the last characters spoiled as a UTF-8 sequence
    // cut short decodes.
    const cuts = k < 15 ? Array.from({ length: text.length + 1 }, (_, i) => i) : [Math.floor(r() * (text.length + 1))];
    for (const cut of cuts) {
      const prefix = text.slice(0, cut) + '\ufffd'.repeat(Math.floor(r() * 4));
      for (const terms of termSets) {
        const got = snippetFromPrefix(prefix, terms, 40);
        if (got === null) continue;
        decided++;
        assert.deepEqual(got, cutSnippet(text, terms, 40), `${terms.join(',')} cut at ${cut} of ${JSON.stringify(text)}`);
      }
    }
  }
  assert.ok(decided > 1000, `the prefix decided ${decided} snippets`);
  // Through the stored form, a long text with its term early and late.
  for (const at of [0.01, 0.5, 0.99]) {
    const parts = Array.from({ length: 30000 }, (_, i) => words[(i * 7) % 14] as string);
    parts.splice(Math.floor(parts.length * at), 0, 'Zquxmarker');
    const text = parts.join(' ');
    const packed = packText(text);
    assert.equal(packed.compressed, 1);
    assert.deepEqual(snippetOfStored(packed.value, packed.compressed, ['zquxmarker']), cutSnippet(text, ['zquxmarker']), `term at ${at}`);
  }
});

test('compressed texts are stored as blobs and still found by FTS', async () => {
  await withStore(async (store) => {
    const g = groupEvent('r1', 0, 0, { textBytes: 3000 });
    (g.trajectories[2] as { text: string }).text += ' zanzibarquux appears once';
    await write(store, [runStart('r1'), g]);
    const rows = await store.db.all<{ text_z: number; t: string }>('SELECT text_z, typeof(text) AS t FROM trajectories');
    assert.ok(rows.every((r) => r.text_z === 1 && r.t === 'blob'));
    const res = await store.search('zanzibarquux');
    assert.equal(res.hits.length, 1);
    assert.equal(res.hits[0]?.trajectoryId, 's0-g0-on2');
    const matched = res.hits[0]?.snippet.filter((p) => p.match).map((p) => p.text.toLowerCase());
    assert.deepEqual(matched, ['zanzibarquux']);
    assert.equal(res.fellBackToPhrase, false);
  });
});

test('search: FTS syntax errors fall back to a quoted phrase instead of throwing', async () => {
  await withStore(async (store) => {
    const g = groupEvent('r1', 0, 0, { textBytes: 300 });
    (g.trajectories[0] as { text: string }).text = 'the zorblax qwertyanswer is "42" (quuxboxed) AND more';
    await write(store, [runStart('r1'), g]);
    for (const q of ['"42', 'AND', '(quuxboxed', 'answer NEAR(', 'col:thing', '*', '"']) {
      const res = await store.search(q);
      assert.ok(Array.isArray(res.hits), `query ${q} returns a result`);
    }
    const fb = await store.search('(quuxboxed');
    assert.equal(fb.fellBackToPhrase, true);
    assert.equal(fb.query, '"(quuxboxed"');
    assert.equal(fb.hits.length, 1);
    assert.equal(fb.hits[0]?.trajectoryId, 's0-g0-on0');
    const ok = await store.search('zorblax qwertyanswer');
    assert.equal(ok.fellBackToPhrase, false);
    assert.equal(ok.hits[0]?.trajectoryId, 's0-g0-on0');
    assert.deepEqual((await store.search('   ')).hits, []);
  });
});

test('unknown fields at every level survive the store and come back in the event shape', async () => {
  await withStore(async (store) => {
    const g = groupEvent('r1', 3, 7) as GroupEvent & Record<string, unknown>;
    g.time = '2026-02-02T10:00:00Z';
    g.sampler = { temperature: 1, top_p: 0.95 };
    g.dataset_row = 1234;
    const t0 = g.trajectories[0] as Record<string, unknown>;
    t0.logprob_sum = -123.25;
    t0.judge = { name: 'llm', score: 0.5, tags: ['a', null] };
    t0.teacher = null; // present-but-null differs from absent
    const t1 = g.trajectories[1] as Record<string, unknown>;
    delete t1.tokens;
    delete t1.divergence;
    t1.advantage = null;
    (t1.token_entropies as Record<string, unknown>).unit = 'nats';
    const rs = runStart('r1') as RolloutEvent & Record<string, unknown>;
    rs.git_commit = 'abc123';
    await write(store, [rs, g]);
    const [summary] = await store.listGroups('r1', 3);
    const back = await store.groupEvent(summary?.groupId as number);
    assert.deepEqual(back, JSON.parse(JSON.stringify(g)));
    const run = await store.db.get<{ extra: string }>('SELECT extra FROM runs');
    assert.deepEqual(JSON.parse(run?.extra as string), { git_commit: 'abc123' });
  });
});

test('a replayed batch changes nothing; a reused trajectory id in another group is reported, not stored', async () => {
  await withStore(async (store) => {
    const events = [runStart('r1'), groupEvent('r1', 0, 0), groupEvent('r1', 0, 1), stepEvent('r1', 0)];
    const first = await write(store, events);
    assert.equal(first.groups, 2);
    const again = await write(store, events);
    assert.equal(again.groups, 0);
    assert.equal(again.duplicates, 3);
    assert.deepEqual(await store.stats(), { runs: 1, steps: 1, groups: 2, trajectories: 16, labels: 0, malformedLines: 0 });
    const clash = groupEvent('r1', 1, 5);
    (clash.trajectories[0] as { id: string }).id = 's0-g0-on0';
    const res = await write(store, [clash], 'other');
    assert.equal(res.groups, 0);
    assert.match(res.malformed[0]?.reason ?? '', /used twice/);
    assert.equal((await store.stats()).malformedLines, 1);
  });
});

test('read API: runs, steps, groups, group detail, series and points agree with the events', async () => {
  await withStore(async (store) => {
    const groups = [groupEvent('r1', 0, 0), groupEvent('r1', 0, 1), groupEvent('r1', 1, 0)];
    await write(store, [runStart('r1'), ...groups.slice(0, 2), stepEvent('r1', 0), groups[2] as GroupEvent, runEnd('r1', 1)]);
    const online = groups.flatMap((g) => g.trajectories.filter((t) => t.source === 'online'));
    const correct = online.filter((t) => t.verdict === 'correct');
    const [run] = await store.listRuns();
    assert.ok(run);
    assert.equal(run.status, 'completed');
    assert.equal(run.stepCount, 2);
    assert.equal(run.groupCount, 3);
    assert.equal(run.trajectoryCount, 24);
    assert.equal(run.lastStep, 1);
    assert.ok(Math.abs((run.accuracy as number) - correct.length / online.length) < 1e-12);
    const meanROger = correct.reduce((s, t) => s + (t.r_oger as number), 0) / correct.length;
    assert.ok(Math.abs((run.meanROger as number) - meanROger) < 1e-9);
    const steps = await store.listSteps('r1');
    assert.deepEqual(steps.map((s) => [s.step, s.groupCount]), [[0, 2], [1, 1]]);
    assert.equal(steps[0]?.metrics['critic/score/mean'], 0.4);
    assert.deepEqual(steps[1]?.metrics, {});
    const gs = await store.listGroups('r1', 0);
    assert.deepEqual(gs.map((g) => g.promptId), ['p0', 'p1']);
    assert.ok(gs[0]?.promptPreview.startsWith('Problem 0 of step 0'));
    const detail = await store.getGroup(gs[0]?.groupId as number);
    assert.equal(detail?.gold, '0');
    assert.deepEqual(detail?.reward, runStart('r1').reward);
    assert.deepEqual(detail?.trajectories.map((t) => t.event.id), groups[0]?.trajectories.map((t) => t.id));
    assert.deepEqual(detail?.trajectories[0]?.event.token_entropies, { offsets: [0, 5, 11, 20], values: [0.5, 1.25, 0.125, 2], stride: 1 });
    assert.equal(detail?.trajectories[0]?.activeVerdict?.verdict, groups[0]?.trajectories[0]?.verdict);
    assert.equal(detail?.trajectories[0]?.activeVerdict?.verifierId, 'a'.repeat(64));
    const series = await store.stepSeries('r1');
    assert.equal(series.length, 2);
    const on0 = groups.slice(0, 2).flatMap((g) => g.trajectories.filter((t) => t.source === 'online'));
    assert.ok(Math.abs((series[0]?.rOgerMax as number) - Math.max(...on0.map((t) => t.r_oger as number))) < 1e-12);
    assert.equal(series[0]?.meanResponseTokens, 1024);
    const off0 = groups.slice(0, 2).flatMap((g) => g.trajectories.filter((t) => t.source === 'offline' && t.inserted));
    assert.ok(Math.abs((series[0]?.meanOfflineAdvantage as number) - off0.reduce((s, t) => s + (t.advantage as number), 0) / off0.length) < 1e-12);
    const points = await store.stepPoints('r1', 0);
    assert.equal(points.length, on0.length);
    assert.deepEqual(points.map((p) => p.trajectoryId).sort(), on0.map((t) => t.id).sort());
    const lintTotal = (await store.listGroups('r1', 0)).reduce((n, g) => n + g.lintCount, 0) + (await store.listGroups('r1', 1)).reduce((n, g) => n + g.lintCount, 0);
    assert.equal(run.lintCount, lintTotal);
  });
});

test('lints are computed at ingest and stored per group and trajectory', async () => {
  await withStore(async (store) => {
    const g = groupEvent('r1', 0, 0);
    const t0 = g.trajectories[0] as { divergence: number; verdict: string; r_m: number };
    t0.divergence = 1.4;
    (g.trajectories[1] as { verdict: string; r_m: number }).verdict = 'error';
    await write(store, [runStart('r1'), g]);
    const [s] = await store.listGroups('r1', 0);
    const d = await store.getGroup(s?.groupId as number);
    const kinds = d?.lints.map((l) => l.kind) ?? [];
    assert.ok(kinds.includes('divergence-above-1'));
    assert.ok(kinds.includes('verifier-error'));
    assert.equal(s?.lintCount, d?.lints.length);
    assert.deepEqual(d?.trajectories[0]?.lints.map((l) => l.kind), ['divergence-above-1']);
    assert.deepEqual(d?.trajectories[1]?.lints.map((l) => l.kind), ['verifier-error']);
  });
});

test('verifier versions, batched verdicts and the active verifier per run', async () => {
  await withStore(async (store) => {
    await write(store, [runStart('r1'), groupEvent('r1', 0, 0)]);
    const v = await store.addVerifierVersion({ source: 'def verify(a, b): return a == b', name: 'strict', path: 'verifiers/strict.py' });
    assert.match(v.id, /^[0-9a-f]{64}$/);
    assert.equal((await store.addVerifierVersion({ source: 'def verify(a, b): return a == b', name: 'strict' })).id, v.id);
    assert.equal((await store.activeVerifier('r1'))?.id, 'a'.repeat(64));
    const [gs] = await store.listGroups('r1', 0);
    const d = await store.getGroup(gs?.groupId as number);
    const keys = d?.trajectories.map((t) => t.trajectoryKey) ?? [];
    const n = await store.writeVerdicts(v.id, keys.slice(0, 3).map((k) => ({ trajectoryKey: k, verdict: 'error', reason: 'timeout', extracted: null })));
    assert.equal(n, 3);
    await store.setActiveVerifier('r1', v.id);
    assert.equal((await store.activeVerifier('r1'))?.id, v.id);
    const d2 = await store.getGroup(gs?.groupId as number);
    assert.deepEqual(d2?.trajectories.slice(0, 3).map((t) => t.activeVerdict?.verdict), ['error', 'error', 'error']);
    assert.equal(d2?.trajectories[3]?.activeVerdict, null);
    assert.equal((await store.stepPoints('r1', 0))[0]?.verdict, 'error');
    assert.equal((await store.verdicts(v.id, 'r1')).length, 3);
    await assert.rejects(() => store.setActiveVerifier('r1', 'f'.repeat(64)), /unknown verifier/);
    await assert.rejects(() => store.writeVerdicts('f'.repeat(64), []), /unknown verifier/);
  });
});

test('embeddings cache: put then get by (fingerprint, text hash), Float32 exact', async () => {
  await withStore(async (store) => {
    const a = textHash('alpha');
    const b = textHash('beta');
    await store.putEmbeddings('bge@1', [{ textHash: a, vector: new Float32Array([0.1, -2, 3.5]) }]);
    const got = await store.getEmbeddings('bge@1', [a, b]);
    assert.deepEqual([...got.keys()], [a]);
    assert.deepEqual(Array.from(got.get(a) as Float32Array), Array.from(new Float32Array([0.1, -2, 3.5])));
    assert.equal((await store.getEmbeddings('other', [a])).size, 0);
  });
});

test('a batch that fails halfway rolls back whole: no rows, no offset, and the next batch still lands', async () => {
  await withStore(async (store) => {
    await store.db.exec(`CREATE TRIGGER boom BEFORE INSERT ON trajectories WHEN NEW.traj_id = 'boom'
      BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`);
    const bad = groupEvent('r1', 0, 1);
    (bad.trajectories[5] as { id: string }).id = 'boom';
    await assert.rejects(
      () => store.writeBatch({ file: 'f', events: [runStart('r1'), groupEvent('r1', 0, 0), bad].map((event, i) => ({ line: i + 1, byteOffset: i, event })), malformed: [], endOffset: 3, endLine: 3 }),
      /disk on fire/,
    );
    assert.deepEqual(await store.stats(), { runs: 0, steps: 0, groups: 0, trajectories: 0, labels: 0, malformedLines: 0 });
    assert.deepEqual(await store.ingestOffset('f'), { byteOffset: 0, line: 0 });
    assert.equal((await store.db.get<{ n: number }>('SELECT count(*) AS n FROM trajectory_fts'))?.n, 0);
    const ok = await write(store, [runStart('r1'), groupEvent('r1', 0, 0)], 'f');
    assert.equal(ok.groups, 1);
    assert.equal((await store.listRuns())[0]?.model, 'Qwen2.5-Math-1.5B');
  });
});

test('ingest records each run\'s reasoning format once, from its first groups with a marker; no marker in FORMAT_GROUPS groups is "none"', async () => {
  await withStore(async (store) => {
    const marked = (runId: string, step: number, g: number, wrap: (t: string) => string): GroupEvent => {
      const e = groupEvent(runId, step, g, { textBytes: 300 });
      for (const t of e.trajectories) t.text = wrap(t.text as string);
      return e;
    };
    const sky = (t: string) => `<|begin_of_thought|>\n${t}\n<|end_of_thought|>\n<|begin_of_solution|>\n\\boxed{1}\n<|end_of_solution|>`;
    const think = (t: string) => `${t}\n</think>\n\\boxed{1}`;
    const plain = (t: string) => t.replace(/<\/?think>|<\|[a-z_]+\|>/g, '');
    // the first group of run "a" has no marker (cut off early): nothing is decided yet
    await write(store, [runStart('a'), runStart('b'), runStart('c'), marked('a', 0, 0, plain), marked('b', 0, 0, think)]);
    assert.equal(await store.runReasoningFormat('a'), null);
    assert.equal(await store.runReasoningFormat('b'), 'think');
    await write(store, [marked('a', 1, 0, sky), marked('b', 1, 0, sky)]);
    assert.equal(await store.runReasoningFormat('a'), 'skythought');
    assert.equal(await store.runReasoningFormat('b'), 'think', 'recorded once: a later group does not change it');
    const plainGroups = Array.from({ length: FORMAT_GROUPS }, (_, g) => marked('c', 0, g, plain));
    await write(store, plainGroups.slice(0, FORMAT_GROUPS - 1));
    assert.equal(await store.runReasoningFormat('c'), null, 'not yet: the next group may carry a marker');
    await write(store, plainGroups.slice(FORMAT_GROUPS - 1));
    assert.equal(await store.runReasoningFormat('c'), 'none');
    assert.equal(await store.runReasoningFormat('missing'), null);
  });
});

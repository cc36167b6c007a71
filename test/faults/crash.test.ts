// Crashes: kill -9 of the ingest at 20 random moments while a trainer-like writer appends, kill -9
// of a trainer that writes its lines in pieces (torn last lines), kill -9 of a process writing
// labels. After every kill the store is checked against the file itself: the trajectories in the
// store are exactly those of the complete lines before the committed offset (zero lost, zero
// duplicated), integrity_check is ok, and the next ingest resumes from there.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { RunStore } from '../../src/node/store';
import { ingestFile } from '../../src/node/ingest/ingest';
import {
  countLines,
  bundleChild,
  groupEventOf,
  killAllChildren,
  killGroup,
  lineReader,
  rng,
  runStartEvent,
  sleep,
  spawnTracked,
  stepEventOf,
  tempDir,
  waitExit,
} from './helpers';

after(killAllChildren);

/** The store after a kill: exactly the file's complete lines before the committed offset, intact. */
async function checkStore(db: string, file: string, label: string): Promise<{ offset: number; trajectories: number }> {
  const store = await RunStore.open(db, { readonly: true });
  try {
    const integrity = await store.db.get<{ integrity_check: string }>('PRAGMA integrity_check');
    assert.equal(integrity?.integrity_check, 'ok', `${label}: integrity_check`);
    const off = await store.db.get<{ byte_offset: number }>('SELECT byte_offset FROM ingest_offsets WHERE file = ?', [path.resolve(file)]);
    const offset = off?.byte_offset ?? 0;
    if (offset > 0) assert.equal(readFileSync(file).subarray(offset - 1, offset)[0], 0x0a, `${label}: committed offset ${offset} is at a line end`);
    const expected = countLines(file, offset);
    const rows = await store.db.all<{ traj_id: string }>('SELECT traj_id FROM trajectories');
    const distinct = new Set(rows.map((r) => r.traj_id));
    assert.equal(distinct.size, rows.length, `${label}: duplicate trajectories`);
    assert.equal(rows.length, expected.trajectories, `${label}: store has ${rows.length} trajectories, the committed lines hold ${expected.trajectories}`);
    for (const id of expected.ids) assert.ok(distinct.has(id), `${label}: trajectory ${id} of a committed line is missing`);
    const groups = await store.db.get<{ n: number }>('SELECT count(*) AS n FROM groups');
    assert.equal(groups?.n, expected.groups, `${label}: groups`);
    return { offset, trajectories: rows.length };
  } finally {
    await store.close();
  }
}

test('kill -9 of the ingest at 20 random moments while a trainer appends: nothing lost, nothing duplicated, integrity ok, ingest resumes', async () => {
  const { dir, cleanup } = tempDir('crash-ingest');
  const r = rng(77);
  const db = path.join(dir, 'store.db');
  const file = path.join(dir, 'events.jsonl');
  appendFileSync(file, JSON.stringify(runStartEvent('r1')) + '\n');
  // The trainer-like writer: appends a step and three groups every ~15 ms, each line in two
  // write() calls, so the ingest also meets half-written last lines.
  let writing = true;
  let step = 0;
  const writer = (async () => {
    const fd = openSync(file, 'a');
    try {
      while (writing) {
        for (const ev of [stepEventOf('r1', step), groupEventOf('r1', step, 0), groupEventOf('r1', step, 1), groupEventOf('r1', step, 2)]) {
          const line = Buffer.from(JSON.stringify(ev) + '\n');
          const cut = 1 + Math.floor(r() * (line.length - 2));
          writeSync(fd, line.subarray(0, cut));
          await sleep(1);
          writeSync(fd, line.subarray(cut));
        }
        step++;
        await sleep(15);
      }
    } finally {
      closeSync(fd);
    }
  })();
  try {
    const script = await bundleChild('ingestLoop');
    const offsets: number[] = [];
    let killedMidPass = 0;
    for (let k = 0; k < 20; k++) {
      const child = spawnTracked(process.execPath, [script, db, file]);
      const out = lineReader(child);
      await out.waitFor(/^ready$/, 60_000);
      await sleep(20 + Math.floor(r() * 600));
      const passesBefore = out.lines.filter((l) => l.startsWith('pass')).length;
      killGroup(child, 'SIGKILL');
      const exit = await waitExit(child, 10_000);
      assert.equal(exit.signal, 'SIGKILL', `ingest ${k} was killed, not exited (${out.stderr().slice(-300)})`);
      if (out.lines.filter((l) => l.startsWith('pass')).length === passesBefore) killedMidPass++;
      const { offset } = await checkStore(db, file, `after kill ${k + 1}`);
      offsets.push(offset);
    }
    for (let i = 1; i < offsets.length; i++) assert.ok((offsets[i] as number) >= (offsets[i - 1] as number), 'the committed offset never goes back');
    assert.ok((offsets.at(-1) as number) > (offsets[0] as number), 'ingest resumed and made progress across kills');
    writing = false;
    await writer;
    // Resume to the end: every line the trainer wrote is now in the store, once.
    const store = await RunStore.open(db);
    try {
      const s = await ingestFile(store, file);
      assert.equal(s.pendingBytes, 0);
      assert.equal(s.malformed.length, 0, 'no line was damaged by the kills');
    } finally {
      await store.close();
    }
    const size = statSync(file).size;
    const final = await checkStore(db, file, 'after the final resume');
    assert.equal(final.offset, size, 'the whole file is consumed');
    assert.equal(final.trajectories, step * 3 * 8, 'every trajectory the trainer wrote is stored exactly once');
    console.log(`ingest kill -9 ×20: ${final.trajectories} trajectories, ${killedMidPass} kills landed inside an ingest pass, offsets ${offsets.join(',')}`);
  } finally {
    writing = false;
    await writer.catch(() => undefined);
    cleanup();
  }
});

test('kill -9 of a trainer that writes lines in pieces: complete lines all ingest, a torn last line waits, never crashes the ingest', async () => {
  const { dir, cleanup } = tempDir('crash-trainer');
  const r = rng(5);
  const db = path.join(dir, 'store.db');
  const file = path.join(dir, 'events.jsonl');
  appendFileSync(file, JSON.stringify(runStartEvent('r2')) + '\n');
  const store = await RunStore.open(db);
  try {
    const script = await bundleChild('tornWriter');
    let tornSeen = 0;
    let malformedSeen = 0;
    for (let k = 0; k < 20; k++) {
      const child = spawnTracked(process.execPath, [script, file, 'r2', String(k * 100_000)]);
      const out = lineReader(child);
      await out.waitFor(/^ready$/, 30_000);
      await sleep(5 + Math.floor(r() * 150));
      killGroup(child, 'SIGKILL');
      await waitExit(child, 10_000);
      const bytes = readFileSync(file);
      const tail = bytes.length - (bytes.lastIndexOf(0x0a) + 1);
      const s = await ingestFile(store, file);
      malformedSeen += s.malformed.length;
      assert.equal(s.pendingBytes, tail, `after trainer kill ${k + 1}: the torn tail (${tail} bytes) waits for its newline`);
      if (tail > 0) tornSeen++;
      const expected = countLines(file, s.endOffset);
      const stats = await store.stats();
      assert.equal(stats.trajectories, expected.trajectories, `after trainer kill ${k + 1}: every complete valid line is stored`);
      assert.equal(stats.malformedLines, expected.malformed, `after trainer kill ${k + 1}: every torn-and-joined line is reported`);
    }
    assert.ok(tornSeen > 0, 'at least one kill tore a line (otherwise this test proved nothing about torn lines)');
    const bad = await store.malformedLines();
    for (const m of bad) assert.ok(m.line > 1 && m.reason.length > 0, `malformed line reported with its number: ${m.line} ${m.reason}`);
    console.log(`trainer kill -9 ×20: ${tornSeen} torn tails waited on, ${malformedSeen} torn-and-joined lines reported by line number`);
    const integrity = await store.db.get<{ integrity_check: string }>('PRAGMA integrity_check');
    assert.equal(integrity?.integrity_check, 'ok');
  } finally {
    await store.close();
    cleanup();
  }
});

test('kill -9 of a process writing labels: every label whose write was acknowledged is in the store', async () => {
  const { dir, cleanup } = tempDir('crash-labels');
  const r = rng(9);
  const db = path.join(dir, 'store.db');
  const file = path.join(dir, 'events.jsonl');
  appendFileSync(file, [runStartEvent('r3'), stepEventOf('r3', 0), groupEventOf('r3', 0, 0), groupEventOf('r3', 0, 1)].map((e) => JSON.stringify(e)).join('\n') + '\n');
  {
    const store = await RunStore.open(db);
    await ingestFile(store, file);
    await store.close();
  }
  try {
    const script = await bundleChild('labelWriter');
    const acked = new Map<number, number>();
    for (let k = 0; k < 10; k++) {
      const child = spawnTracked(process.execPath, [script, db, `kill${k}`]);
      const out = lineReader(child);
      await out.waitFor(/^ready$/, 30_000);
      await sleep(30 + Math.floor(r() * 400));
      killGroup(child, 'SIGKILL');
      await waitExit(child, 10_000);
      for (const l of out.lines) {
        const m = /^ack (\d+) (\d+)$/.exec(l);
        if (m) acked.set(Number(m[1]), Number(m[2]));
      }
    }
    assert.ok(acked.size > 10, `labels were acknowledged before the kills (${acked.size})`);
    const store = await RunStore.open(db, { readonly: true });
    try {
      const rows = await store.db.all<{ id: number; trajectory_id: number }>('SELECT id, trajectory_id FROM labels');
      const have = new Map(rows.map((x) => [x.id, x.trajectory_id]));
      const lost = [...acked].filter(([id, key]) => have.get(id) !== key);
      assert.deepEqual(lost.slice(0, 10), [], `${lost.length} acknowledged labels lost`);
      const integrity = await store.db.get<{ integrity_check: string }>('PRAGMA integrity_check');
      assert.equal(integrity?.integrity_check, 'ok');
      console.log(`label writer kill -9 ×10: ${acked.size} acknowledged labels, all present (${rows.length} rows in the store)`);
    } finally {
      await store.close();
    }
  } finally {
    cleanup();
  }
});


// Resumable ingest of events.jsonl: round trip, replays, partial last lines, malformed input with
// exact line numbers, rewritten files, abort, and the live tailer's change notifications.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RunStore } from '../../src/node/store';
import { ingestFile, IngestTailer } from '../../src/node/ingest';
import type { StoreChange } from '../../src/node/store';
import { groupEvent, runEnd, runLines, runStart, stepEvent } from '../kit/events';

async function withDir<T>(fn: (dir: string, store: RunStore) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'rl-ingest-'));
  const store = await RunStore.open(join(dir, 'store.db'));
  try {
    return await fn(dir, store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const line = (o: unknown) => JSON.stringify(o) + '\n';

test('a run ingests whole; a second pass reads nothing; appended lines are picked up from the stored offset', async () => {
  await withDir(async (dir, store) => {
    const file = join(dir, 'events.jsonl');
    const lines = [...runLines('r1', 3, 4, { textBytes: 600 })];
    writeFileSync(file, lines.slice(0, 10).join('\n') + '\n');
    const first = await ingestFile(store, file);
    assert.equal(first.events, 10);
    assert.equal(first.malformed.length, 0);
    assert.equal(first.lines, 10);
    assert.equal(first.pendingBytes, 0);
    const again = await ingestFile(store, file);
    assert.equal(again.events, 0);
    assert.equal(again.bytes, 0);
    appendFileSync(file, lines.slice(10).join('\n') + '\n');
    const rest = await ingestFile(store, file);
    assert.equal(rest.events, lines.length - 10);
    assert.equal(rest.startOffset, first.endOffset);
    assert.deepEqual(await store.stats(), { runs: 1, steps: 3, groups: 12, trajectories: 96, labels: 0, malformedLines: 0 });
    const [run] = await store.listRuns();
    assert.equal(run?.status, 'completed');
    assert.deepEqual(rest.changes.map((c) => [c.runId, c.steps, c.runEnded]), [['r1', [1, 2], true]]);
  });
});

test('small batches commit progressively with the same result as one pass', async () => {
  await withDir(async (dir, store) => {
    const file = join(dir, 'events.jsonl');
    writeFileSync(file, [...runLines('r1', 2, 10, { textBytes: 300 })].join('\n') + '\n');
    const progress: number[] = [];
    const s = await ingestFile(store, file, { batchLines: 3, onProgress: (p) => progress.push(p.byteOffset) });
    assert.equal(s.groups, 20);
    assert.ok(progress.length >= 7, `progress reported per batch (${progress.length})`);
    assert.deepEqual([...progress].sort((a, b) => a - b), progress);
    assert.equal(progress.at(-1), s.endOffset);
  });
});

test('a partial last line waits for its newline, then ingests once', async () => {
  await withDir(async (dir, store) => {
    const file = join(dir, 'events.jsonl');
    const g = JSON.stringify(groupEvent('r1', 0, 0, { textBytes: 200 }));
    writeFileSync(file, line(runStart('r1')) + g.slice(0, 500));
    const a = await ingestFile(store, file);
    assert.equal(a.events, 1);
    assert.equal(a.pendingBytes, 500);
    assert.equal(a.malformed.length, 0);
    assert.equal((await store.stats()).groups, 0);
    appendFileSync(file, g.slice(500));
    const b = await ingestFile(store, file);
    assert.equal(b.events, 0, 'still no newline: still waiting');
    assert.equal(b.pendingBytes, Buffer.byteLength(g));
    appendFileSync(file, '\n');
    const c = await ingestFile(store, file);
    assert.equal(c.events, 1);
    assert.equal(c.groups, 1);
    assert.equal(c.pendingBytes, 0);
    assert.equal(c.lines, 2);
    assert.equal((await store.stats()).trajectories, 8);
  });
});

test('malformed input: every valid event lands, every bad line is reported with its line number and reason', async () => {
  await withDir(async (dir, store) => {
    const file = join(dir, 'events.jsonl');
    const good = (step: number, g: number) => line(groupEvent('r1', step, g, { textBytes: 200 }));
    const wrongType = groupEvent('r1', 0, 50, { textBytes: 100 }) as unknown as Record<string, unknown>;
    wrongType.step = 'zero';
    const badTraj = groupEvent('r1', 0, 51, { textBytes: 100 });
    (badTraj.trajectories[0] as unknown as Record<string, unknown>).r_m = 0.5;
    const longLine = Buffer.alloc(10 * 1024 * 1024, 0x61);
    const parts: (string | Buffer)[] = [
      line(runStart('r1')), //                                   1
      good(0, 0), //                                             2
      '{"v":1,"type":"group","run_id":"r1","step":0,"pro\n', //  3 truncated JSON
      line(wrongType), //                                        4 wrong type
      '{"v":1,"type":"step","run_id":"r1","step":0,"metrics":{"loss":NaN}}\n', // 5 NaN token
      '{"v":1,"type":"step","run_id":"r1","step":0,"metrics":{"loss":Infinity}}\n', // 6 Infinity token
      '{"v":1,"type":"step","run_id":"r1","step":0,"metrics":{"loss":1e999}}\n', // 7 overflows to Infinity
      line({ ...stepEvent('r1', 0), v: 2 }), //                  8 unknown version
      Buffer.concat([Buffer.from('{"v":1,"type":"step","run_id":"r'), Buffer.from([0xff, 0xfe]), Buffer.from('1","step":0,"metrics":{}}\n')]), // 9 invalid UTF-8
      good(0, 1), //                                             10
      Buffer.concat([longLine, Buffer.from('\n')]), //           11 a 10 MB line
      '\n', //                                                   12 empty line
      line(badTraj), //                                          13 schema failure inside a trajectory
      '[1,2,3]\n', //                                            14 not an object
      '{"type":"step"}\n', //                                    15 no version
      line(stepEvent('r1', 0)), //                               16
      good(1, 0), //                                             17
      line(runEnd('r1', 1)), //                                  18
    ];
    writeFileSync(file, Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p))));
    const s = await ingestFile(store, file);
    const expected: [number, RegExp][] = [
      [3, /invalid JSON/],
      [4, /\/step must be integer/],
      [5, /invalid JSON/],
      [6, /invalid JSON/],
      [7, /\/metrics\/loss is not a finite number/],
      [8, /unsupported protocol version 2/],
      [9, /invalid UTF-8 at byte 32 of the line/],
      [11, /line longer than/],
      [12, /empty line/],
      [13, /\/trajectories\/0\/r_m must be equal to one of the allowed values/],
      [14, /not a JSON object/],
      [15, /unsupported protocol version undefined/],
    ];
    assert.deepEqual(s.malformed.map((m) => m.line), expected.map((e) => e[0]));
    for (const [i, [n, re]] of expected.entries()) assert.match(s.malformed[i]?.reason ?? '', re, `line ${n}`);
    assert.equal(s.events, 6);
    assert.equal(s.lines, 18);
    const stored = await store.malformedLines(s.file);
    assert.deepEqual(stored.map((m) => m.line), expected.map((e) => e[0]));
    const offsets = parts.reduce<number[]>((acc, p, i) => [...acc, (acc[i] ?? 0) + (typeof p === 'string' ? Buffer.byteLength(p) : p.length)], [0]);
    assert.deepEqual(stored.map((m) => m.byteOffset), expected.map(([n]) => offsets[n - 1]));
    assert.ok(stored.every((m) => m.excerpt.length <= 201));
    assert.deepEqual(await store.stats(), { runs: 1, steps: 2, groups: 3, trajectories: 24, labels: 0, malformedLines: 12 });
    assert.equal((await store.listRuns())[0]?.status, 'completed');
    // Replaying the file records nothing twice.
    await store.db.run('DELETE FROM ingest_offsets');
    const replay = await ingestFile(store, file);
    assert.equal(replay.groups, 0);
    assert.deepEqual(await store.stats(), { runs: 1, steps: 2, groups: 3, trajectories: 24, labels: 0, malformedLines: 12 });
  });
});

test('a file rewritten shorter than the stored offset is read again from the start, without duplicates', async () => {
  await withDir(async (dir, store) => {
    const file = join(dir, 'events.jsonl');
    const lines = [...runLines('r1', 2, 3, { textBytes: 300 })];
    writeFileSync(file, lines.join('\n') + '\n');
    await ingestFile(store, file);
    appendFileSync(file, 'garbage\n');
    assert.equal((await ingestFile(store, file)).malformed.length, 1);
    writeFileSync(file, [line(runStart('r2')), line(groupEvent('r2', 0, 0, { textBytes: 100 }))].join(''));
    const s = await ingestFile(store, file);
    assert.equal(s.restarted, true);
    assert.equal(s.groups, 1);
    assert.equal((await store.stats()).runs, 2);
    assert.deepEqual(await store.malformedLines(), [], 'malformed lines of the old content are forgotten');
  });
});

test('an aborted ingest stops between batches and a later pass finishes the file', async () => {
  await withDir(async (dir, store) => {
    const file = join(dir, 'events.jsonl');
    writeFileSync(file, [...runLines('r1', 4, 25, { textBytes: 2000 })].join('\n') + '\n');
    const ac = new AbortController();
    const s = await ingestFile(store, file, { signal: ac.signal, batchLines: 5, onProgress: () => ac.abort() });
    assert.ok(s.groups < 100);
    const rest = await ingestFile(store, file);
    assert.equal(s.groups + rest.groups, 100);
    assert.equal((await store.stats()).groups, 100);
  });
});

test('the tailer reports what changed (run, steps) as lines are appended', async () => {
  await withDir(async (dir, store) => {
    const file = join(dir, 'events.jsonl');
    const tailer = new IngestTailer(store, file, { pollMs: 100, debounceMs: 10 });
    const seen: StoreChange[] = [];
    const errors: Error[] = [];
    tailer.on('change', (c) => seen.push(...c));
    tailer.on('error', (e) => errors.push(e));
    const waitFor = async (pred: () => boolean) => {
      // Generous: a loaded CI machine can starve the poll timer for seconds.
      for (let i = 0; i < 400 && !pred(); i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(pred(), 'condition reached in time');
    };
    tailer.start();
    try {
      writeFileSync(file, line(runStart('live')) + line(groupEvent('live', 0, 0, { textBytes: 100 })));
      await waitFor(() => seen.some((c) => c.steps.includes(0) && c.groups > 0));
      assert.ok(seen.some((c) => c.runStarted));
      appendFileSync(file, line(groupEvent('live', 1, 0, { textBytes: 100 })) + line(stepEvent('live', 1)));
      await waitFor(() => seen.some((c) => c.steps.includes(1)));
      appendFileSync(file, line(runEnd('live', 1)));
      await waitFor(() => seen.some((c) => c.runEnded));
    } finally {
      await tailer.stop();
    }
    assert.deepEqual(errors, []);
    assert.ok(seen.every((c) => c.runId === 'live'));
    assert.equal((await store.stats()).groups, 2);
  });
});

test('every example event in docs/protocol.md is valid protocol v1 and ingests', async () => {
  const doc = readFileSync(resolve(__dirname, '..', '..', 'docs', 'protocol.md'), 'utf8');
  const blocks = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  assert.equal(blocks.length, 4);
  await withDir(async (dir, store) => {
    const file = join(dir, 'events.jsonl');
    // A block may be shown across lines for reading; in the file each event is one line.
    writeFileSync(file, blocks.map((b) => JSON.stringify(JSON.parse(b)) + '\n').join(''));
    const s = await ingestFile(store, file);
    assert.deepEqual(s.malformed, []);
    assert.equal(s.events, 4);
    const types = blocks.map((b) => (JSON.parse(b) as { type: string }).type);
    assert.deepEqual(types, ['run_start', 'step', 'group', 'run_end']);
    const run = (await store.listRuns())[0];
    assert.match(run?.verifier.id ?? '', /^[0-9a-f]{64}$/);
    assert.equal(run?.status, 'failed');
    const [g] = await store.listGroups(run?.runId as string, 12);
    const back = await store.groupEvent(g?.groupId as number);
    const original = JSON.parse(blocks[2] as string);
    // token entropies come back at Float32 precision; everything else exactly
    original.trajectories[0].token_entropies.values = Array.from(new Float32Array(original.trajectories[0].token_entropies.values));
    assert.deepEqual(back, original);
  });
});

test('a read-only reader on the same file never fails while ingest writes, and sees counts only grow', async () => {
  await withDir(async (dir, store) => {
    const file = join(dir, 'events.jsonl');
    writeFileSync(file, [...runLines('r1', 6, 40, { textBytes: 1500 })].join('\n') + '\n');
    const reader = await RunStore.open(join(dir, 'store.db'), { readonly: true });
    const seen: number[] = [];
    const errors: unknown[] = [];
    let done = false;
    const readLoop = (async () => {
      while (!done) {
        try {
          const s = await reader.stats();
          await reader.listRuns();
          seen.push(s.trajectories);
        } catch (e) {
          errors.push(e);
        }
      }
    })();
    try {
      await ingestFile(store, file, { batchLines: 10 });
    } finally {
      done = true;
      await readLoop;
      await reader.close();
    }
    assert.deepEqual(errors, []);
    assert.ok(seen.length > 5, `reader ran during ingest (${seen.length} reads)`);
    assert.deepEqual([...seen].sort((a, b) => a - b), seen);
    assert.ok(seen.every((n) => n % 8 === 0), 'a reader never sees half a group');
  });
});

test('two stores ingesting the same file at once store every event once and end at the file end', async () => {
  await withDir(async (dir, store) => {
    const file = join(dir, 'events.jsonl');
    writeFileSync(file, [...runLines('r1', 4, 30, { textBytes: 800 })].join('\n') + '\n');
    const other = await RunStore.open(join(dir, 'store.db'));
    try {
      const [a, b] = await Promise.all([ingestFile(store, file, { batchLines: 7 }), ingestFile(other, file, { batchLines: 11 })]);
      assert.equal(a.groups + b.groups, 120);
      assert.equal(a.groups + a.duplicates + b.groups + b.duplicates >= 120, true);
    } finally {
      await other.close();
    }
    assert.deepEqual(await store.stats(), { runs: 1, steps: 4, groups: 120, trajectories: 960, labels: 0, malformedLines: 0 });
    const { size } = statSync(file);
    assert.equal((await store.ingestOffset(file)).byteOffset, size);
  });
});

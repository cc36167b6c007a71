// Concurrency: the UI reads (group open through the store API, read-only, in this process) while an
// ingest child writes at full speed into the same store. No SQLITE_BUSY (or any error) may reach
// the caller, and the read p95 under load must stay within 2× of the idle p95 measured first, in
// the same run, on the same groups.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { RunStore } from '../../src/node/store';
import { ingestFile } from '../../src/node/ingest/ingest';
import { bundleChild, groupEventOf, killAllChildren, killGroup, lineReader, rng, runStartEvent, spawnTracked, stepEventOf, tempDir, waitExit } from './helpers';

after(killAllChildren);

function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)] as number;
}

async function readGroups(store: RunStore, ids: readonly number[], errors: string[]): Promise<number[]> {
  const ms: number[] = [];
  for (const id of ids) {
    const t0 = performance.now();
    try {
      const g = await store.getGroup(id);
      if (!g || g.trajectories.length !== 8) errors.push(`group ${id}: ${g ? `${g.trajectories.length} members` : 'missing'}`);
    } catch (e) {
      errors.push(`group ${id}: ${(e as Error).message}`);
    }
    ms.push(performance.now() - t0);
  }
  return ms;
}

test('UI reads while ingest writes at full speed: no SQLITE_BUSY reaches the caller, read p95 within 2× of idle (idle + 2 ms floor)', async () => {
  const { dir, cleanup } = tempDir('concurrency');
  const r = rng(31);
  const db = path.join(dir, 'store.db');
  try {
    // A store the UI has open: 1,500 groups already there.
    const base = path.join(dir, 'base.jsonl');
    const baseLines = [JSON.stringify(runStartEvent('r-ui'))];
    for (let s = 0; s < 500; s++) {
      baseLines.push(JSON.stringify(stepEventOf('r-ui', s)));
      for (let p = 0; p < 3; p++) baseLines.push(JSON.stringify(groupEventOf('r-ui', s, p, 1500)));
    }
    writeFileSync(base, baseLines.join('\n') + '\n');
    {
      const w = await RunStore.open(db);
      await ingestFile(w, base);
      await w.close();
    }
    // What the ingest child will write: another run, large enough to outlast the reads.
    const live = path.join(dir, 'live.jsonl');
    const liveLines = [JSON.stringify(runStartEvent('r-live'))];
    for (let s = 0; s < 2500; s++) {
      liveLines.push(JSON.stringify(stepEventOf('r-live', s)));
      for (let p = 0; p < 4; p++) liveLines.push(JSON.stringify(groupEventOf('r-live', s, p, 1500)));
    }
    writeFileSync(live, liveLines.join('\n') + '\n');

    const ui = await RunStore.open(db, { readonly: true });
    try {
      const groupIds = (await ui.db.all<{ id: number }>('SELECT id FROM groups')).map((g) => g.id);
      const sample = Array.from({ length: 300 }, () => groupIds[Math.floor(r() * groupIds.length)] as number);
      // Warm the page cache, the statement cache and the JIT with a full untimed pass, so idle and
      // busy are both steady-state; then idle is three passes over the same groups.
      await readGroups(ui, sample, []);
      const errors: string[] = [];
      const idle: number[] = [];
      for (let pass = 0; pass < 3; pass++) idle.push(...(await readGroups(ui, sample, errors)));

      const script = await bundleChild('ingestLoop');
      const child = spawnTracked(process.execPath, [script, db, live, '0']);
      const out = lineReader(child);
      await out.waitFor(/^ready$/, 30_000);
      await out.waitFor(/^progress /, 30_000); // writing has begun
      const progressBefore = out.lines.filter((l) => l.startsWith('progress')).length;
      // Read for as long as it takes the ingest to commit several full-size batches (each is one
      // transaction of up to 2,000 lines), so the reads overlap writes, commits and checkpoints.
      const busy: number[] = [];
      const t0 = performance.now();
      while (performance.now() - t0 < 60_000) {
        busy.push(...(await readGroups(ui, sample, errors)));
        const commits = out.lines.filter((l) => l.startsWith('progress')).length - progressBefore;
        if (commits >= 4 && busy.length >= sample.length) break;
      }
      const progressDuring = out.lines.filter((l) => l.startsWith('progress')).length - progressBefore;
      const stillWriting = !out.lines.some((l) => l.startsWith('pass '));
      killGroup(child, 'SIGKILL');
      await waitExit(child, 10_000);

      assert.deepEqual(errors.slice(0, 10), [], `${errors.length} reads failed (SQLITE_BUSY must never reach the UI)`);
      assert.ok(progressDuring >= 4, `the ingest committed ${progressDuring} batches while the UI read (it must be writing throughout)`);
      assert.ok(stillWriting, 'the ingest was still writing when the reads ended');
      const idleP95 = p95(idle);
      const busyP95 = p95(busy);
      console.log(`group open p95: idle ${idleP95.toFixed(2)} ms, under full-speed ingest ${busyP95.toFixed(2)} ms (${(busyP95 / idleP95).toFixed(2)}×); ${progressDuring} ingest commits during ${busy.length} reads`);
      // 2× of an idle p95 near 1 ms is below the scheduler's granularity on 2 cores: one preemption
      // of the reader by the writer (a CFS slice is ~3 ms) already doubles it. So the bound is 2× idle
      // or idle + 2 ms, whichever is larger; a reader that waits on the writer's transactions (tens
      // of ms per full-size batch) still fails it.
      const bound = Math.max(2 * idleP95, idleP95 + 2);
      assert.ok(busyP95 <= bound, `read p95 under ingest ${busyP95.toFixed(2)} ms > max(2 × idle, idle + 2 ms) = ${bound.toFixed(2)} ms`);
    } finally {
      await ui.close();
    }
  } finally {
    cleanup();
  }
});

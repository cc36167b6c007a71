// "Watch Run Directory…", node side: which file a picked path means, and what a real tailer's
// passes over a folder written by another process add up to (waiting → following → ended).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStore } from '../../src/node/store';
import { IngestTailer } from '../../src/node/ingest';
import { describeRunWatch, RunDirectoryWatch, resolveRunDirectory, type RunWatchState } from '../../src/node/ingest/runDirectory';
import { groupEvent, runEnd, runStart, stepEvent } from '../kit/events';

const line = (e: unknown) => `${JSON.stringify(e)}\n`;

async function withDir<T>(fn: (dir: string, store: RunStore) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'rl-watch-'));
  const store = await RunStore.open(join(dir, 'store.db'));
  try {
    return await fn(dir, store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a picked folder means its events.jsonl; an events file means itself; anything else is an error that says what to pick', async () => {
  await withDir(async (dir) => {
    const run = join(dir, 'oger-verl');
    mkdirSync(run);
    assert.deepEqual(await resolveRunDirectory(run), { dir: run, eventsFile: join(run, 'events.jsonl') });
    writeFileSync(join(run, 'events.jsonl'), '');
    assert.deepEqual(await resolveRunDirectory(join(run, 'events.jsonl')), { dir: run, eventsFile: join(run, 'events.jsonl') });
    await assert.rejects(resolveRunDirectory(join(dir, 'nope')), /does not exist\. Pick the run folder .*\+reward_lens\.run_dir/);
    writeFileSync(join(dir, 'notes.txt'), 'x');
    await assert.rejects(resolveRunDirectory(join(dir, 'notes.txt')), /not a run folder or an events \.jsonl file/);
  });
});

test('watching waits for events.jsonl, follows a run written by another process, counts malformed lines, and ends at run_end', async () => {
  await withDir(async (dir, store) => {
    const run = join(dir, 'oger-verl');
    mkdirSync(run);
    const { eventsFile } = await resolveRunDirectory(run);
    const tailer = new IngestTailer(store, eventsFile, { pollMs: 100, debounceMs: 10 });
    const watch = new RunDirectoryWatch(tailer, eventsFile);
    const updates: RunWatchState[] = [];
    watch.on('update', (s) => updates.push(s));
    const waitFor = async (pred: () => boolean) => {
      // Generous: a loaded CI machine can starve the poll timer for seconds.
      for (let i = 0; i < 400 && !pred(); i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(pred(), 'condition reached in time');
    };
    tailer.start();
    try {
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(watch.state.phase, 'waiting', 'no file yet: still waiting, no error');
      assert.match(describeRunWatch(watch.state), /^waiting for events\.jsonl/);
      writeFileSync(eventsFile, line(runStart('verl-oger')) + line(groupEvent('verl-oger', 1, 0, { textBytes: 80 })) + '{"v": 1, "type": "gro\n');
      await waitFor(() => watch.state.groups === 1);
      assert.equal(watch.state.phase, 'following');
      assert.deepEqual(watch.state.malformed.map((m) => m.line), [3]);
      appendFileSync(eventsFile, line(groupEvent('verl-oger', 2, 0, { textBytes: 80 })) + line(stepEvent('verl-oger', 2)));
      await waitFor(() => watch.state.lastStep === 2);
      assert.match(describeRunWatch(watch.state), /^run verl-oger at step 2: 2 groups, \d+ trajectories, 1 malformed line skipped$/);
      appendFileSync(eventsFile, line(runEnd('verl-oger', 2)));
      const final = await watch.done;
      assert.equal(final.phase, 'ended');
      assert.deepEqual(final.runs, ['verl-oger']);
      assert.deepEqual(final.ended, ['verl-oger']);
      assert.match(describeRunWatch(final), /^run verl-oger ended at step 2/);
    } finally {
      watch.dispose();
      await tailer.stop();
    }
    assert.ok(updates.some((u) => u.phase === 'following') && updates[updates.length - 1]?.phase === 'ended');
    const [summary] = await store.listRuns();
    assert.equal(summary?.status, 'completed');
    assert.equal(summary?.groupCount, 2);
  });
});

test('disposing a watch before the run ends settles it with the state so far, and it stops listening', async () => {
  await withDir(async (dir, store) => {
    const eventsFile = join(dir, 'events.jsonl');
    writeFileSync(eventsFile, line(runStart('r')));
    const tailer = new IngestTailer(store, eventsFile, { pollMs: 100, debounceMs: 10 });
    const watch = new RunDirectoryWatch(tailer, eventsFile);
    tailer.start();
    try {
      for (let i = 0; i < 400 && watch.state.runs.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      watch.dispose();
      const s = await watch.done;
      assert.equal(s.phase, 'following');
      assert.equal(tailer.listenerCount('change'), 0);
      assert.match(describeRunWatch(s), /^run r at no step yet/);
    } finally {
      await tailer.stop();
    }
  });
});

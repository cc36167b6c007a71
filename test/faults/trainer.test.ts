// kill -9 of the real trainer: `python -m reward_lens.train` on the demo task's tiny config, killed
// at random moments after it has written group events, three times. Its complete lines all ingest,
// a torn last line waits for its newline, and the run that died without run_end is closed as
// failed the protocol's way. (Its own file: each start imports torch, which is slow on 2 cores.)
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RunStore } from '../../src/node/store';
import { ingestFile } from '../../src/node/ingest/ingest';
import { closeRunIfOpen } from '../../src/node/supervisor';
import { REPO_ROOT, countLines, killAllChildren, killGroup, lineReader, rng, sleep, spawnTracked, tempDir, waitExit } from './helpers';

after(killAllChildren);

const PYTHON = process.env.REWARD_LENS_PYTHON && existsSync(process.env.REWARD_LENS_PYTHON) ? process.env.REWARD_LENS_PYTHON : path.join(REPO_ROOT, '.venv', 'bin', 'python');

test('kill -9 of the real trainer (reward_lens.train, tiny config) at random moments: its complete lines all ingest, a torn tail waits, the run can be closed as failed', { timeout: 600_000 }, async () => {
  assert.ok(existsSync(PYTHON), `no Python backend at ${PYTHON}: run scripts/setup.sh`);
  const { dir, cleanup } = tempDir('crash-real-trainer');
  const r = rng(13);
  try {
    const demo = spawnSync(PYTHON, ['-m', 'reward_lens.demo_task', '--out', 'demo', '--sft-steps', '0'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    assert.equal(demo.status, 0, `reward_lens.demo_task failed: ${demo.stderr.slice(-500)}`);
    const config = JSON.parse(readFileSync(path.join(dir, 'demo', 'config.json'), 'utf8')) as Record<string, unknown>;
    Object.assign(config, { steps: 10_000, sft_steps: 0, batch_prompts: 2, rollout_n: 4, eval_data: null, eval_every: 0, verifier_workers: 1, checkpoint_every: 0 });
    writeFileSync(path.join(dir, 'tiny.json'), JSON.stringify(config));
    const store = await RunStore.open(path.join(dir, 'store.db'));
    try {
      let totalTrajectories = 0;
      for (let k = 0; k < 3; k++) {
        const runDir = path.join(dir, `run${k}`);
        const events = path.join(runDir, 'events.jsonl');
        const child = spawnTracked(PYTHON, ['-u', '-m', 'reward_lens.train', '--config', 'tiny.json', '--run-dir', runDir], { cwd: dir });
        const out = lineReader(child);
        // Kill at a random moment after the first group event: mid-step, mid-write or between steps.
        const t0 = Date.now();
        while (!(existsSync(events) && readFileSync(events, 'utf8').includes('"type":"group"'))) {
          if (child.exitCode !== null) assert.fail(`the trainer exited early (${child.exitCode}): ${out.stderr().slice(-800)}`);
          if (Date.now() - t0 > 240_000) assert.fail(`no group event within 240 s: ${out.stderr().slice(-800)}`);
          await sleep(100);
        }
        await sleep(Math.floor(r() * 3000));
        killGroup(child, 'SIGKILL');
        const exit = await waitExit(child, 10_000);
        assert.equal(exit.signal, 'SIGKILL');
        const bytes = readFileSync(events);
        const tail = bytes.length - (bytes.lastIndexOf(0x0a) + 1);
        let s: Awaited<ReturnType<typeof ingestFile>> | undefined;
        await assert.doesNotReject(async () => {
          s = await ingestFile(store, events);
        }, 'the ingest must not crash on a killed trainer\'s file');
        const summary = s as Awaited<ReturnType<typeof ingestFile>>;
        assert.equal(summary.pendingBytes, tail, 'a torn last line waits for its newline');
        const expected = countLines(events, summary.endOffset);
        assert.equal(summary.malformed.length, expected.malformed, 'every damaged complete line is reported');
        totalTrajectories += expected.trajectories;
        assert.equal((await store.stats()).trajectories, totalTrajectories, `after trainer kill ${k + 1}: every trajectory of its complete lines is stored`);
        // The run died without run_end: close it as the extension does, and the store says failed.
        const closed = await closeRunIfOpen(events, 'failed', 'killed by the fault suite (SIGKILL)');
        assert.ok(closed, 'run_end appended');
        await ingestFile(store, events);
        const run = await store.getRun(closed?.runId as string);
        assert.equal(run?.status, 'failed');
        console.log(`real trainer kill ${k + 1}: ${expected.trajectories} trajectories in ${expected.groups} groups ingested, torn tail ${tail} B, ${summary.malformed.length} malformed`);
      }
      const integrity = await store.db.get<{ integrity_check: string }>('PRAGMA integrity_check');
      assert.equal(integrity?.integrity_check, 'ok');
    } finally {
      await store.close();
    }
  } finally {
    cleanup();
  }
});

// Acceptance: 10,000 groups of 8 trajectories (~4 KB of text each, ~360 MB of JSONL) ingested by a
// child process that is SIGKILLed at random moments five times, then resumed: no loss, no
// duplicates, PRAGMA integrity_check ok. RL_CRASH_GROUPS scales it down for a quick local look.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crashDrill } from '../fixtures/crash';

const groups = Number(process.env.RL_CRASH_GROUPS ?? 10000);

test(`ingest survives kill -9 at random moments: ${groups} groups of 8, resumed to exactly-once`, { timeout: 15 * 60 * 1000 }, async () => {
  const groupsPerStep = Math.min(100, groups);
  // About 50 commits per run whatever its size, so five kills always find an ingest to interrupt.
  const batchLines = Math.max(5, Math.min(200, Math.floor(groups / 50)));
  const r = await crashDrill({ steps: Math.ceil(groups / groupsPerStep), groupsPerStep, kills: 5, batchLines, seed: 2026 });
  assert.equal(r.kills, 5);
  const mid = r.offsetsAfterKills.filter((o) => o > 0 && o < r.fileBytes);
  assert.ok(mid.length >= 3, `kills landed mid-file: ${r.offsetsAfterKills.join(', ')} of ${r.fileBytes}`);
  process.stdout.write(`# crash drill: ${r.trajectories} trajectories, ${(r.fileBytes / 1e6).toFixed(0)} MB, ${r.kills} kills at offsets ${r.offsetsAfterKills.join(',')}; generate ${r.generateSeconds.toFixed(1)} s, total ${r.totalSeconds.toFixed(1)} s\n`);
});

test('crash drill (small): kill -9 at random moments, resume, nothing lost or duplicated, integrity ok', async () => {
  const r = await crashDrill({ steps: 4, groupsPerStep: 50, kills: 3, batchLines: 20, seed: 7, textBytes: 1500 });
  assert.equal(r.kills, 3);
  assert.ok(r.offsetsAfterKills.some((o) => o > 0 && o < r.fileBytes), `a kill landed mid-file: ${r.offsetsAfterKills.join(', ')} of ${r.fileBytes}`);
});

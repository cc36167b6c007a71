// Divergence audit and encoder what-if over a stored run whose D was logged with a real encoder.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStore, textHash } from '../../src/node/store';
import { TextEncoderOnnx } from '../../src/node/encoder/engine';
import { auditRun, auditScope, quantiles, AuditError } from '../../src/node/audit/audit';
import { formatAudit } from '../../src/node/cli/audit';
import { divergences } from '../../src/core/reward';
import { rescoreGroup, splitMembers, whatIfGroup } from '../../src/core/rescore';
import type { GroupEvent, RewardSettings, RolloutEvent, RunStartEvent, TrajectoryEvent } from '../../src/core/protocol';
import { REPO_ROOT, tinyEncoderFolder } from '../parity/fixtures';

const SETTINGS: RewardSettings = { variant: 'oger', replace: 1, advantage: { std: 'sample', eps: 1e-6 } };
const TAMPERED = 'g1-on2';
let folder = '';
let dir = '';
let dbPath = '';

function textFor(g: number, i: number, kind: string): string {
  // Lengths from a few tokens to several 32-token windows, so truncate and chunk-mean disagree.
  const reps = 1 + ((g * 7 + i * 3) % 6) * 3;
  return `${kind} ${g}.${i}: let x = ${g + i}; then ${i} * 17 = ${i * 17}. ` + `wait, check ${g * i} again. `.repeat(reps);
}

async function embedAll(enc: TextEncoderOnnx, texts: string[]): Promise<Float32Array[]> {
  const out = await enc.embed(texts);
  return texts.map((_, i) => out.vectors.slice(i * out.dim, (i + 1) * out.dim));
}

/** A group as a trainer would log it: D from the encoder, rewards and advantages from the core. */
async function loggedGroup(enc: TextEncoderOnnx, runId: string, g: number): Promise<GroupEvent> {
  const trajectories: TrajectoryEvent[] = [];
  for (let i = 0; i < 6; i++) {
    const correct = (g + i) % 3 !== 0;
    trajectories.push({
      id: `g${g}-on${i}`, source: 'online', index: i, text: textFor(g, i, 'online'), r_m: correct ? 1 : 0,
      verdict: correct ? 'correct' : 'wrong', entropy_last: 0.1 * ((i + g) % 5), replaced: false,
    });
  }
  for (let j = 0; j < 3; j++) {
    trajectories.push({ id: `g${g}-off${j}`, source: 'offline', index: j, teacher: 'T', text: textFor(g, j, 'teacher'), r_m: 1, verdict: 'correct', replaced: false, inserted: j === 0 });
  }
  const { online, offline } = splitMembers(trajectories);
  const ds = divergences(await embedAll(enc, online.map((t) => t.text)), await embedAll(enc, offline.map((t) => t.text)));
  online.forEach((t, i) => (t.divergence = (ds[i] as number) + (t.id === TAMPERED ? 0.05 : 0)));
  for (const s of rescoreGroup(trajectories, SETTINGS)) {
    const t = trajectories.find((x) => x.id === s.id) as TrajectoryEvent;
    t.replaced = s.replaced;
    if (s.source === 'online') t.r_oger = s.rOger;
    t.r_total = s.rTotal;
    t.advantage = s.advantage;
  }
  return { v: 1, type: 'group', run_id: runId, step: g < 2 ? 0 : 1, prompt_id: `p${g}`, prompt: `problem ${g}`, gold: '1', trajectories };
}

async function writeRun(store: RunStore, events: RolloutEvent[], file: string) {
  await store.writeBatch({ file, events: events.map((event, i) => ({ line: i + 1, byteOffset: i, event })), malformed: [], endOffset: events.length, endLine: events.length });
}

before(async () => {
  folder = tinyEncoderFolder({ maxLength: 32, pooling: 'cls', strategy: 'truncate' });
  dir = mkdtempSync(join(tmpdir(), 'rl-audit-'));
  dbPath = join(dir, 'store.db');
  const cfg = JSON.parse(readFileSync(join(folder, 'reward_lens_encoder.json'), 'utf8')) as { source_fingerprint: string };
  const enc = await TextEncoderOnnx.load(folder, { strategy: 'truncate' });
  const start: RunStartEvent = {
    v: 1, type: 'run_start', run_id: 'r1', variant: 'oger', config: {}, model: 'm', reward: SETTINGS,
    // What a PyTorch trainer logs: the fingerprint of the original weights under its settings.
    encoder: { id: 'tiny-bert', strategy: 'truncate', pooling: 'cls', max_length: 32, fingerprint: cfg.source_fingerprint },
    verifier: { id: 'v', name: 'math-verify' },
  };
  const groups = await Promise.all([0, 1, 2, 3].map((g) => loggedGroup(enc, 'r1', g)));
  const grpo: RunStartEvent = { ...start, run_id: 'r2', variant: 'grpo', encoder: null, reward: { ...SETTINGS, variant: 'grpo' } };
  const store = await RunStore.open(dbPath);
  await writeRun(store, [start, ...groups], 'r1.jsonl');
  await writeRun(store, [grpo], 'r2.jsonl');
  await store.close();
  await enc.dispose();
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('audit with the run\'s own encoder flags exactly the trajectory whose logged D is off, with both values', async () => {
  const store = await RunStore.open(dbPath);
  try {
    const a = await auditRun(store, 'r1', {}, { encoderDir: folder, tolerance: 1e-4 });
    assert.equal(a.mode, 'audit');
    assert.equal(a.encoder?.matchesRun, true);
    assert.equal(a.groups, 4);
    assert.equal(a.trajectories, 36);
    assert.equal(a.divergence.compared, 24);
    assert.deepEqual(a.divergence.flags.map((f) => f.trajectoryId), [TAMPERED]);
    const f = a.divergence.flags[0]!;
    assert.ok(Math.abs(f.logged - f.recomputed - 0.05) < 1e-6, `logged ${f.logged} recomputed ${f.recomputed}`);
    assert.equal(f.promptId, 'p1');
    assert.ok(f.trajectoryKey > 0);
    const others = (a.divergence.deltaD?.count ?? 0) - 1;
    assert.equal(others, 23);
    const text = formatAudit(a);
    assert.match(text, new RegExp(`"${TAMPERED}".*logged ${f.logged.toFixed(6)} recomputed ${f.recomputed.toFixed(6)}`));
    // The tampered D changed which member the trainer replaced in g1 (or not); either way the
    // what-if over the recomputed D reports it consistently with the core.
    assert.equal(a.whatIf.groups, 4);
  } finally {
    await store.close();
  }
});

test('vectors are cached in the store under the encoder fingerprint: the second audit embeds nothing', async () => {
  const store = await RunStore.open(dbPath);
  try {
    const first = await auditRun(store, 'r1', { step: 1 }, { encoderDir: folder });
    const second = await auditRun(store, 'r1', { step: 1 }, { encoderDir: folder });
    assert.equal(second.embedded, 0);
    assert.equal(second.cached, first.embedded + first.cached);
    const group = (await store.listGroups('r1', 1))[0]!;
    const detail = (await store.getGroup(group.groupId))!;
    const hashes = detail.trajectories.map((t) => textHash(t.event.text));
    const cached = await store.getEmbeddings(second.encoder!.fingerprint, hashes);
    assert.equal(cached.size, new Set(hashes).size);
    assert.equal([...cached.values()][0]!.length, 32);
  } finally {
    await store.close();
  }
});

test('what-if chunk-mean recomputes D, replacement and advantages through the core and counts the changes', async () => {
  const store = await RunStore.open(dbPath);
  const enc = await TextEncoderOnnx.load(folder, { strategy: 'chunk-mean' });
  try {
    const a = await auditRun(store, 'r1', {}, { encoderDir: folder, strategy: 'chunk-mean' });
    assert.equal(a.mode, 'what-if');
    assert.equal(a.encoder?.settings.strategy, 'chunk-mean');
    // The same figures, computed directly from the events and the core.
    let replacementChanged = 0;
    let signFlips = 0;
    const deltaR: number[] = [];
    for (const step of [0, 1]) {
      for (const gs of await store.listGroups('r1', step)) {
        const events = (await store.getGroup(gs.groupId))!.trajectories.map((t) => t.event);
        const { online, offline } = splitMembers(events);
        const ds = divergences(await embedAll(enc, online.map((t) => t.text)), await embedAll(enc, offline.map((t) => t.text)));
        const w = whatIfGroup(events, SETTINGS, { divergences: new Map(online.map((t, i) => [t.id, ds[i] as number])) });
        if (w.replacementChanged) replacementChanged++;
        signFlips += w.signFlips;
        for (const m of w.members) if (m.before.source === 'online' && m.deltaTotal !== null) deltaR.push(m.deltaTotal);
      }
    }
    assert.equal(a.whatIf.replacementChanged, replacementChanged);
    assert.equal(a.whatIf.signFlips, signFlips);
    assert.deepEqual(a.whatIf.deltaR, quantiles(deltaR));
    assert.equal(a.whatIf.deltaR?.count, 24);
    assert.ok((a.divergence.maxAbsDelta ?? 0) > 1e-3, 'chunk-mean moves D on these texts');
    assert.equal(a.whatIf.changedGroups.length, a.whatIf.changedGroups.filter((g) => g.signFlips > 0 || g.replacedBefore.join() !== g.replacedAfter.join()).length);
  } finally {
    await enc.dispose();
    await store.close();
  }
});

test('a run whose encoder id is no folder names the export command; runs without an encoder are skipped', async () => {
  const store = await RunStore.open(dbPath);
  try {
    await assert.rejects(auditRun(store, 'r1', {}), (e: Error) => e instanceof AuditError && e.message.includes('python -m reward_lens.export_encoder --model tiny-bert --out DIR'));
    const all = await auditScope(store, {}, { encoderDir: folder });
    const byId = new Map(all.map((a) => [a.runId, a]));
    assert.match(byId.get('r2')?.skipped ?? '', /grpo/);
    assert.equal(byId.get('r1')?.divergence.flags.length, 1);
  } finally {
    await store.close();
  }
});

test('quantiles interpolate like numpy', () => {
  const q = quantiles([4, 1, 3, 2, 5])!;
  assert.deepEqual([q.min, q.p25, q.median, q.p75, q.max, q.mean], [1, 2, 3, 4, 5, 3]);
  assert.ok(Math.abs(q.p05 - 1.2) < 1e-12);
  assert.equal(quantiles([]), null);
});

test('reward-lens audit exits 3 on a mismatch and prints the trajectory; --json carries the same', () => {
  const cli = join(REPO_ROOT, 'src', 'node', 'cli.ts');
  const text = spawnSync(process.execPath, ['--import', 'tsx', cli, 'audit', '--db', dbPath, '--run', 'r1', '--encoder', folder], { encoding: 'utf8', cwd: REPO_ROOT });
  assert.equal(text.status, 3, text.stderr);
  assert.match(text.stdout, new RegExp(`run r1: audit[\\s\\S]*"${TAMPERED}"`));
  const json = spawnSync(process.execPath, ['--import', 'tsx', cli, 'audit', '--db', dbPath, '--group', '1', '--encoder', folder, '--strategy', 'chunk-mean', '--json'], { encoding: 'utf8', cwd: REPO_ROOT });
  assert.equal(json.status, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as { mode: string; groups: number }[];
  assert.equal(parsed[0]?.mode, 'what-if');
  assert.equal(parsed[0]?.groups, 1);
});

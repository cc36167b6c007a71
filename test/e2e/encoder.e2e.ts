// Issue 4 acceptance, responsiveness: "Embedding 2,000 long traces in the extension keeps the UI
// responsive: the end-to-end test clicks while it runs, and cancel stops it within 1 s."
// A store holds one OGER run of 2,000 traces of ~500 tokens (250 groups × 6 online + 2 teachers,
// all distinct so the embedding cache never answers) and a one-group run. The encoder is the
// packaged all-MiniLM-L6-v2 exported into the test's temp dir, so every text costs a real forward
// pass. First the small run is audited to completion (the command works end to end, not only
// cancels); then the big run's audit is started, the palette is opened and a Runs tree row is
// toggled while the worker embeds, and the notification's Cancel must stop it within 1 s, as
// measured by the extension from the click to the worker having stopped.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { groupEvent, stepEvent, writeEvents, type MemberSpec } from './fixtures';
import { ingest, openStore, showRunsView, treeRow } from '../kit/driver';
import { answerQuickInput, repoRoot, runCommand, sleep, startRig, waitFor, type Rig } from '../kit/rig';

const work = mkdtempSync(join(tmpdir(), 'rl-e2e-encoder-'));
const db = join(work, 'encoder.db');
const encoderDir = join(work, 'minilm');
const BIG = 'long-traces-run';
const SMALL = 'one-group-run';
const GROUPS = 250;
const ONLINE = 6;
const TEACHERS = 2;
const BIG_TRACES = GROUPS * (ONLINE + TEACHERS);
/**
 * The palette and a tree click must answer within this. Measured by hand at ~300 ms under load;
 * a frozen extension host or renderer shows as seconds (a blocking embed of one 32-text chunk of
 * 500-token traces takes several seconds on one core), so 2 s separates "responsive" from "blocked"
 * with room for the shared 2-core machine.
 */
const RESPONSIVE_MS = 2_000;
const CANCEL_MS = 1_000;
let rig: Rig | undefined;

const python = join(repoRoot, '.venv', 'bin', 'python');

/**
 * One forward pass cannot be interrupted, so cancel waits for the text in flight: a 512-token
 * MiniLM pass costs up to ~1 s on a contended 2-core machine, which made the 1 s bound a coin toss.
 * 256-token windows keep every text long (the traces are ~500 tokens, so each is truncated and
 * every pass is full) while halving that wait.
 */
const WINDOW_TOKENS = 256;

/** Exports the packaged all-MiniLM-L6-v2 with the repo's exporter (seconds; nothing downloaded). */
function exportMiniLm(): { fingerprint: string; pooling: string; maxLength: number } {
  const found = spawnSync(python, ['-c', 'from reward_lens.encoder import find_minilm; print(find_minilm())'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(found.status, 0, `find_minilm failed: ${found.stdout}${found.stderr}`);
  const exported = spawnSync(python, ['-m', 'reward_lens.export_encoder', '--model', found.stdout.trim(), '--out', encoderDir, '--strategy', 'truncate', '--max-length', String(WINDOW_TOKENS)], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(exported.status, 0, `export_encoder failed: ${exported.stdout}${exported.stderr}`);
  const config = JSON.parse(readFileSync(join(encoderDir, 'reward_lens_encoder.json'), 'utf8')) as { fingerprint: string; pooling: string; max_length: number };
  return { fingerprint: config.fingerprint, pooling: config.pooling, maxLength: config.max_length };
}

/** Deterministic pseudo-random words, so each trace is distinct text a tokenizer splits into ~500 tokens. */
function makeTexts(seed: number): (words: number) => string {
  let state = seed >>> 0;
  const next = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const vocab = ('first consider the sum of both terms then multiply by the remaining factor so that each side balances '
    + 'we check the parity of n and note that every prime above three is congruent to one or five modulo six hence the '
    + 'residue must vanish which contradicts our assumption therefore the integral converges and the limit equals half '
    + 'substituting x gives a quadratic whose discriminant is negative so no real root exists wait let me recount the '
    + 'cases carefully triangle angle bisector hypotenuse perimeter probability expected value variance geometric series').split(' ');
  return (words) => {
    const out: string[] = [];
    for (let i = 0; i < words; i += 1) {
      const r = next();
      out.push(r < 0.12 ? String(Math.floor(next() * 10_000)) : vocab[Math.floor(r * vocab.length)]!);
      if (i % 23 === 22) out.push('.\n\n');
    }
    return out.join(' ');
  };
}

function runStartFor(runId: string, encoder: { fingerprint: string; pooling: string; maxLength: number }): Record<string, unknown> {
  return {
    v: 1, type: 'run_start', run_id: runId, time: '2026-01-01T00:00:00Z', variant: 'oger',
    config: { variant: 'oger', replace: 1, note: 'encoder responsiveness fixture' }, model: 'tiny-qwen2-e2e',
    reward: { variant: 'oger', replace: 1, advantage: { std: 'sample', eps: 1e-6 } },
    encoder: { id: encoderDir, strategy: 'truncate', pooling: encoder.pooling, max_length: encoder.maxLength, fingerprint: encoder.fingerprint },
    verifier: { id: 'e2e0000000000000000000000000000000000000000000000000000000000000', name: 'default', path: null },
  };
}

function runEvents(runId: string, groups: number, wordsPerTrace: number, seed: number, encoder: ReturnType<typeof exportMiniLm>): Record<string, unknown>[] {
  const words = makeTexts(seed);
  const events: Record<string, unknown>[] = [runStartFor(runId, encoder)];
  const groupsPerStep = 25;
  for (let g = 0; g < groups; g += 1) {
    const step = Math.floor(g / groupsPerStep);
    if (g % groupsPerStep === 0) events.push(stepEvent(runId, step));
    const member = (i: number, teacher?: string): MemberSpec => ({ text: `<think>\n${words(wordsPerTrace)}\n</think>\nThe final answer is $\\boxed{${i}}$.`, correct: i % 2 === 0, teacher, extracted: String(i) });
    events.push(groupEvent(runId, {
      step, promptId: `p${g}`, prompt: `Problem ${g}: ${words(20)}?`, gold: '0',
      online: Array.from({ length: ONLINE }, (_, i) => member(i)),
      offline: Array.from({ length: TEACHERS }, (_, j) => member(2 * j, j === 0 ? 'DeepSeek-R1' : 'Qwen3-32B')),
    }));
  }
  events.push({ v: 1, type: 'run_end', run_id: runId, status: 'completed', reason: 'fixture written in full', step: Math.floor((groups - 1) / groupsPerStep) });
  return events;
}

function toast(page: Page, text: string | RegExp) {
  return page.locator('.notification-toast', { hasText: text });
}

/** "D / N texts" of the progress notification, or undefined while it shows none. */
async function progressOf(page: Page): Promise<{ done: number; total: number } | undefined> {
  const text = await toast(page, 'Reward Lens: embedding trajectories').first().innerText({ timeout: 1_000 }).catch(() => '');
  const m = /(\d+) \/ (\d+) texts/.exec(text);
  return m ? { done: Number(m[1]), total: Number(m[2]) } : undefined;
}

/** Starts the audit of `runId` through the scope quick pick ("Another run…" → the run id). */
async function startAudit(page: Page, runId: string): Promise<void> {
  await runCommand(page, 'Reward Lens: Audit Divergences…');
  await answerQuickInput(page, 'Another run');
  await answerQuickInput(page, runId);
}

before(async () => {
  const t0 = Date.now();
  const encoder = exportMiniLm();
  const t1 = Date.now();
  writeEvents(join(work, 'big.jsonl'), runEvents(BIG, GROUPS, 380, 7, encoder));
  writeEvents(join(work, 'small.jsonl'), runEvents(SMALL, 1, 120, 11, encoder));
  ingest(join(work, 'big.jsonl'), db);
  ingest(join(work, 'small.jsonl'), db);
  console.log(`[encoder.e2e] export ${t1 - t0} ms, events + ingest ${Date.now() - t1} ms`);
  rig = await startRig({ name: 'encoder', folder: work, theme: 'dark', settings: { 'rewardLens.encoder.folder': encoderDir } });
  // Under load the file dialog can take the typed path before it is ready and open nothing, so the
  // store counts as open only once its runs are in the tree; one retry, each wait bounded.
  for (let attempt = 1; ; attempt += 1) {
    await openStore(rig.page, db);
    await showRunsView(rig.page);
    const listed = await treeRow(rig.page, BIG).waitFor({ state: 'visible', timeout: 20_000 }).then(() => true, () => false);
    if (listed) break;
    assert.ok(attempt < 2, 'the store\'s runs never appeared in the Runs tree after two Open Run Store… attempts');
    await rig.page.keyboard.press('Escape');
  }
});
after(async () => {
  await rig?.close();
  rmSync(work, { recursive: true, force: true });
});

test('audit of a one-group run completes and shows its summary', { timeout: 180_000 }, async () => {
  const page = rig!.page;
  const started = Date.now();
  await startAudit(page, SMALL);
  const result = toast(page, /divergences differ from the logged D|what-if over/);
  await result.first().waitFor({ state: 'visible', timeout: 150_000 });
  const text = await result.first().innerText();
  console.log(`[encoder.e2e] one-group audit done in ${Date.now() - started} ms: ${text.replace(/\s+/g, ' ')}`);
  // The fixture's logged D values are placeholders (0.1 + 0.05 i), so MiniLM's recomputed D differs on every online member.
  assert.match(text, new RegExp(`${ONLINE} of ${ONLINE} divergences differ from the logged D`));
  await rig!.screenshot('encoder-audit-completed-dark');
  await runCommand(page, 'Notifications: Clear All Notifications');
});

test(`embedding ${BIG_TRACES} long traces: palette and Runs tree answer while it runs, cancel stops it within 1 s`, { timeout: 300_000 }, async () => {
  const page = rig!.page;
  // The Runs view is already showing (before()); showing it again would toggle the sidebar closed.
  const runRow = treeRow(page, BIG);
  await runRow.waitFor({ state: 'visible', timeout: 20_000 });

  await startAudit(page, BIG);
  const first = await waitFor('the audit to report embedded texts', 180_000, async () => {
    const p = await progressOf(page);
    return p && p.done > 0 ? p : undefined;
  }, 250);
  assert.equal(first.total, BIG_TRACES, 'the progress counts every trace of the run');

  const palette = page.locator('.quick-input-widget input.input');
  const timings: { what: string; ms: number }[] = [];
  // Keep interacting until the progress count has moved on at least once, so the clicks provably
  // overlap the worker's embedding (one 32-text chunk of 500-token traces takes seconds on one core).
  const interactDeadline = Date.now() + 120_000;
  let during = first;
  let rounds = 0;
  for (let round = 0; round < 3 || during.done === first.done; round += 1) {
    assert.ok(Date.now() < interactDeadline, `the progress count never moved past ${first.done} within 120 s of interaction`);
    let t = Date.now();
    await page.keyboard.press('F1');
    await palette.waitFor({ state: 'visible', timeout: 10_000 });
    timings.push({ what: 'palette opens', ms: Date.now() - t });
    t = Date.now();
    await palette.fill('>Reward Lens: Open Dash');
    await page.locator('.quick-input-list .monaco-list-row .label-name', { hasText: 'Open Dashboard' }).first().waitFor({ state: 'visible', timeout: 10_000 });
    timings.push({ what: 'palette filters typed text', ms: Date.now() - t });
    if (round === 0) await rig!.screenshot('encoder-embedding-palette-dark');
    await page.keyboard.press('Escape');
    await palette.waitFor({ state: 'hidden', timeout: 10_000 });

    const before = await runRow.getAttribute('aria-expanded');
    t = Date.now();
    await runRow.locator('.monaco-tl-twistie').click({ timeout: 10_000 });
    await waitFor('the Runs tree row to toggle', 10_000, async () => (await runRow.getAttribute('aria-expanded')) !== before, 20);
    timings.push({ what: 'Runs tree row toggles', ms: Date.now() - t });
    await sleep(300);
    during = (await progressOf(page)) ?? during;
    rounds += 1;
  }
  const worst = Math.max(...timings.map((x) => x.ms));
  console.log(`[encoder.e2e] ${rounds} rounds while embedding (${first.done} → ${during.done} of ${BIG_TRACES}), worst ${worst} ms: ${timings.map((x) => `${x.what} ${x.ms} ms`).join(', ')}`);
  assert.ok(during.done > first.done && during.done < BIG_TRACES,
    `the worker kept embedding during the clicks and is not finished (${first.done} → ${during.done})`);
  for (const x of timings) assert.ok(x.ms < RESPONSIVE_MS, `${x.what} in ${x.ms} ms (bound ${RESPONSIVE_MS} ms)`);
  await rig!.screenshot('encoder-embedding-progress-dark');

  const progress = toast(page, 'Reward Lens: embedding trajectories').first();
  await progress.hover();
  await progress.getByRole('button', { name: 'Cancel' }).click({ timeout: 10_000 });
  const cancelled = toast(page, /audit cancelled \(stopped in \d+ ms\)/).first();
  await cancelled.waitFor({ state: 'visible', timeout: 30_000 });
  const text = await cancelled.innerText();
  const stoppedMs = Number(/stopped in (\d+) ms/.exec(text)![1]);
  console.log(`[encoder.e2e] cancel: ${text.replace(/\s+/g, ' ')}`);
  assert.ok(stoppedMs < CANCEL_MS, `cancel stopped the worker in ${stoppedMs} ms (bound ${CANCEL_MS} ms)`);
  await waitFor('the progress notification to close', 10_000, async () => (await toast(page, 'Reward Lens: embedding trajectories').count()) === 0);
  await rig!.screenshot('encoder-cancelled-dark');
});

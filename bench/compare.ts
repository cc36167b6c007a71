// Compare Runs on the 2,000-step benchmark store with 3 runs: how long "Reward Lens: Compare
// Runs…" takes to show three 2,000-step runs, end to end in VS Code (code-server with the packaged
// .vsix, driven by playwright-core in Chromium), against the 500 ms target and, in the same
// session and store, against the dashboard of one of those runs.
//
// The store: three runs shaped like the queries benchmark's (2,000 steps × 125 groups × 8 members,
// token entropies, rewards from the core) over the same prompt ids step by step, as a study's arms
// sharing a seed are; GRPO, LUFFY and OGER in run_start with different settings. Its texts are
// the generator's cut to 1/16 of their length: Compare Runs reads no text, and a full-length
// 6M-trajectory store would take about an hour of both cores to build. What text length does
// change (the trajectory rows the entropy column reads are larger) is measured separately: the
// per-step read on the queries benchmark's store of full-length texts, when it is there.
//
// Needs: dist/reward-lens-linux-x64.vsix (npm run package), code-server (scripts/setup.d/40-e2e.sh).
// Builds .cache/bench/compare-3x<steps>.db once (resumable).
// Run alone: node --import tsx bench/compare.ts [--steps N] [--opens N] [--out DIR] [--reads-only]
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Frame, Page } from 'playwright-core';
import { RunStore } from '../src/node/store/index';
import { Db } from '../src/node/store/sqlite';
import { promptCellsAtStep } from '../src/node/store/compareQueries';
import type { RolloutEvent } from '../src/core/protocol';
import type { Variant } from '../src/core/reward';
import type { HostToCompare } from '../src/core/compareMessages';
import { CompareController } from '../src/extension/compare/controller';
import { codeServerBin, repoRoot, runCommand, sleep, startRig, vsixPath, waitFor, webviewFrame } from '../test/kit/rig';
import { compareFrame, compareRuns, openStore, showRunsView } from '../test/kit/driver';
import { HostPerf } from '../test/kit/hostPerf';
import { READ_PERF_JS, clickChartStep, summarise, type PerfSample } from '../test/kit/ui';
import { cpuDevice, ensureCacheDir, figure, printTable, rng, round, type Figure } from './lib/common';
import { generateSteps, runStart, TextPool } from './lib/gen';

const BENCH = 'compare';
const COMMAND = `npm run bench -- --only ${BENCH}`;
const TARGET_MS = 500;
/** Bump when what the generator writes changes, so a stale cached store is rebuilt. */
const GENERATOR_VERSION = 1;
const GROUPS_PER_STEP = 125;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? (process.argv[i + 1] as string) : fallback;
}

const steps = Number(arg('--steps', '2000'));
const opens = Number(arg('--opens', '12'));
const outDir = arg('--out', path.join(repoRoot, '.cache', 'bench', 'compare'));
const storeFile = arg('--store', path.join(repoRoot, '.cache', 'bench', `compare-3x${steps}.db`));
const realisticStore = arg('--realistic-store', path.join(repoRoot, '.cache', 'bench', 'queries-2000000.db'));

interface Arm {
  runId: string;
  variant: Variant;
  seed: number;
  config: Record<string, unknown>;
}

const ARMS: Arm[] = [
  { runId: 'study-grpo-s1', variant: 'grpo', seed: 3, config: { lr: 1e-6, rollout_n: 8, batch_prompts: 125, seed: 1 } },
  { runId: 'study-luffy-s1', variant: 'luffy', seed: 4, config: { lr: 1e-6, rollout_n: 8, batch_prompts: 125, seed: 1, teachers: 1 } },
  { runId: 'study-oger-s1', variant: 'oger', seed: 5, config: { lr: 5e-7, rollout_n: 8, batch_prompts: 125, seed: 1, teachers: 3 } },
];
const RUN_IDS = ARMS.map((a) => a.runId);

/** The generator's texts at 1/16 of their length (same shape: most short, a long tail). */
class ShortTexts extends TextPool {
  override length(r: () => number): number {
    return Math.max(64, Math.round(super.length(r) / 16));
  }
}

interface StoreMeta {
  generatorVersion: number;
  steps: number;
  trajectories: number;
  generateSeconds: number;
  fileBytes: number;
  builtAt: string;
}

/** Builds the 3-run store into `<file>.building`, one step per transaction; a killed build resumes. */
async function buildStore(file: string): Promise<StoreMeta> {
  const tmp = `${file}.building`;
  const progressFile = `${tmp}.json`;
  const earlier = existsSync(progressFile) ? (JSON.parse(readFileSync(progressFile, 'utf8')) as { elapsedSeconds: number }).elapsedSeconds : 0;
  const store = await RunStore.open(tmp);
  const t0 = performance.now();
  let line = 0;
  const batch = (events: readonly RolloutEvent[]) => ({ file: 'bench:compare', events: events.map((event) => ({ line: ++line, byteOffset: 0, event })), malformed: [], endOffset: 0, endLine: line });
  let lastReport = performance.now();
  let trajectories = 0;
  try {
    for (const arm of ARMS) {
      const done = await store.db.get<{ status: string }>('SELECT status FROM runs WHERE run_id = ?', [arm.runId]);
      const last = await store.db.get<{ step: number | null }>('SELECT max(step) AS step FROM groups WHERE run_id = ?', [arm.runId]);
      if (done?.status === 'completed') {
        trajectories += steps * GROUPS_PER_STEP * 8;
        continue;
      }
      const resumeFrom = last?.step === null || last?.step === undefined ? 0 : last.step + 1;
      if (resumeFrom === 0) await store.writeBatch(batch([{ ...runStart(arm.runId, arm.variant), config: arm.config, time: new Date(Date.UTC(2026, 0, 1, ARMS.indexOf(arm))).toISOString() }]));
      else console.log(`  resuming ${arm.runId} at step ${resumeFrom}`);
      let step = 0;
      for (const events of generateSteps({ runId: arm.runId, steps, groupsPerStep: GROUPS_PER_STEP, online: 6, offline: 2, seed: arm.seed, tokenEntropies: true }, new ShortTexts())) {
        if (step++ < resumeFrom) continue; // regenerated (deterministic) only to keep the PRNG in step
        await store.writeBatch(batch(events));
        trajectories += (events.length - 1) * 8;
        if (performance.now() - lastReport > 30_000) {
          lastReport = performance.now();
          const s = earlier + (lastReport - t0) / 1000;
          writeFileSync(progressFile, JSON.stringify({ elapsedSeconds: s }));
          console.log(`  building: ${arm.runId} step ${step} of ${steps}, ${s.toFixed(0)} s so far`);
        }
      }
      await store.writeBatch(batch([{ v: 1, type: 'run_end', run_id: arm.runId, status: 'completed', reason: null, step: steps - 1 }]));
    }
    await store.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  } finally {
    await store.close();
  }
  const generateSeconds = earlier + (performance.now() - t0) / 1000;
  for (const s of ['-wal', '-shm']) rmSync(tmp + s, { force: true });
  renameSync(tmp, file);
  rmSync(progressFile, { force: true });
  return { generatorVersion: GENERATOR_VERSION, steps, trajectories, generateSeconds: round(generateSeconds, 1), fileBytes: statSync(file).size, builtAt: new Date().toISOString() };
}

async function ensureStore(): Promise<{ meta: StoreMeta; built: boolean }> {
  ensureCacheDir();
  const metaFile = `${storeFile}.json`;
  if (existsSync(storeFile) && existsSync(metaFile)) {
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as StoreMeta;
    if (meta.generatorVersion === GENERATOR_VERSION && meta.steps === steps) {
      // An older schema is migrated by the store itself when it is opened with write access.
      const s = await RunStore.open(storeFile);
      await s.close();
      return { meta, built: false };
    }
  }
  console.log(`  building ${path.relative(repoRoot, storeFile)}: 3 runs × ${steps} steps × ${GROUPS_PER_STEP} groups × 8 members`);
  const meta = await buildStore(storeFile);
  writeFileSync(metaFile, JSON.stringify(meta, null, 2));
  return { meta, built: true };
}

/** The host's read for an open (CompareController.begin), in this process: store and core, no VS Code. */
async function hostReads(): Promise<{ open: number[]; step: number[]; messageBytes: number; realistic: { ours: number[]; full: number[]; store: string } | null }> {
  const store = await RunStore.open(storeFile, { readonly: true });
  const posted: HostToCompare[] = [];
  const c = new CompareController({ getStore: () => store, post: (m) => { posted.push(m); return true; }, log: () => undefined, now: () => performance.now(), openGroup: async () => undefined, setTitle: () => undefined }, RUN_IDS);
  const open: number[] = [];
  let messageBytes = 0;
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    const m = await c.begin(RUN_IDS);
    open.push(performance.now() - t0);
    if (m.type !== 'compare') throw new Error(`the host's read gave ${m.type}: ${JSON.stringify(m).slice(0, 300)}`);
    messageBytes = JSON.stringify(m).length;
  }
  await c.handle({ type: 'ready' });
  const r = rng(7);
  const step: number[] = [];
  for (let i = 0; i < 30; i++) {
    const s = Math.floor(r() * steps);
    const t0 = performance.now();
    if (!(await c.handle({ type: 'selectStep', step: s }))) throw new Error(`selectStep ${s} was refused`);
    step.push(performance.now() - t0);
  }
  // The one read whose cost grows with text length: an online member's row is read for its H_last.
  let realistic: { ours: number[]; full: number[]; store: string } | null = null;
  if (existsSync(realisticStore)) {
    const full = await Db.open(realisticStore, true);
    const run = (await full.get<{ run_id: string }>('SELECT run_id FROM runs LIMIT 1'))?.run_id;
    if (run) {
      const ours: number[] = [];
      const theirs: number[] = [];
      for (let i = 0; i < 40; i++) {
        const s = Math.floor(r() * steps);
        let t0 = performance.now();
        await promptCellsAtStep(store.db, RUN_IDS[0] as string, s);
        ours.push(performance.now() - t0);
        t0 = performance.now();
        await promptCellsAtStep(full, run, s);
        theirs.push(performance.now() - t0);
      }
      realistic = { ours, full: theirs, store: path.basename(realisticStore) };
    }
    await full.close();
  }
  await store.close();
  return { open, step, messageBytes, realistic };
}

async function framePerf(frame: Frame): Promise<PerfSample[]> {
  return (await frame.evaluate(`(${READ_PERF_JS})()`)) as PerfSample[];
}

async function shot(page: Page, name: string): Promise<void> {
  await page.mouse.move(1300, 880);
  await page.screenshot({ path: path.join(outDir, `${name}.png`), timeout: 15_000 });
}

interface UiTimes {
  fresh: number[];
  freshWait: number[];
  reopen: number[];
  render: number[];
  dashboard: number[];
  table: number[];
  prompt: number[];
  elements: number;
}

async function inVsCode(): Promise<UiTimes> {
  const rig = await startRig({ name: 'bench-compare', theme: 'dark', settings: { 'workbench.editor.enablePreview': false } });
  const perf = new HostPerf(rig);
  const page = rig.page;
  const t: UiTimes = { fresh: [], freshWait: [], reopen: [], render: [], dashboard: [], table: [], prompt: [], elements: 0 };
  try {
    await showRunsView(page);
    await openStore(page, storeFile);
    const open = async (into: number[], fresh: boolean): Promise<Frame> => {
      const before = perf.samples('compare-open').length;
      await compareRuns(page, RUN_IDS);
      const s = await perf.nth('compare-open', before + 1);
      if (s.size !== steps) throw new Error(`Compare Runs drew ${s.size} steps, the runs have ${steps}`);
      into.push(s.ms);
      const frame = await compareFrame(page);
      t.render.push(((await framePerf(frame)).filter((e) => e.what === 'runs').at(-1) as PerfSample).ms);
      // For a new panel: how long its content frame waited for code-server's webview service
      // worker before it could be fetched (bench/RESULTS.md, vscode-latency, explains the wait).
      if (fresh) t.freshWait.push(Math.round((await frame.evaluate('performance.getEntriesByType("navigation")[0]?.fetchStart ?? 0')) as number));
      await sleep(300);
      return frame;
    };
    // New panels: Compare Runs after every editor was closed.
    for (let i = 0; i < 6; i++) {
      await open(t.fresh, true);
      await runCommand(page, 'View: Close All Editors');
      await waitFor('the panel to close', 10_000, async () => page.locator('.tab', { hasText: /^Compare/ }).count().then((n) => n === 0));
    }
    // The open panel asked again: the common case once a comparison is open.
    let frame = await open(t.fresh, true);
    for (let i = 0; i < opens; i++) frame = await open(t.reopen, false);
    await shot(page, 'compare-3x2000');
    t.elements = (await frame.evaluate('document.getElementsByTagName("*").length')) as number;
    // A step picked on a curve: every run's table at that step.
    const r = rng(11);
    for (let i = 0; i < 20; i++) {
      const before = perf.samples('compare-table').length;
      await clickChartStep(frame, 'accuracy', 1 + Math.floor(r() * (steps - 2)));
      t.table.push((await perf.nth('compare-table', before + 1)).ms);
    }
    // A prompt's groups side by side (three groups of eight members).
    for (let i = 0; i < 20; i++) {
      const rows = frame.locator('[data-testid=prompt-row]');
      const before = perf.samples('compare-prompt').length;
      await rows.nth(Math.floor(r() * (await rows.count()))).click();
      t.prompt.push((await perf.nth('compare-prompt', before + 1)).ms);
    }
    await shot(page, 'compare-3x2000-prompt');
    // The peer in the same session: the dashboard of one of the three runs, asked again in its panel.
    for (let i = 0; i < 1 + 6; i++) {
      const before = perf.samples('dashboard-open').length;
      await runCommand(page, 'Reward Lens: Open Dashboard');
      const quick = page.locator('.quick-input-widget input.input');
      if (await quick.isVisible().catch(() => false)) {
        await quick.fill(RUN_IDS[2] as string);
        await sleep(200);
        await page.keyboard.press('Enter');
      }
      const s = await perf.nth('dashboard-open', before + 1);
      if (i > 0) t.dashboard.push(s.ms); // the first creates the panel
      await webviewFrame(page, '[data-testid=step-count]', 30_000);
      await sleep(300);
    }
    return t;
  } finally {
    await rig.close();
  }
}

async function main(): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const device = cpuDevice();
  const { meta, built } = await ensureStore();
  const reads = await hostReads();
  const figures: Figure[] = [];
  const where = `3 runs × ${steps} steps × ${GROUPS_PER_STEP} groups × 8 members (${meta.trajectories.toLocaleString('en')} trajectories, texts cut to 1/16)`;
  const openR = summarise(reads.open.slice(1));
  const stepR = summarise(reads.step);
  figures.push(figure({
    benchmark: BENCH, name: 'Compare Runs, the host\'s read of 3 runs (store + core, no VS Code), p95 (ms)', unit: 'ms', value: round(openR.p95, 1), peer: 'issue 15 target for the whole open', peerValue: TARGET_MS, better: 'lower', device, command: COMMAND,
    note: `${where}; CompareController.begin in the benchmark's process: 3 runs' summaries and 2,000-step series, the table at each run's last step, the settings diff; p50 ${round(openR.p50, 1)} ms over ${openR.n}; the message is ${(reads.messageBytes / 1024).toFixed(0)} KB of JSON; a picked step's table p50 ${round(stepR.p50, 1)} / p95 ${round(stepR.p95, 1)} ms`,
  }));
  if (reads.realistic) {
    const ours = summarise(reads.realistic.ours);
    const full = summarise(reads.realistic.full);
    figures.push(figure({
      benchmark: BENCH, name: 'per-prompt cells of one run at one step, p95 (ms)', unit: 'ms', value: round(ours.p95, 2), peer: `the same read on ${reads.realistic.store} (full-length texts)`, peerValue: round(full.p95, 2), better: 'lower', device, command: COMMAND,
      note: `promptCellsAtStep over ${ours.n} random steps each: 125 groups and their 750 online members (H_last, token entropies); p50 ${round(ours.p50, 2)} against ${round(full.p50, 2)} ms: what the shortened texts of this store leave out`,
    }));
  }
  let ui: UiTimes | null = null;
  const why = !existsSync(vsixPath) ? `${vsixPath} is missing: run npm run package` : !existsSync(codeServerBin) ? 'code-server is not installed: run bash scripts/setup.d/40-e2e.sh' : null;
  if (process.argv.includes('--reads-only')) console.log('  --reads-only: VS Code not measured');
  else if (why) throw new Error(why);
  else ui = await inVsCode();
  if (ui) {
    const reopen = summarise(ui.reopen);
    const fresh = summarise(ui.fresh.slice(1));
    const wait = summarise(ui.freshWait.slice(1));
    const lessWait = summarise(ui.fresh.slice(1).map((ms, i) => ms - (ui!.freshWait[i + 1] ?? 0)));
    const render = summarise(ui.render);
    const dash = summarise(ui.dashboard);
    const table = summarise(ui.table);
    const prompt = summarise(ui.prompt);
    const note = `code-server 4.100.3, ${where}; logged by the extension host from the command's read to the webview's rendered frame (store, message transit and render included)`;
    figures.push(figure({
      benchmark: BENCH, name: 'Compare Runs of 3 × 2,000-step runs in VS Code, open panel, end to end, p95 (ms)', unit: 'ms', value: reopen.p95, peer: 'issue 15 target', peerValue: TARGET_MS, better: 'lower', device, command: COMMAND,
      note: `${note}; p50 ${reopen.p50} ms over ${reopen.n} opens in the open panel (the panel is reused for every comparison); the page's render alone p50 ${render.p50} / p95 ${render.p95} ms; ${ui.elements} elements`,
    }));
    figures.push(figure({
      benchmark: BENCH, name: 'Compare Runs of 3 × 2,000-step runs in VS Code, new panel, end to end, p95 (ms)', unit: 'ms', value: fresh.p95, peer: 'issue 15 target', peerValue: TARGET_MS, better: 'lower', device, command: COMMAND,
      note: `${note}; p50 ${fresh.p50} ms over ${fresh.n} opens that create the panel (the first, cold: ${round(ui.fresh[0] ?? Number.NaN, 1)} ms); of it the content frame's wait for code-server's webview service worker p50 ${wait.p50} / p95 ${wait.p95} ms; without that wait p50 ${round(lessWait.p50, 1)} / p95 ${round(lessWait.p95, 1)} ms`,
    }));
    figures.push(figure({
      benchmark: BENCH, name: 'Compare Runs (3 runs) against the dashboard of one of them, open panel, p95 (ms)', unit: 'ms', value: reopen.p95, peer: 'dashboard of one run, same store and session', peerValue: dash.p95, better: 'lower', device, command: COMMAND,
      note: `dashboard p50 ${dash.p50} ms over ${dash.n}`,
    }));
    figures.push(figure({ benchmark: BENCH, name: 'Compare Runs, table at a step picked on a curve, end to end, p95 (ms)', unit: 'ms', value: table.p95, peer: null, peerValue: null, better: 'lower', device, command: COMMAND, note: `p50 ${table.p50} ms over ${table.n}: 3 × 125 groups and their online members read, sorted, drawn` }));
    figures.push(figure({ benchmark: BENCH, name: 'Compare Runs, a prompt\'s 3 groups side by side, end to end, p95 (ms)', unit: 'ms', value: prompt.p95, peer: null, peerValue: null, better: 'lower', device, command: COMMAND, note: `p50 ${prompt.p50} ms over ${prompt.n}: three getGroup reads (8 members each) cut to the view, drawn` }));
  }
  printTable('Compare Runs on 3 × 2,000-step runs', figures);
  const details = { store: { ...meta, built, file: path.basename(storeFile) }, reads, ui };
  console.log(JSON.stringify({ benchmark: BENCH, ok: true, figures, details }));
}

main().catch((e: unknown) => {
  console.error(e);
  console.log(JSON.stringify({ benchmark: BENCH, ok: false, error: String((e as Error)?.stack ?? e) }));
  process.exitCode = 1;
});


// `npm run bench`: runs every benchmark, each in its own child process with a time limit, so that
// one that crashes, hangs or is missing never hides the others' figures. Each child prints its own
// table and ends with one JSON line; this runner folds those lines into one JSON object, printed as
// the LAST line of its output. Exit code 1 when any benchmark is missing or failed (after all ran).
//
// Options: --only name[,name]   run a subset (rescore, queries, reverify, ingest, encoder, trainer, trainer-memory, ui, vscode-latency, whatif-vscode, compare, table)
//          --quick               smaller sizes, for checking the runner itself (figures not comparable)
//          --no-results          do not update bench/RESULTS.md (full runs update it by default)
//          --record-from LOG     fold the final JSON line of an earlier run's log into bench/RESULTS.md
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { build } from 'esbuild';
import { CACHE_DIR, cpuDevice, ensureCacheDir, findPython, lastJsonLine, machineSummary, REPO_ROOT, type Figure } from './lib/common';
import { mergeResults, writeResultsMarkdown, type StoredBenchmark } from './lib/results';

interface Job {
  name: string;
  /** what a reader types to reproduce it */
  command: string;
  /** how to start it; null when the script it needs is not in the tree */
  start: () => Promise<{ file: string; args: string[]; env?: NodeJS.ProcessEnv } | { missing: string }>;
  timeoutS: number;
}

interface JobResult {
  name: string;
  status: 'ok' | 'failed' | 'missing' | 'timeout';
  command: string;
  seconds: number;
  exitCode: number | null;
  reason?: string;
  figures: Figure[];
  result: Record<string, unknown> | null;
}

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyArg = args[args.indexOf('--only') + 1];
const only = args.includes('--only') && onlyArg ? new Set(onlyArg.split(',')) : null;

/**
 * Our own benchmarks run as esbuild bundles of the TypeScript, as the extension ships: under tsx
 * every closure is wrapped by keepNames' __name and the core measures ~2.5× slower than in the
 * product. Packages stay external (sqlite3 is native).
 */
async function bundle(entry: string): Promise<string> {
  ensureCacheDir();
  const out = path.join(CACHE_DIR, `${path.basename(entry, '.ts')}.mjs`);
  await build({
    entryPoints: [path.join(REPO_ROOT, entry)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile: out,
    logLevel: 'warning',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  return out;
}

function ownBench(name: string, entry: string, extra: string[], heapMb: number, timeoutS: number): Job {
  return {
    name,
    command: `npm run bench -- --only ${name}`,
    timeoutS,
    start: async () => {
      if (!existsSync(path.join(REPO_ROOT, entry))) return { missing: `${entry} is not in the tree` };
      const file = await bundle(entry);
      return { file: process.execPath, args: [`--max-old-space-size=${heapMb}`, file, ...extra] };
    },
  };
}

const jobs: Job[] = [
  ownBench('rescore', 'bench/rescore.ts', quick ? ['--groups', '20000'] : [], 6144, 900),
  // The 2M store is built once (resumable, cached); the first build can take the better part of an hour on 2 busy cores.
  ownBench('queries', 'bench/queries.ts', quick ? ['--trajectories', '80000'] : [], 4096, 5400),
  ownBench('reverify', 'bench/reverify.ts', quick ? ['--trajectories', '5000'] : [], 4096, 2400),
  // Issue 18's trajectories table on the compare benchmark's 3 x 2M store (built by --only compare).
  ownBench('table', 'bench/table.ts', [], 4096, 900),
  ownBench('ingest', 'bench/ingest.ts', process.env.REWARD_LENS_BENCH_BASELINE ? ['--baseline', process.env.REWARD_LENS_BENCH_BASELINE] : [], 4096, 1200),
  {
    name: 'encoder',
    command: 'bench/encoder.*',
    timeoutS: 1200,
    start: async () => {
      for (const ext of ['ts', 'mjs', 'js']) {
        const f = path.join(REPO_ROOT, `bench/encoder.${ext}`);
        if (existsSync(f)) return { file: process.execPath, args: ext === 'ts' ? ['--import', 'tsx', f] : [f] };
      }
      const py = path.join(REPO_ROOT, 'bench/encoder.py');
      const python = findPython();
      if (existsSync(py) && python) return { file: python, args: [py] };
      const sh = path.join(REPO_ROOT, 'bench/encoder.sh');
      if (existsSync(sh)) return { file: 'bash', args: [sh] };
      return { missing: 'no bench/encoder.{ts,mjs,js,py,sh} in the tree (owned by the encoder engineer)' };
    },
  },
  {
    name: 'trainer',
    command: 'python -m reward_lens.bench_overhead',
    timeoutS: 1200,
    start: async () => {
      const python = findPython();
      if (!python) return { missing: 'no Python: set REWARD_LENS_PYTHON or run scripts/setup.sh (.venv)' };
      if (!existsSync(path.join(REPO_ROOT, 'python/reward_lens/bench_overhead.py'))) {
        return { missing: 'python/reward_lens/bench_overhead.py is not in the tree (owned by the trainer engineer)' };
      }
      return {
        file: python,
        args: ['-m', 'reward_lens.bench_overhead'],
        env: { ...process.env, PYTHONPATH: [path.join(REPO_ROOT, 'python'), process.env.PYTHONPATH].filter(Boolean).join(':') },
      };
    },
  },
  {
    // Peak memory of one policy update at Qwen2.5's vocabulary: the chunked log-prob path against
    // the full-logits one, each side in its own subprocess (python/reward_lens/bench_memory.py).
    name: 'trainer-memory',
    command: 'npm run bench -- --only trainer-memory',
    timeoutS: 5400,
    start: async () => {
      const python = findPython();
      if (!python) return { missing: 'no Python: set REWARD_LENS_PYTHON or run scripts/setup.sh (.venv)' };
      if (!existsSync(path.join(REPO_ROOT, 'python/reward_lens/bench_memory.py'))) return { missing: 'python/reward_lens/bench_memory.py is not in the tree' };
      return {
        file: python,
        args: ['-m', 'reward_lens.bench_memory', ...(quick ? ['--response-tokens', '256'] : [])],
        env: { ...process.env, PYTHONPATH: [path.join(REPO_ROOT, 'python'), process.env.PYTHONPATH].filter(Boolean).join(':') },
      };
    },
  },
];

// The webview engineer's latency hooks: bench/ui-preview.ts renders the built webviews in headless
// Chromium and prints its timings (test/kit/ui.ts is its helper library, shared with the tests).
jobs.push({
  name: 'ui',
  command: 'node --import tsx bench/ui-preview.ts',
  timeoutS: 600,
  start: async () => {
    const entry = path.join(REPO_ROOT, 'bench', 'ui-preview.ts');
    if (!existsSync(entry)) return { missing: 'bench/ui-preview.ts is not in the tree (owned by the webview engineer)' };
    if (!existsSync(path.join(REPO_ROOT, 'dist', 'webview'))) {
      const { spawnSync } = await import('node:child_process');
      const b = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'build.mjs')], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000 });
      if (b.status !== 0) return { missing: `npm run build failed, so the webviews cannot be rendered: ${(b.stderr || '').slice(-300)}` };
    }
    return { file: process.execPath, args: ['--import', 'tsx', entry, path.join(CACHE_DIR, 'ui-preview')] };
  },
});

// Issue 5's latencies end to end in real VS Code (code-server) on the queries benchmark's 2M store.
// It measures the .vsix, so the tree is packaged first: a stale package would time old code.
jobs.push({
  name: 'vscode-latency',
  command: 'npm run bench -- --only vscode-latency',
  timeoutS: 1500,
  start: async () => {
    const entry = path.join(REPO_ROOT, 'bench', 'vscode-latency.ts');
    const { spawnSync } = await import('node:child_process');
    const p = spawnSync('npm', ['run', 'package'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 600_000 });
    if (p.status !== 0) return { missing: `npm run package failed, so there is no .vsix to measure: ${(p.stderr || p.stdout || '').slice(-300)}` };
    return { file: process.execPath, args: ['--import', 'tsx', entry] };
  },
});

// Issue 16's whole-run what-if in VS Code, ask → diff shown, over one 2M-trajectory run: the first
// run of a copy of the compare benchmark's store (3 runs x 2M; the queries store takes an hour to
// build). A copy, because the what-if adds a verdict set and relabels to the store it measures.
jobs.push({
  name: 'whatif-vscode',
  command: 'npm run bench -- --only whatif-vscode',
  timeoutS: 1800,
  start: async () => {
    const source = path.join(CACHE_DIR, 'compare-3x2000.db');
    const store = path.join(CACHE_DIR, 'whatif-3x2000.db');
    if (!existsSync(store)) {
      if (!existsSync(source)) return { missing: `${source} is missing: npm run bench -- --only compare builds it` };
      copyFileSync(source, store);
    }
    const { spawnSync } = await import('node:child_process');
    const p = spawnSync('npm', ['run', 'package'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 600_000 });
    if (p.status !== 0) return { missing: `npm run package failed, so there is no .vsix to measure: ${(p.stderr || p.stdout || '').slice(-300)}` };
    return { file: process.execPath, args: ['--import', 'tsx', path.join(REPO_ROOT, 'bench', 'vscode-latency.ts'), '--only-whatif', '--store', store, '--out', path.join(CACHE_DIR, 'whatif-vscode')] };
  },
});

// Compare Runs (issue 15) end to end in code-server on a 3-run, 2,000-step store it builds once
// (about 20 minutes on 2 busy cores; resumable). It measures the .vsix, so the tree is packaged first.
jobs.push({
  name: 'compare',
  command: 'npm run bench -- --only compare',
  timeoutS: 3600,
  start: async () => {
    const entry = path.join(REPO_ROOT, 'bench', 'compare.ts');
    const { spawnSync } = await import('node:child_process');
    const p = spawnSync('npm', ['run', 'package'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 600_000 });
    if (p.status !== 0) return { missing: `npm run package failed, so there is no .vsix to measure: ${(p.stderr || p.stdout || '').slice(-300)}` };
    return { file: process.execPath, args: ['--import', 'tsx', entry, ...(quick ? ['--steps', '100', '--opens', '4'] : [])] };
  },
});

function runJob(job: Job): Promise<JobResult> {
  const t0 = performance.now();
  const done = (r: Omit<JobResult, 'name' | 'command' | 'seconds'>): JobResult => ({
    name: job.name,
    command: job.command,
    seconds: Math.round((performance.now() - t0) / 100) / 10,
    ...r,
  });
  return job.start().then(
    (how) =>
      new Promise<JobResult>((resolve) => {
        if ('missing' in how) {
          resolve(done({ status: 'missing', exitCode: null, reason: how.missing, figures: [], result: null }));
          return;
        }
        console.log(`\n==> bench: ${job.name}  (${job.command})`);
        // detached: the child leads its own process group, so a timeout kills its helpers too.
        const child = spawn(how.file, how.args, { cwd: REPO_ROOT, env: how.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
        let stdout = '';
        let timedOut = false;
        child.stdout.on('data', (d: Buffer) => {
          const s = d.toString();
          stdout += s;
          if (stdout.length > 32 * 1024 * 1024) stdout = stdout.slice(-16 * 1024 * 1024);
          process.stdout.write(s);
        });
        child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
        const timer = setTimeout(() => {
          timedOut = true;
          try {
            if (child.pid) process.kill(-child.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }, job.timeoutS * 1000);
        child.on('error', (e) => {
          clearTimeout(timer);
          resolve(done({ status: 'failed', exitCode: null, reason: `could not start: ${e.message}`, figures: [], result: null }));
        });
        child.on('close', (code) => {
          clearTimeout(timer);
          const result = lastJsonLine(stdout);
          const figures = extractFigures(job.name, result, stdout);
          if (timedOut) {
            resolve(done({ status: 'timeout', exitCode: code, reason: `killed after ${job.timeoutS}s`, figures, result }));
          } else if (code !== 0 || (!result && figures.length === 0)) {
            const reason = code !== 0 ? `exit code ${code}` : 'printed no JSON line and no figures';
            resolve(done({ status: 'failed', exitCode: code, reason, figures, result }));
          } else {
            resolve(done({ status: 'ok', exitCode: code, figures, result }));
          }
        });
      }),
    (e: unknown) => done({ status: 'failed', exitCode: null, reason: `could not prepare: ${(e as Error).message}`, figures: [], result: null }),
  );
}

const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
const obj = (x: unknown): Record<string, unknown> => (x && typeof x === 'object' ? (x as Record<string, unknown>) : {});

/** bench/ingest.ts prints its own shape: ingest vs raw batched INSERT, wall and CPU, and bytes. */
function ingestFigures(r: Record<string, unknown>): Figure[] {
  const ingest = obj(r.ingest);
  const raw = obj(r.raw);
  const device = cpuDevice();
  const command = 'npm run bench -- --only ingest (bench/ingest.ts)';
  const base = obj(r.baseline);
  const before = num(base.trajectoriesPerCpuSecond) !== null
    ? `; the baseline checkout in the same run: ${num(base.trajectoriesPerCpuSecond)} trajectories/CPU-s, ${num(base.trajectoriesPerSecond)}/s wall, ${num(base.bytesPerTrajectory)} B/trajectory`
    : '';
  const note = `${num(r.trajectories) ?? '?'} trajectories, ${typeof r.text === 'string' ? r.text : 'generated text'} (mean ${num(r.textBytes) ?? '?'} B); load average ${num(r.loadAverage1m)?.toFixed(1) ?? '?'} when measured${before}`;
  const f = (name: string, unit: string, value: number | null, peer: string, peerValue: number | null, better: 'higher' | 'lower', extra?: string): Figure => ({
    benchmark: 'ingest', name, unit, value, peer, peerValue, ratio: value !== null && peerValue ? Math.round((value / peerValue) * 1000) / 1000 : null, better, device, command, ...(extra ? { note: extra } : {}),
  });
  return [
    f('ingest throughput, wall (trajectories/s)', 'trajectories/s', num(ingest.trajectoriesPerSecond), 'raw batched SQLite INSERT of the same rows', num(raw.trajectoriesPerSecond), 'higher', note),
    f('ingest throughput, CPU (trajectories per CPU-second)', 'trajectories/CPU-s', num(ingest.trajectoriesPerCpuSecond), 'raw batched SQLite INSERT of the same rows', num(raw.trajectoriesPerCpuSecond), 'higher'),
    f('store bytes on disk per trajectory', 'B', num(ingest.bytesPerTrajectory), 'raw JSONL bytes per trajectory', num(r.jsonlBytesPerTrajectory), 'lower', `raw INSERT store: ${num(raw.bytesPerTrajectory) ?? '?'} B/trajectory; FTS index ${num(r.ftsBytesPerTrajectory) ?? '?'} B/trajectory`),
  ];
}

/** bench/ui-preview.ts prints report lines (render times in headless Chromium); targets are issue 5's. */
function uiPreviewFigures(stdout: string): Figure[] {
  const device = cpuDevice();
  const command = 'node --import tsx bench/ui-preview.ts (render only, sample data)';
  const out: Figure[] = [];
  const add = (name: string, value: number, target: number, note?: string, peer = 'issue 5 target') =>
    out.push({ benchmark: 'ui', name, unit: 'ms', value, peer, peerValue: target, ratio: Math.round((value / target) * 1000) / 1000, better: 'lower', device, command, ...(note ? { note } : {}) });
  const open = /inspector open group[^:]*: p50 ([\d.]+) ms, p95 ([\d.]+) ms/.exec(stdout);
  if (open) add('inspector group render p95 (ms)', Number(open[2]), 150, 'render only; the store query is in the queries benchmark');
  for (const m of stdout.matchAll(/150K trace \+ heatmap,? ?([^:]*): p50 ([\d.]+) ms, max ([\d.]+) ms/g)) {
    const how = (m[1] ?? '').trim();
    add(`150K-character trace with heatmap${how ? `, ${how}` : ''}, max (ms)`, Number(m[3]), 200);
  }
  const find = /find in the 150K trace \(reasoning folded\), hit revealed: p50 ([\d.]+) ms, p95 ([\d.]+) ms, max ([\d.]+) ms over (\d+) \((\d+) of (\d+)/.exec(stdout);
  if (find) add('find-in-trace on the 150K trace, reasoning folded, hit revealed, p95 (ms)', Number(find[2]), 100, `p50 ${find[1]} ms, max ${find[3]} ms over ${find[4]} searches (${find[5]} of ${find[6]} queries have hits); from the input event to the frame after the hit is revealed; in-page, so the store's size does not enter it (the group is already open)`, 'issue 18 target');
  const dash = [...stdout.matchAll(/dashboard 2,000 steps \((\w+)\): ([\d.]+) ms/g)].map((m) => Number(m[2]));
  if (dash.length) add('dashboard, 2,000 steps, worst theme (ms)', Math.max(...dash), 300, 'render only; stepSeries on the 2M store is in the queries benchmark');
  return out;
}

/** python -m reward_lens.bench_overhead prints per-variant step timings; the peer of OGER is GRPO (and LUFFY). */
function trainerFigures(r: Record<string, unknown>): Figure[] {
  const rows = Array.isArray(r.rows) ? (r.rows as Record<string, unknown>[]) : [];
  const by = new Map(rows.map((x) => [String(x.variant), x]));
  const oger = by.get('oger');
  const grpo = by.get('grpo');
  const luffy = by.get('luffy');
  const device = typeof r.device === 'string' && r.device !== 'cpu' ? r.device : cpuDevice();
  const command = 'python -m reward_lens.bench_overhead';
  const out: Figure[] = [];
  const add = (name: string, unit: string, value: number | null, peer: string, peerValue: number | null, note?: string) =>
    out.push({ benchmark: 'trainer', name, unit, value, peer, peerValue, ratio: value !== null && peerValue ? Math.round((value / peerValue) * 1000) / 1000 : null, better: 'lower', device, command, ...(note ? { note } : {}) });
  if (oger && grpo) add('step time, OGER (s)', 's', num(oger.step_s), 'GRPO, same config and seed', num(grpo.step_s), `OGER reward share of its step: ${((num(oger.oger_share) ?? Number.NaN) * 100).toFixed(1)}% (embedding the online responses + divergence/replacement/scoring)`);
  if (oger && luffy) add('step time, OGER vs LUFFY (s)', 's', num(oger.step_s), 'LUFFY, same config and seed', num(luffy.step_s), `paper: OGER 168 vs LUFFY 120 GPU-hours (×${(168 / 120).toFixed(2)})`);
  if (oger) add('OGER reward time per step (s)', 's', num(oger.oger_reward_s), 'OGER step time', num(oger.step_s));
  return out;
}

/** Our benchmarks print {figures: Figure[]}; others' JSON is kept whole under `result` as well. */
function extractFigures(name: string, result: Record<string, unknown> | null, stdout = ''): Figure[] {
  if (name === 'ingest' && result && !Array.isArray(result.figures)) return ingestFigures(result);
  if (name === 'trainer' && result && !Array.isArray(result.figures)) return trainerFigures(result);
  if (name.startsWith('ui') && !(result && Array.isArray(result.figures))) return uiPreviewFigures(stdout);
  if (!result) return [];
  const figs = result.figures;
  if (!Array.isArray(figs)) return [];
  return figs
    .filter((f): f is Record<string, unknown> => typeof f === 'object' && f !== null)
    .map((f) => ({
      benchmark: typeof f.benchmark === 'string' ? f.benchmark : name,
      name: String(f.name ?? '?'),
      unit: String(f.unit ?? ''),
      value: typeof f.value === 'number' ? f.value : null,
      peer: typeof f.peer === 'string' ? f.peer : null,
      peerValue: typeof f.peerValue === 'number' ? f.peerValue : null,
      ratio: typeof f.ratio === 'number' ? f.ratio : null,
      better: f.better === 'lower' ? 'lower' : 'higher',
      device: typeof f.device === 'string' ? f.device : cpuDevice(),
      command: typeof f.command === 'string' ? f.command : name,
      ...(typeof f.note === 'string' ? { note: f.note } : {}),
    }));
}

/** GPU figures are whatever a benchmark reported with a non-CPU device; none means the GPU line stays open. */
function gpuFigures(results: readonly JobResult[]): { figures: Figure[]; devicesSeen: string[] } {
  const devicesSeen = new Set<string>();
  const figures: Figure[] = [];
  const walk = (x: unknown): void => {
    if (Array.isArray(x)) x.forEach(walk);
    else if (x && typeof x === 'object') {
      for (const [k, v] of Object.entries(x)) {
        if (k === 'device' && typeof v === 'string' && !v.startsWith('cpu')) devicesSeen.add(v);
        walk(v);
      }
    }
  };
  for (const r of results) {
    walk(r.result);
    for (const f of r.figures) if (!f.device.startsWith('cpu')) figures.push(f);
  }
  return { figures, devicesSeen: [...devicesSeen] };
}

/**
 * --record-from LOG: folds the final JSON line of an earlier `npm run bench` log into
 * bench/RESULTS.md, so a benchmark measured in a separate (e.g. --only) run is recorded as measured.
 */
function recordFrom(log: string): void {
  const summary = lastJsonLine(readFileSync(log, 'utf8')) as
    | { date: string; machine: StoredBenchmark['machine']; command: string; quick?: boolean; benchmarks: Record<string, { status: string; command: string; seconds: number; reason: string | null; result: Record<string, unknown> | null }>; figures: Figure[] }
    | null;
  if (!summary?.benchmarks) throw new Error(`${log} has no runner summary line`);
  if (summary.quick) throw new Error(`${log} is a --quick run: its figures are not comparable`);
  const update: Record<string, StoredBenchmark> = {};
  for (const [name, b] of Object.entries(summary.benchmarks)) {
    const { figures: _f, ...details } = b.result ?? {};
    update[name] = {
      date: summary.date, machine: summary.machine, command: b.command, runCommand: summary.command, status: b.status, seconds: b.seconds,
      reason: b.reason, figures: summary.figures.filter((f) => f.benchmark === name || (name === 'ui' && f.benchmark.startsWith('ui'))), details: b.result ? details : null,
    };
  }
  const file = writeResultsMarkdown(mergeResults(update));
  console.log(`recorded ${Object.keys(update).join(', ')} from ${log} into ${path.relative(process.cwd(), file)}`);
}

async function main(): Promise<void> {
  if (args.includes('--record-from')) {
    recordFrom(args[args.indexOf('--record-from') + 1] as string);
    return;
  }
  const started = new Date();
  const results: JobResult[] = [];
  for (const job of jobs) {
    if (only && !only.has(job.name) && !only.has(job.name.split(':')[0] as string)) continue;
    results.push(await runJob(job));
  }
  const gpu = gpuFigures(results);
  console.log('\n## Summary');
  for (const r of results) {
    console.log(`${r.name.padEnd(10)} ${r.status.padEnd(8)} ${String(r.seconds).padStart(7)} s  ${r.reason ?? ''}`);
  }
  if (gpu.devicesSeen.length === 0) console.log('gpu        open     no benchmark reported a GPU figure on this machine');
  const summary = {
    date: started.toISOString(),
    machine: machineSummary(),
    device: cpuDevice(),
    command: `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`,
    quick,
    benchmarks: Object.fromEntries(
      results.map((r) => [
        r.name,
        { status: r.status, command: r.command, seconds: r.seconds, exitCode: r.exitCode, reason: r.reason ?? null, result: r.result },
      ]),
    ),
    figures: results.flatMap((r) => r.figures),
    gpu: gpu.devicesSeen.length ? { status: 'reported', devices: gpu.devicesSeen, figures: gpu.figures } : { status: 'open', reason: 'no benchmark reported a GPU figure' },
    missing: results.filter((r) => r.status === 'missing').map((r) => r.name),
    failed: results.filter((r) => r.status === 'failed' || r.status === 'timeout').map((r) => r.name),
  };
  process.exitCode = summary.missing.length || summary.failed.length ? 1 : 0;
  // --quick figures are not comparable (smaller sizes): they never reach bench/RESULTS.md.
  if (!quick && !args.includes('--no-results')) {
    const update: Record<string, StoredBenchmark> = {};
    for (const r of results) {
      const { figures: _f, ...details } = r.result ?? {};
      update[r.name] = {
        date: started.toISOString(), machine: summary.machine, command: r.command, runCommand: summary.command, status: r.status,
        seconds: r.seconds, reason: r.reason ?? null, figures: r.figures, details: r.result ? details : null,
      };
    }
    const file = writeResultsMarkdown(mergeResults(update));
    console.log(`results written to ${path.relative(process.cwd(), file)}`);
  }
  console.log(JSON.stringify(summary));
}

main().catch((e: unknown) => {
  // Even a bug in the runner ends with a JSON line, so a caller parsing the last line learns why.
  console.error(e);
  console.log(JSON.stringify({ date: new Date().toISOString(), error: String((e as Error)?.stack ?? e) }));
  process.exitCode = 1;
});

// Verifier-faults benchmark (issue 6 at full size, issue 16's throughput): re-verify 100,000 stored
// trajectories with a verifier that raises on 1% of inputs and hangs on 0.1%, then cancel a second
// run mid-way. Twice: with a verifier that reads the whole response (every trajectory is a call),
// and with one that declares it reads only the answer part (called once per distinct answer and
// gold; the faults sit in the answer part there). The fault suite runs the first on 5,000
// (test/faults/reverify.test.ts). The peer is the figure of the code before issue 16 (416/s,
// bench/RESULTS.md of 2026-11-23) and, with REWARD_LENS_BENCH_BASELINE=<checkout>, that checkout's
// reverifyRun on the same scenario in the same run.
//
// Run alone: node --import tsx bench/reverify.ts [--trajectories N] [--baseline DIR]
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { cpuDevice, ensureCacheDir, figure, findPython, printTable, REPO_ROOT, round, type Figure } from './lib/common';
import { buildReverifyFixture, runAndCancel, runFaulty, ReverifyCancelled, type FixtureOptions, type ReverifyRunOptions } from '../test/kit/reverifyFixture';

/** bench/RESULTS.md, reverify, 2026-11-23 (the code before issue 16), 2 processes x 2 workers. */
const BEFORE_PER_S = 416;

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** Another checkout's store, ingest and reverify, bundled like this benchmark. */
async function baselineModules(root: string): Promise<{ fixture: FixtureOptions['modules']; impl: ReverifyRunOptions['impl'] }> {
  const dir = ensureCacheDir();
  const entry = path.join(dir, `reverify-baseline-entry-${process.pid}.ts`);
  writeFileSync(entry, ['store/store', 'ingest/ingest', 'reverify/reverify'].map((m, i) => `export * as m${i} from ${JSON.stringify(path.join(root, 'src/node', `${m}.ts`))};`).join('\n'));
  const outfile = path.join(dir, `reverify-baseline-${process.pid}.mjs`);
  await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile, logLevel: 'warning', banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" } });
  const b = (await import(pathToFileURL(outfile).href)) as Record<string, Record<string, unknown>>;
  rmSync(entry, { force: true });
  rmSync(outfile, { force: true });
  const RunStore = b.m0?.RunStore as NonNullable<FixtureOptions['modules']>['RunStore'];
  return {
    fixture: { RunStore, ingestFile: b.m1?.ingestFile as NonNullable<FixtureOptions['modules']>['ingestFile'] },
    impl: { RunStore, reverifyRun: b.m2?.reverifyRun as NonNullable<ReverifyRunOptions['impl']>['reverifyRun'] },
  };
}

export async function runReverifyBench(trajectories: number, baseline?: string): Promise<{ figures: Figure[]; details: Record<string, unknown>; problems: string[] }> {
  const python = findPython();
  if (!python) throw new Error('no Python backend: set REWARD_LENS_PYTHON or run scripts/setup.sh (.venv)');
  const device = cpuDevice();
  const command = 'npm run bench -- --only reverify (bench/reverify.ts)';
  const problems: string[] = [];
  const details: Record<string, unknown> = { loadAverage1mAtStart: loadavg()[0] };
  const common = { benchmark: 'reverify', device, command } as const;
  const figures: Figure[] = [];
  const backendRoot = path.join(REPO_ROOT, 'python');

  // The same scenario through another checkout's code first, so neither side gets a warmer cache alone.
  let baselinePerS: number | null = null;
  if (baseline) {
    const dir = mkdtempSync(path.join(tmpdir(), 'rl-bench-reverify-base-'));
    try {
      const mods = await baselineModules(path.resolve(baseline));
      const f = await buildReverifyFixture(dir, trajectories, { modules: mods.fixture });
      // The old code's own defaults as the extension and this benchmark ran it: 2 processes x 2 workers.
      const run = await runFaulty(f, { python, backendRoot, processes: 2, workersPerProcess: 2, timeoutS: 1, impl: mods.impl });
      baselinePerS = f.trajectories / run.seconds;
      details.baseline = { root: baseline, seconds: round(run.seconds, 1), perSecond: Math.round(baselinePerS), errors: run.result.diff.errors.total };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  for (const answerOnly of [false, true]) {
    const dir = mkdtempSync(path.join(tmpdir(), 'rl-bench-reverify-'));
    try {
      const f = await buildReverifyFixture(dir, trajectories, { answerOnly });
      const opts = { python, backendRoot, timeoutS: 1 };
      const run = await runFaulty(f, opts);
      const d = run.result.diff;
      const label = answerOnly ? 'answer-only verifier (deduplicated)' : 'whole-response verifier';
      if (d.errors.total !== f.expectedRaise + f.expectedHang) problems.push(`${label}: errors counted ${d.errors.total}, injected ${f.expectedRaise + f.expectedHang}`);
      if (d.errors.timeouts !== f.expectedHang) problems.push(`${label}: timeouts counted ${d.errors.timeouts}, injected hangs ${f.expectedHang}`);
      if (run.result.written !== f.trajectories) problems.push(`${label}: verdicts written ${run.result.written} of ${f.trajectories}`);
      const perS = f.trajectories / run.seconds;
      const note = `${run.result.verifierCalls} verifier calls for ${f.trajectories} trajectories; defaults: 2 verifier processes, the cores shared out as workers, 8 batches of 64 held per process; 1 s per-item timeout; load average ${loadavg()[0]?.toFixed(1)} at the end`;
      figures.push(
        figure({ ...common, name: `re-verify ${f.trajectories} trajectories, 1% raising + 0.1% hanging, ${label} (s)`, unit: 's', value: round(run.seconds, 1), peer: null, peerValue: null, better: 'lower', note }),
        figure({ ...common, name: `re-verify throughput with faults, ${label} (trajectories/s)`, unit: 'trajectories/s', value: Math.round(perS), peer: 'the code before issue 16 (bench/RESULTS.md 2026-11-23)', peerValue: BEFORE_PER_S, better: 'higher' }),
      );
      if (!answerOnly && baselinePerS !== null) {
        figures.push(figure({ ...common, name: `re-verify throughput with faults, ${label}, against the baseline checkout in this run (trajectories/s)`, unit: 'trajectories/s', value: Math.round(perS), peer: `${baseline} (same scenario, same run)`, peerValue: Math.round(baselinePerS), better: 'higher' }));
      }
      figures.push(
        figure({ ...common, name: `errors counted / injected, ${label}`, unit: 'count', value: d.errors.total, peerValue: f.expectedRaise + f.expectedHang, peer: 'injected', better: 'higher' }),
        figure({ ...common, name: `timeouts counted / injected hangs, ${label}`, unit: 'count', value: d.errors.timeouts, peerValue: f.expectedHang, peer: 'injected', better: 'higher' }),
        figure({ ...common, name: `max event-loop lag during re-verify, ${label} (ms)`, unit: 'ms', value: run.maxEventLoopLagMs, peer: null, peerValue: null, better: 'lower' }),
      );
      details[answerOnly ? 'answerOnly' : 'wholeResponse'] = {
        trajectories: f.trajectories, ingestSeconds: round(f.ingestSeconds, 1), injected: { raise: f.expectedRaise, hang: f.expectedHang }, errors: d.errors.total,
        timeouts: d.errors.timeouts, verifierCalls: run.result.verifierCalls, processRestarts: run.result.processRestarts, flips: d.flips, signFlips: d.signFlips,
      };
      if (!answerOnly) {
        const cancel = await runAndCancel(f, opts, Math.min(20_000, Math.floor(f.trajectories / 4)));
        if (!(cancel.error instanceof ReverifyCancelled)) problems.push(`cancel did not surface as ReverifyCancelled: ${String(cancel.error)}`);
        figures.push(figure({ ...common, name: 'cancel to settled (ms)', unit: 'ms', value: cancel.settleMs, peer: null, peerValue: null, better: 'lower', note: `cancelled after ${cancel.doneAtCancel} items` }));
        details.cancel = { doneAtCancel: cancel.doneAtCancel, settleMs: cancel.settleMs };
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { figures, problems, details };
}

// realpath: run through a symlinked .cache (a worktree sharing one), argv[1] is the link, import.meta.url the target.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const n = Number(argValue('--trajectories') ?? 100_000);
  runReverifyBench(n, argValue('--baseline') ?? process.env.REWARD_LENS_BENCH_BASELINE).then(
    (res) => {
      printTable(`Verifier faults: re-verify ${n} trajectories`, res.figures);
      for (const p of res.problems) console.log(`PROBLEM: ${p}`);
      console.log(JSON.stringify({ benchmark: 'reverify', ok: res.problems.length === 0, figures: res.figures, details: res.details, problems: res.problems }));
      process.exitCode = res.problems.length === 0 ? 0 : 1;
    },
    (e: unknown) => {
      console.error(e);
      console.log(JSON.stringify({ benchmark: 'reverify', ok: false, error: String((e as Error)?.stack ?? e) }));
      process.exitCode = 1;
    },
  );
}

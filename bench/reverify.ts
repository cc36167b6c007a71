// Verifier-faults benchmark (issue 6 at full size): re-verify 100,000 stored trajectories with a
// verifier that raises on 1% of inputs and hangs on 0.1%, then cancel a second run mid-way. The fault
// suite runs the same scenario on 5,000 (test/faults/reverify.test.ts).
//
// Run alone: node --import tsx bench/reverify.ts [--trajectories N]
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { cpuDevice, figure, findPython, printTable, REPO_ROOT, round, type Figure } from './lib/common';
import { buildReverifyFixture, runAndCancel, runFaulty, ReverifyCancelled } from './lib/reverifyFixture';

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

export async function runReverifyBench(trajectories: number): Promise<{ figures: Figure[]; details: Record<string, unknown>; problems: string[] }> {
  const python = findPython();
  if (!python) throw new Error('no Python backend: set REWARD_LENS_PYTHON or run scripts/setup.sh (.venv)');
  const device = cpuDevice();
  const command = 'npm run bench -- --only reverify (bench/reverify.ts)';
  const dir = mkdtempSync(path.join(tmpdir(), 'rl-bench-reverify-'));
  const problems: string[] = [];
  try {
    const f = await buildReverifyFixture(dir, trajectories);
    const opts = { python, backendRoot: path.join(REPO_ROOT, 'python'), processes: 2, workersPerProcess: 2, timeoutS: 1 };
    const run = await runFaulty(f, opts);
    const d = run.result.diff;
    if (d.errors.total !== f.expectedRaise + f.expectedHang) problems.push(`errors counted ${d.errors.total}, injected ${f.expectedRaise + f.expectedHang}`);
    if (d.errors.timeouts !== f.expectedHang) problems.push(`timeouts counted ${d.errors.timeouts}, injected hangs ${f.expectedHang}`);
    if (run.result.written !== f.trajectories) problems.push(`verdicts written ${run.result.written} of ${f.trajectories}`);
    const cancel = await runAndCancel(f, opts, Math.min(20_000, Math.floor(f.trajectories / 4)));
    if (!(cancel.error instanceof ReverifyCancelled)) problems.push(`cancel did not surface as ReverifyCancelled: ${String(cancel.error)}`);
    const common = { benchmark: 'reverify', peer: null, peerValue: null, device, command } as const;
    const figures: Figure[] = [
      figure({ ...common, name: `re-verify ${f.trajectories} trajectories, 1% raising + 0.1% hanging verifier (s)`, unit: 's', value: round(run.seconds, 1), better: 'lower', note: '2 verifier processes x 2 workers, 1 s per-item timeout; no peer: the fault suite runs the same scenario on 5,000' }),
      figure({ ...common, name: 're-verify throughput with faults (trajectories/s)', unit: 'trajectories/s', value: Math.round(f.trajectories / run.seconds), better: 'higher' }),
      figure({ ...common, name: 'errors counted / injected', unit: 'count', value: d.errors.total, peerValue: f.expectedRaise + f.expectedHang, peer: 'injected', better: 'higher' }),
      figure({ ...common, name: 'timeouts counted / injected hangs', unit: 'count', value: d.errors.timeouts, peerValue: f.expectedHang, peer: 'injected', better: 'higher' }),
      figure({ ...common, name: 'max event-loop lag during re-verify (ms)', unit: 'ms', value: run.maxEventLoopLagMs, better: 'lower' }),
      figure({ ...common, name: 'cancel to settled (ms)', unit: 'ms', value: cancel.settleMs, better: 'lower', note: `cancelled after ${cancel.doneAtCancel} items` }),
    ];
    return {
      figures,
      problems,
      details: {
        trajectories: f.trajectories,
        ingestSeconds: round(f.ingestSeconds, 1),
        injected: { raise: f.expectedRaise, hang: f.expectedHang },
        errors: d.errors,
        processRestarts: run.result.processRestarts,
        flips: d.flips,
        signFlips: d.signFlips,
        cancel: { doneAtCancel: cancel.doneAtCancel, settleMs: cancel.settleMs },
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// realpath: run through a symlinked .cache (a worktree sharing one), argv[1] is the link, import.meta.url the target.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const n = Number(argValue('--trajectories') ?? 100_000);
  runReverifyBench(n).then(
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

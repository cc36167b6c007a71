// reward-lens audit: recompute D for stored runs with an exported encoder folder and compare it
// with the logged D (audit), or vary the encoder/strategy and report what the reward would have
// done (what-if). Exit codes: 0 done, 3 an audit found D mismatches, 1 error, 2 usage.
import { RunStore } from '../store';
import { auditScope, DEFAULT_TOLERANCE, type AuditOptions, type AuditScope, type Quantiles, type RunAudit } from '../audit/audit';
import { STRATEGIES } from '../encoder/folder';
import { ENCODER_OPTIONS } from './embed';
import { UsageError, choiceFlag, flag, intFlag, required, str, type CliCommand, type OptionSpec } from './command';

const fmt = (x: number | null | undefined, digits = 6) => (x === null || x === undefined ? '-' : x.toFixed(digits));

function quantileLine(q: Quantiles | null): string {
  if (!q) return 'none';
  return `n=${q.count} min ${fmt(q.min, 4)} p5 ${fmt(q.p05, 4)} p25 ${fmt(q.p25, 4)} median ${fmt(q.median, 4)} p75 ${fmt(q.p75, 4)} p95 ${fmt(q.p95, 4)} max ${fmt(q.max, 4)} mean ${fmt(q.mean, 4)}`;
}

export function formatAudit(a: RunAudit, maxFlags = 20): string {
  const lines: string[] = [];
  lines.push(`run ${a.runId}: ${a.skipped ? `skipped (${a.skipped})` : a.mode}`);
  if (a.skipped || !a.encoder) return lines.join('\n');
  const s = a.encoder.settings;
  const match = a.encoder.matchesRun === null ? 'no fingerprint logged to check' : a.encoder.matchesRun ? 'matches the run' : 'differs from the run';
  lines.push(`  encoder ${a.encoder.dir} (${s.pooling}, max_length ${s.maxLength}, ${s.strategy}; fingerprint ${a.encoder.fingerprint.slice(0, 12)}…, ${match})`);
  if (a.runEncoder) lines.push(`  run logged ${a.runEncoder.id} (${a.runEncoder.strategy})`);
  for (const w of a.encoder.warnings) lines.push(`  warning: ${w}`);
  lines.push(`  ${a.groups} groups, ${a.trajectories} trajectories; ${a.embedded} texts embedded, ${a.cached} from the cache`);
  const d = a.divergence;
  lines.push(`  D: ${d.compared} compared, ${d.notLogged} not logged, max |ΔD| ${fmt(d.maxAbsDelta)}, ${d.flags.length} beyond tolerance ${a.tolerance}`);
  lines.push(`  ΔD: ${quantileLine(d.deltaD)}`);
  for (const f of d.flags.slice(0, maxFlags)) {
    lines.push(`    ${JSON.stringify(f.trajectoryId)} (step ${f.step}, prompt ${JSON.stringify(f.promptId)}, group ${f.groupId}): logged ${fmt(f.logged)} recomputed ${fmt(f.recomputed)} (Δ ${fmt(f.delta)})`);
  }
  if (d.flags.length > maxFlags) lines.push(`    … and ${d.flags.length - maxFlags} more (use --json)`);
  const w = a.whatIf;
  lines.push(`  re-scored ${w.groups} groups: ${w.replacementChanged} replacement choices changed, ${w.signFlips} advantage signs flipped`);
  lines.push(`  ΔR_total (online): ${quantileLine(w.deltaR)}`);
  for (const e of a.errors.slice(0, maxFlags)) lines.push(`  group ${e.groupId}: not re-scored: ${e.message}`);
  return lines.join('\n');
}

export const auditCommand: CliCommand = {
  name: 'audit',
  usage: 'audit --db DB [--run R] [--encoder DIR] [--strategy S] [--json] [options]',
  summary: 'recompute D with an encoder folder, flag logged D mismatches, or what-if another encoder/strategy',
  options: {
    db: { type: 'string', value: 'DB', required: true, help: 'the run store (SQLite)' },
    run: { type: 'string', value: 'R', help: 'one run (default: every run that logs D)' },
    step: { type: 'string', value: 'N', help: 'one step of the run' },
    group: { type: 'string', value: 'G', help: 'one group (its store row id)' },
    encoder: { type: 'string', value: 'DIR', help: "an exported encoder folder (default: the run's own, when it is one)" },
    strategy: ENCODER_OPTIONS.strategy as OptionSpec,
    threads: ENCODER_OPTIONS.threads as OptionSpec,
    device: ENCODER_OPTIONS.device as OptionSpec,
    tolerance: { type: 'string', value: 'T', help: `|ΔD| beyond which a logged D is flagged (default ${DEFAULT_TOLERANCE})` },
    'batch-size': { type: 'string', value: 'N', help: 'texts per ONNX run' },
    json: { type: 'boolean', help: 'print the audits as JSON' },
  },
  notes: ['exit codes: 0 done, 3 an audit found D mismatches, 1 error, 2 usage'],
  async run(args) {
    const db = required(args, 'db');
    const scope: AuditScope = {};
    const run = str(args, 'run');
    if (run !== undefined) scope.runId = run;
    scope.step = intFlag(args, 'step', 0);
    scope.groupId = intFlag(args, 'group', 0);
    const opts: AuditOptions = {};
    const dir = str(args, 'encoder');
    if (dir !== undefined) opts.encoderDir = dir;
    const strategy = choiceFlag(args, 'strategy', STRATEGIES);
    if (strategy) opts.strategy = strategy;
    const tol = str(args, 'tolerance');
    if (tol !== undefined) {
      const t = Number(tol);
      if (tol.trim() === '' || !(t >= 0)) throw new UsageError(`--tolerance must be a number >= 0, got ${JSON.stringify(tol)}`);
      opts.tolerance = t;
    } else opts.tolerance = DEFAULT_TOLERANCE;
    opts.encoderOptions = { threads: intFlag(args, 'threads', 1), device: choiceFlag(args, 'device', ['cpu', 'cuda'] as const) };
    const bs = intFlag(args, 'batch-size', 1);
    if (bs) opts.batchSize = bs;
    const json = flag(args, 'json');
    if (!json && process.stderr.isTTY) {
      opts.onProgress = (p) => process.stderr.write(`\raudit ${p.runId}: ${p.done}/${p.total} trajectories`);
    }
    const store = await RunStore.open(db);
    let audits: RunAudit[];
    try {
      audits = await auditScope(store, scope, opts);
    } finally {
      await store.close();
    }
    if (opts.onProgress) process.stderr.write('\n');
    if (json) process.stdout.write(JSON.stringify(audits) + '\n');
    else process.stdout.write(audits.map((a) => formatAudit(a)).join('\n') + '\n');
    return audits.some((a) => a.mode === 'audit' && a.divergence.flags.length > 0) ? 3 : 0;
  },
};

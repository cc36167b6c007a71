// reward-lens audit: recompute D for stored runs with an exported encoder folder and compare it
// with the logged D (audit), or vary the encoder/strategy and report what the reward would have
// done (what-if). Exit codes: 0 done, 3 an audit found D mismatches, 1 error, 2 usage.
import { RunStore } from '../store';
import { auditScope, DEFAULT_TOLERANCE, type AuditOptions, type AuditScope, type Quantiles, type RunAudit } from '../audit/audit';
import { isStrategy } from '../encoder/folder';
import { encoderOptionsFromFlags } from './embed';
import { parseFlags, requireFlag, type CliCommand } from './types';

function intFlag(flags: Map<string, string | true>, name: string): number | undefined {
  const v = flags.get(name);
  if (typeof v !== 'string') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${v}`);
  return n;
}

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
  usage: 'audit --db DB [--run R] [--encoder DIR] [--strategy S] [--json]',
  summary: 'recompute D with an encoder folder, flag logged D mismatches, or what-if another encoder/strategy ([--step N] [--group G] [--tolerance T])',
  async run(args) {
    const { flags } = parseFlags(args, ['json']);
    const db = requireFlag(flags, 'db');
    const scope: AuditScope = {};
    const run = flags.get('run');
    if (typeof run === 'string') scope.runId = run;
    scope.step = intFlag(flags, 'step');
    scope.groupId = intFlag(flags, 'group');
    const opts: AuditOptions = {};
    const dir = flags.get('encoder');
    if (typeof dir === 'string') opts.encoderDir = dir;
    const strategy = flags.get('strategy');
    if (typeof strategy === 'string') {
      if (!isStrategy(strategy)) throw new Error(`--strategy must be truncate or chunk-mean, got ${strategy}`);
      opts.strategy = strategy;
    }
    const tol = flags.get('tolerance');
    if (typeof tol === 'string') {
      const t = Number(tol);
      if (!(t >= 0)) throw new Error(`--tolerance must be a number >= 0, got ${tol}`);
      opts.tolerance = t;
    } else opts.tolerance = DEFAULT_TOLERANCE;
    const enc = encoderOptionsFromFlags(flags);
    opts.encoderOptions = { threads: enc.threads, device: enc.device };
    const bs = intFlag(flags, 'batch-size');
    if (bs) opts.batchSize = bs;
    const json = flags.get('json') === true;
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

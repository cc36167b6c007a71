// The pure half of the in-editor divergence audit and encoder what-if: which scope a command
// argument or a tree selection means, and the Markdown report and one-line summary of a result.
// No vscode import, so it is unit-tested (test/unit/extensionEncoder.test.ts); register.ts wires it.
import type { AuditScope, Quantiles, RunAudit } from '../../node/audit/audit';
import { oneLine } from '../../core/formatText';

export type AuditMode = 'audit' | 'what-if';

/** Rows beyond this are counted, not listed: a report of 50,000 flags would be unreadable and slow to open. */
export const MAX_REPORT_ROWS = 500;

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isIndex(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0;
}

function parseIndex(x: unknown): number | undefined {
  if (isIndex(x)) return x;
  if (typeof x === 'string' && /^\d{1,15}$/.test(x.trim())) return Number(x.trim());
  return undefined;
}

/**
 * The scope a command was invoked with: a Runs tree node (run, step or group, from its context
 * menu), a group row id (as rewardLens.openGroup takes it), or a plain {runId?, step?, groupId?}
 * from another command or a test. Anything else (a message node, garbage) means "ask".
 */
export function scopeFromArgument(arg: unknown): AuditScope | undefined {
  const asId = parseIndex(arg);
  if (asId !== undefined) return { groupId: asId };
  if (!isRecord(arg)) return undefined;
  if (arg.kind === 'run' && isRecord(arg.run) && typeof arg.run.runId === 'string') return { runId: arg.run.runId };
  if (arg.kind === 'step' && typeof arg.runId === 'string' && isRecord(arg.step) && isIndex(arg.step.step)) return { runId: arg.runId, step: arg.step.step };
  if (arg.kind === 'group' && isRecord(arg.group) && isIndex(arg.group.groupId)) {
    return typeof arg.group.runId === 'string' ? { runId: arg.group.runId, groupId: arg.group.groupId } : { groupId: arg.group.groupId };
  }
  if ('kind' in arg) return undefined;
  const scope: AuditScope = {};
  if (arg.runId !== undefined) {
    if (typeof arg.runId !== 'string' || arg.runId.length === 0) return undefined;
    scope.runId = arg.runId;
  }
  if (arg.step !== undefined) {
    const step = parseIndex(arg.step);
    if (step === undefined || scope.runId === undefined) return undefined; // a step number means nothing without its run
    scope.step = step;
  }
  if (arg.groupId !== undefined) {
    const g = parseIndex(arg.groupId);
    if (g === undefined) return undefined;
    scope.groupId = g;
  }
  return scope.runId !== undefined || scope.groupId !== undefined ? scope : undefined;
}

export interface ScopeChoice {
  label: string;
  description: string;
  /** the scope, or what still has to be asked: a step of `runId`, or another run */
  scope?: AuditScope;
  ask?: { kind: 'step'; runId: string } | { kind: 'run' };
}

/** A short human name of a tree node's scope, for the quick pick (escaping is the quick pick's job: it renders text). */
function nodeLabel(node: unknown): string | undefined {
  if (!isRecord(node)) return undefined;
  if (node.kind === 'group' && isRecord(node.group)) {
    const g = node.group;
    const prompt = typeof g.promptId === 'string' ? oneLine(g.promptId, 60) : '?';
    return `Selected group: prompt ${prompt}, step ${isIndex(g.step) ? g.step : '?'}`;
  }
  if (node.kind === 'step' && typeof node.runId === 'string' && isRecord(node.step)) return `Selected step ${String(node.step.step)} of run ${oneLine(node.runId, 60)}`;
  if (node.kind === 'run' && isRecord(node.run) && typeof node.run.runId === 'string') return `Selected run ${oneLine(node.run.runId, 60)}`;
  return undefined;
}

/**
 * What the scope quick pick offers, first the default: the group (or step, or run) selected in the
 * Runs tree, then the active run as a whole, one of its steps, or another run.
 */
export function scopeChoices(selected: unknown, activeRunId: string | undefined): ScopeChoice[] {
  const out: ScopeChoice[] = [];
  const fromTree = scopeFromArgument(selected);
  const label = nodeLabel(selected);
  if (fromTree && label) out.push({ label, description: 'from the Runs tree', scope: fromTree });
  if (activeRunId !== undefined) {
    const name = oneLine(activeRunId, 60);
    if (!(fromTree && fromTree.runId === activeRunId && fromTree.step === undefined && fromTree.groupId === undefined)) {
      out.push({ label: `Whole run ${name}`, description: 'every group of the active run', scope: { runId: activeRunId } });
    }
    out.push({ label: `One step of run ${name}…`, description: 'pick the step next', ask: { kind: 'step', runId: activeRunId } });
  }
  out.push({ label: 'Another run…', description: 'pick a run from the store', ask: { kind: 'run' } });
  return out;
}

/** Plain-text name of a scope (notifications, quick-pick titles). */
export function describeScope(scope: AuditScope, promptId?: string): string {
  if (scope.groupId !== undefined) return `group ${scope.groupId}${promptId !== undefined ? ` (prompt ${oneLine(promptId, 60)})` : ''}`;
  if (scope.step !== undefined) return `step ${scope.step} of run ${oneLine(scope.runId ?? '?', 60)}`;
  return `run ${oneLine(scope.runId ?? '?', 60)}`;
}

/** Enough digits to see a 1e-4 disagreement between two D values. */
export function fmtD(x: number): string {
  return Number.isFinite(x) ? x.toFixed(6) : String(x);
}

export function fmtDelta(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  const body = a < 1e-3 || a >= 1e4 ? a.toExponential(2) : a.toFixed(4);
  return `${x < 0 ? '−' : '+'}${body}`;
}

/**
 * Escapes the characters that can make inline Markdown active (links, images, HTML, code, emphasis,
 * table pipes, entities). The report is read as text in the editor first, so characters that only
 * matter at the start of a line (#, -, +, digits with a dot) are left alone: every escaped value is
 * flattened to one line and never starts one.
 */
export function mdInline(s: string): string {
  return s.replace(/[\\`*_[\]<>|~&]/g, (c) => `\\${c}`);
}

/** A table cell: one line, escaped, bounded (ids and prompts are trainer data: anything may be in them). */
function cell(s: string, max = 120): string {
  return mdInline(oneLine(s, max));
}

function quantileTable(q: Quantiles): string {
  const cols: [string, number][] = [['min', q.min], ['p5', q.p05], ['p25', q.p25], ['median', q.median], ['p75', q.p75], ['p95', q.p95], ['max', q.max], ['mean', q.mean]];
  return `| n | ${cols.map(([k]) => k).join(' | ')} |\n|---|${cols.map(() => '---').join('|')}|\n| ${q.count} | ${cols.map(([, v]) => fmtDelta(v)).join(' | ')} |\n`;
}

function limitNote(total: number, shown: number): string {
  return total > shown ? `\n… and ${total - shown} more (not listed).\n` : '';
}

function encoderSection(a: RunAudit): string {
  const lines: string[] = [];
  if (a.runEncoder) {
    const r = a.runEncoder;
    const extra = [r.pooling !== undefined ? `pooling ${cell(r.pooling)}` : '', r.max_length !== undefined ? `max length ${r.max_length}` : ''].filter(Boolean).join(', ');
    lines.push(`- Run's encoder: ${cell(r.id, 200)} (strategy ${cell(r.strategy)}${extra ? `, ${extra}` : ''})`);
  }
  const e = a.encoder;
  if (e) {
    lines.push(`- Encoder used: ${cell(e.dir, 300)}${e.sourceModelId ? ` (exported from ${cell(e.sourceModelId, 200)})` : ''}`);
    lines.push(`- Settings: strategy ${e.settings.strategy}, pooling ${e.settings.pooling}, max length ${e.settings.maxLength}, normalize ${e.settings.normalize}`);
    lines.push(`- Fingerprint: ${cell(e.fingerprint.slice(0, 16))}… ${e.matchesRun === true ? '(matches the run\'s)' : e.matchesRun === false ? '(differs from the run\'s)' : '(the run logged none to compare)'}`);
    for (const w of e.warnings) lines.push(`- Warning: ${cell(w, 400)}`);
  }
  return lines.join('\n');
}

function runSection(a: RunAudit, mode: AuditMode): string {
  const parts: string[] = [`## Run ${cell(a.runId)}`, ''];
  if (a.skipped) {
    parts.push(`Not audited: ${cell(a.skipped, 600)}`, '');
    return parts.join('\n');
  }
  parts.push(
    `Mode: **${a.mode}**${a.mode !== mode ? ` (asked for ${mode})` : ''}`,
    '',
    encoderSection(a),
    '',
    `- Groups: ${a.groups}, trajectories: ${a.trajectories} (${a.embedded} texts embedded now, ${a.cached} from the cache)`,
    `- D compared: ${a.divergence.compared}; online members without a logged D: ${a.divergence.notLogged}`,
    `- Max |ΔD|: ${a.divergence.maxAbsDelta === null ? '–' : fmtDelta(a.divergence.maxAbsDelta).replace(/^\+/, '')}; tolerance ${a.tolerance}`,
    '',
  );
  if (a.divergence.deltaD) parts.push('ΔD = D recomputed − D logged:', '', quantileTable(a.divergence.deltaD));

  const flags = a.divergence.flags;
  parts.push(`### Divergences beyond the tolerance: ${flags.length}`, '');
  if (flags.length > 0) {
    parts.push('| step | group | prompt | trajectory | D logged | D recomputed | ΔD |', '|---|---|---|---|---|---|---|');
    for (const f of flags.slice(0, MAX_REPORT_ROWS)) {
      parts.push(`| ${f.step} | ${f.groupId} | ${cell(f.promptId, 60)} | ${cell(f.trajectoryId)} | ${fmtD(f.logged)} | ${fmtD(f.recomputed)} | ${fmtDelta(f.delta)} |`);
    }
    parts.push(limitNote(flags.length, Math.min(flags.length, MAX_REPORT_ROWS)));
  }

  if (mode === 'what-if' || a.mode === 'what-if') {
    const w = a.whatIf;
    parts.push(
      '### What changes with this encoder and strategy',
      '',
      `- Groups re-scored: ${w.groups}`,
      `- Replacement choices changed: ${w.replacementChanged}`,
      `- Advantage signs flipped: ${w.signFlips}`,
      '',
    );
    if (w.deltaR) parts.push('ΔR_total of online members:', '', quantileTable(w.deltaR));
    else parts.push('ΔR_total: no online member was re-scored.', '');
    if (w.changedGroups.length > 0) {
      parts.push('Groups whose replaced member or advantage signs changed:', '', '| step | group | prompt | replaced before | replaced after | sign flips |', '|---|---|---|---|---|---|');
      for (const g of w.changedGroups.slice(0, MAX_REPORT_ROWS)) {
        const ids = (xs: string[]) => (xs.length ? xs.map((x) => cell(x, 80)).join(', ') : '–');
        parts.push(`| ${g.step} | ${g.groupId} | ${cell(g.promptId, 60)} | ${ids(g.replacedBefore)} | ${ids(g.replacedAfter)} | ${g.signFlips} |`);
      }
      parts.push(limitNote(w.changedGroups.length, Math.min(w.changedGroups.length, MAX_REPORT_ROWS)));
    }
  }
  if (a.errors.length > 0) {
    parts.push(`### Groups that could not be re-scored: ${a.errors.length}`, '');
    for (const e of a.errors.slice(0, MAX_REPORT_ROWS)) parts.push(`- group ${e.groupId}: ${cell(e.message, 400)}`);
    parts.push(limitNote(a.errors.length, Math.min(a.errors.length, MAX_REPORT_ROWS)));
  }
  return parts.join('\n');
}

export interface ReportContext {
  mode: AuditMode;
  scopeText: string;
  /** ISO time the report was made */
  at: string;
  seconds: number;
}

/** The full report, Markdown; every piece of run data in it is escaped and kept on one line. */
export function formatReport(audits: readonly RunAudit[], ctx: ReportContext): string {
  const title = ctx.mode === 'audit' ? 'Divergence audit' : 'Encoder what-if';
  const head = [
    `# ${title}: ${cell(ctx.scopeText, 200)}`,
    '',
    `${cell(ctx.at, 40)} · ${ctx.seconds.toFixed(1)} s. Open a group listed below with **Open Group…** on the result notification (the group column is the store's group id).`,
    '',
  ];
  return [...head, ...audits.map((a) => runSection(a, ctx.mode)), ''].join('\n');
}

export interface Summary {
  severity: 'info' | 'warning';
  text: string;
}

/** The result notification's one line. */
export function summarize(audits: readonly RunAudit[], mode: AuditMode): Summary {
  const done = audits.filter((a) => !a.skipped);
  if (done.length === 0) {
    const why = audits[0]?.skipped;
    return { severity: 'warning', text: `Reward Lens: nothing was audited${why ? `: ${oneLine(why, 300)}` : ''}.` };
  }
  const flags = done.reduce((n, a) => n + a.divergence.flags.length, 0);
  const compared = done.reduce((n, a) => n + a.divergence.compared, 0);
  const maxAbs = Math.max(0, ...done.map((a) => a.divergence.maxAbsDelta ?? 0));
  const tol = done[0]?.tolerance ?? 0;
  const errors = done.reduce((n, a) => n + a.errors.length, 0);
  const errText = errors > 0 ? `; ${errors} group(s) could not be re-scored` : '';
  if (mode === 'audit') {
    const text = `Reward Lens: ${flags} of ${compared} divergences differ from the logged D by more than ${tol} (max |ΔD| ${fmtDelta(maxAbs).replace(/^\+/, '')})${errText}.`;
    return { severity: flags > 0 || errors > 0 ? 'warning' : 'info', text };
  }
  const changed = done.reduce((n, a) => n + a.whatIf.replacementChanged, 0);
  const flips = done.reduce((n, a) => n + a.whatIf.signFlips, 0);
  const groups = done.reduce((n, a) => n + a.whatIf.groups, 0);
  const median = done.length === 1 ? done[0]?.whatIf.deltaR?.median : undefined;
  const med = median !== undefined ? `, median ΔR_total ${fmtDelta(median)}` : '';
  return { severity: 'info', text: `Reward Lens: what-if over ${groups} group${groups === 1 ? '' : 's'}: ${changed} replacement choices changed, ${flips} advantage signs flipped${med}${errText}.` };
}

export interface GroupLink {
  groupId: number;
  /** trajectory row id to focus in the inspector */
  focus?: string;
  label: string;
  description: string;
}

/** The groups the result points at, for the "Open Group…" quick pick: flagged ones (audit), changed ones (what-if). */
export function groupLinks(audits: readonly RunAudit[], mode: AuditMode): GroupLink[] {
  const out: GroupLink[] = [];
  const seen = new Set<number>();
  for (const a of audits) {
    if (mode === 'what-if' || a.mode === 'what-if') {
      for (const g of a.whatIf.changedGroups) {
        if (seen.has(g.groupId)) continue;
        seen.add(g.groupId);
        const moved = g.replacedBefore.join(',') !== g.replacedAfter.join(',');
        out.push({
          groupId: g.groupId,
          label: `Group ${g.groupId}: prompt ${oneLine(g.promptId, 60)}`,
          description: `step ${g.step} · ${moved ? `replaced ${oneLine(g.replacedBefore.join(', ') || '–', 40)} → ${oneLine(g.replacedAfter.join(', ') || '–', 40)}` : 'same replacement'} · ${g.signFlips} sign flip(s)`,
        });
      }
    }
    if (mode !== 'audit') continue; // under another encoder nearly every D differs: the changed groups are the news
    for (const f of a.divergence.flags) {
      if (seen.has(f.groupId)) continue;
      seen.add(f.groupId);
      out.push({
        groupId: f.groupId,
        focus: String(f.trajectoryKey),
        label: `Group ${f.groupId}: prompt ${oneLine(f.promptId, 60)}`,
        description: `step ${f.step} · ${oneLine(f.trajectoryId, 60)}: D logged ${fmtD(f.logged)}, recomputed ${fmtD(f.recomputed)}`,
      });
    }
  }
  return out;
}

// Text for the Runs tree, the status bar and the quick picks. Pure (no vscode import) so it is
// unit-tested; the tree turns these strings into TreeItems. Numbers come from the one formatter
// in src/core/format.ts, so the tree and the webviews print a value alike.
import type { GroupSummary, RunSummary, StepSummary } from '../node/store/types';
import { fmtCompact as num, fmtPercent as pct } from '../core/format';
import { mdEscape, oneLine } from '../core/formatText';

/**
 * "⚠ 3 · acc 62% · R_OGER μ 0.412": the badges of one tree row, compact enough for a narrow side bar.
 * The lint count leads: VS Code cuts a description off at the side bar's edge, and at the default
 * width a count at the end was the part cut. The names are the inspector's (R_OGER μ: mean R_OGER
 * over correct online members).
 */
export function badges(s: { accuracy: number | null; meanROger: number | null; lintCount: number }): string {
  const parts = s.lintCount > 0 ? [`⚠ ${s.lintCount}`] : [];
  parts.push(`acc ${pct(s.accuracy)}`);
  if (s.meanROger !== null) parts.push(`R_OGER μ ${num(s.meanROger, 3)}`);
  return parts.join(' · ');
}

/** "⚠ 3 · " when a row has lints, so its description starts with them; else nothing. */
function lintLead(s: { lintCount: number }): string {
  return s.lintCount > 0 ? `⚠ ${s.lintCount} · ` : '';
}

/** The badges without the lint count, for rows whose description already leads with it. */
function restBadges(s: { accuracy: number | null; meanROger: number | null }): string {
  return badges({ ...s, lintCount: 0 });
}

export function runLabel(r: RunSummary): string {
  return r.runId;
}

export function runDescription(r: RunSummary): string {
  const state = r.status === 'running' ? `step ${r.lastStep ?? '—'} · running` : r.status;
  return `${lintLead(r)}${r.variant} · ${state} · ${restBadges(r)}`;
}

/** Markdown for the run's tooltip. Values from the store are escaped: run ids and models are user data. */
export function runTooltip(r: RunSummary): string {
  const rows: Array<[string, string]> = [
    ['Variant', r.variant],
    ['Model', r.model],
    ['Status', r.status + (r.reason ? ` — ${r.reason}` : '')],
    ['Started', r.startedAt ?? '—'],
    ['Ended', r.endedAt ?? '—'],
    ['Steps', String(r.stepCount)],
    ['Groups', String(r.groupCount)],
    ['Trajectories', String(r.trajectoryCount)],
    ['Accuracy (online)', pct(r.accuracy)],
    ['R_OGER μ (mean over correct online)', num(r.meanROger)],
    ['Lints', String(r.lintCount)],
    ['Replace k', String(r.reward.replace)],
    ['Advantage std', `${r.reward.advantage.std}, eps ${r.reward.advantage.eps}`],
    ['Encoder', r.encoder ? `${r.encoder.id} (${r.encoder.strategy})` : 'none'],
    ['Verifier', r.verifier.name],
  ];
  return mdTable(`Run ${r.runId}`, rows);
}

export function stepLabel(s: StepSummary): string {
  return `step ${s.step}`;
}

export function stepDescription(s: StepSummary): string {
  return `${lintLead(s)}${s.groupCount} group${s.groupCount === 1 ? '' : 's'} · ${restBadges(s)}`;
}

export function stepTooltip(runId: string, s: StepSummary): string {
  const rows: Array<[string, string]> = [
    ['Groups', String(s.groupCount)],
    ['Accuracy (online)', pct(s.accuracy)],
    ['R_OGER μ (mean over correct online)', num(s.meanROger)],
    ['Lints', String(s.lintCount)],
  ];
  for (const [k, v] of Object.entries(s.metrics).sort(([a], [b]) => (a < b ? -1 : 1))) rows.push([k, num(v, 4)]);
  return mdTable(`${runId} · step ${s.step}`, rows);
}

/** The prompt id first (what a researcher searches logs for), then the start of the prompt. */
export function groupLabel(g: GroupSummary): string {
  const id = oneLine(g.promptId, 40);
  const preview = oneLine(g.promptPreview, 60);
  return preview ? oneLine(`${id}: ${preview}`, 72) : id;
}

export function groupDescription(g: GroupSummary): string {
  const zero = g.zeroStd ? ' · zero std' : '';
  return `${lintLead(g)}${g.trajectoryCount} · ${restBadges(g)}${zero}`;
}

export function groupTooltip(g: GroupSummary): string {
  return mdTable(`Group ${g.promptId} · step ${g.step}`, [
    ['Prompt', oneLine(g.promptPreview, 160)],
    ['Members', String(g.trajectoryCount)],
    ['Accuracy (online)', pct(g.accuracy)],
    ['R_OGER μ (mean over correct online)', num(g.meanROger)],
    ['Lints', String(g.lintCount)],
    ['Zero reward std', g.zeroStd ? 'yes: every advantage is 0, no learning signal' : 'no'],
  ]);
}

export function statusBarText(run: Pick<RunSummary, 'runId' | 'status' | 'lastStep'> | null, training: 'starting' | 'running' | 'stopping' | null): string {
  if (training === 'starting') return '$(loading~spin) Reward Lens: starting';
  if (!run) return '$(graph) Reward Lens';
  const step = run.lastStep === null ? 'no steps yet' : `step ${run.lastStep}`;
  if (training === 'stopping') return `$(loading~spin) Reward Lens: ${step} · stopping`;
  const icon = run.status === 'running' ? '$(pulse)' : run.status === 'failed' ? '$(error)' : run.status === 'stopped' ? '$(debug-stop)' : '$(pass)';
  return `${icon} Reward Lens: ${step} · ${run.status}`;
}

function mdTable(title: string, rows: Array<[string, string]>): string {
  const body = rows.map(([k, v]) => `| ${mdEscape(k)} | ${mdEscape(oneLine(v, 300))} |`).join('\n');
  return `**${mdEscape(title)}**\n\n| | |\n|---|---|\n${body}\n`;
}

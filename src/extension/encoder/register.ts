// In-editor divergence audit and encoder what-if (issue 4): the two commands, their quick picks,
// the cancellable progress notification and the read-only Markdown report. The embedding runs in
// the encoder's worker thread and the store is async, so the extension host only waits; cancel
// aborts the job and the worker stops after the batch in flight (≤ ~250 ms of work).
import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { auditScope, type AuditOptions, type AuditScope, type RunAudit } from '../../node/audit/audit';
import { CONFIG_FILE, EXPORT_COMMAND, EncoderFolderError, STRATEGIES, readEncoderFolder, type Strategy } from '../../node/encoder/folder';
import type { RunStoreApi, RunSummary } from '../../node/store/types';
import { settings, workspaceRoot } from '../settings';
import { describeScope, formatReport, groupLinks, scopeChoices, scopeFromArgument, summarize, type AuditMode, type GroupLink } from './report';
import { COMMANDS, type Command } from '../commandRegistry';
import { storeGroupId, type GroupId } from '../../core/ids';

/** Stable texts an end-to-end test finds on screen. */
export const ENCODER_UI = {
  progressTitle: 'Reward Lens: embedding trajectories',
  scopePlaceholder: 'Which trajectories? (Enter: the first choice)',
  stepPlaceholder: 'Which step?',
  runPlaceholder: 'Which run?',
  folderDialogTitle: 'Reward Lens: choose an encoder folder (model.onnx, tokenizer.json, reward_lens_encoder.json)',
  whatIfFolderPlaceholder: 'Which encoder for the what-if?',
  strategyPlaceholder: 'Which long-text strategy?',
  openGroupButton: 'Open Group…',
  showReportButton: 'Show Report',
  reportScheme: 'reward-lens-report',
} as const;

export interface EncoderCommandDeps {
  getStore(): RunStoreApi | undefined;
  activeRunId(): string | undefined;
  /** the node selected in the Runs tree, if any */
  selectedNode(): unknown;
  openGroup(groupId: GroupId, focusTrajectoryId?: string): Promise<void>;
  output: vscode.OutputChannel;
}

/**
 * Texts per round trip to the worker. The audit reports progress once per round trip, and a
 * 512-token trace takes tens of ms on one thread, so 32 keeps the count moving about every second;
 * the cost is one cache lookup and one cache write per round trip.
 */
const CHUNK_TEXTS = 32;
const MAX_KEPT_REPORTS = 20;

class Cancelled extends Error {
  constructor(readonly stoppedInMs: number) {
    super('cancelled');
  }
}

/** Read-only documents for the reports: an untitled editor would invite edits and a save prompt on close. */
class ReportDocuments implements vscode.TextDocumentContentProvider {
  private readonly texts = new Map<string, string>();
  private counter = 0;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.path) ?? '# This report is no longer available\n\nRun the command again.\n';
  }

  async show(title: string, text: string): Promise<void> {
    const path = `/${title} ${++this.counter}.md`;
    this.texts.set(path, text);
    while (this.texts.size > MAX_KEPT_REPORTS) this.texts.delete(this.texts.keys().next().value as string);
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.from({ scheme: ENCODER_UI.reportScheme, path }));
    await vscode.window.showTextDocument(doc, { preview: false });
  }
}

/** Registers the report documents; returns the two commands for the one registry. */
export function activateEncoder(context: vscode.ExtensionContext, deps: EncoderCommandDeps): Command[] {
  const reports = new ReportDocuments();
  let busy = false;
  context.subscriptions.push(vscode.workspace.registerTextDocumentContentProvider(ENCODER_UI.reportScheme, reports));

  // One embedding job at a time: both commands share the worker's cores.
  const oneAtATime = (mode: AuditMode) => async (arg?: unknown) => {
    if (busy) {
      void vscode.window.showWarningMessage('Reward Lens: an embedding job is already running; cancel it from its notification first.');
      return;
    }
    busy = true;
    try {
      await runCommand(mode, arg, deps, reports);
    } finally {
      busy = false;
    }
  };
  return [
    { id: COMMANDS.auditDivergences, execute: oneAtATime('audit') },
    { id: COMMANDS.encoderWhatIf, execute: oneAtATime('what-if') },
  ];
}

async function runCommand(mode: AuditMode, arg: unknown, deps: EncoderCommandDeps, reports: ReportDocuments): Promise<void> {
  const store = deps.getStore();
  if (!store) {
    const pick = await vscode.window.showErrorMessage('Reward Lens: no run store is open.', 'Open Run Store…');
    if (pick) await vscode.commands.executeCommand(COMMANDS.openStore);
    return;
  }
  const scope = scopeFromArgument(arg) ?? (await pickScope(store, deps));
  if (!scope) return;
  const runId = scope.runId ?? (scope.groupId !== undefined ? (await store.getGroup(scope.groupId))?.runId : undefined);
  const run = runId !== undefined ? await store.getRun(runId) : null;
  if (!run) throw new Error(`no run or group ${describeScope(scope)} in the store`);
  if (!run.encoder) {
    void vscode.window.showInformationMessage(`Reward Lens: run ${run.runId} (variant ${run.variant}) logs no divergence, so there is nothing to embed.`);
    return;
  }
  const opts: AuditOptions = {};
  if (mode === 'audit') {
    const dir = await auditFolder(run);
    if (!dir) return;
    opts.encoderDir = dir;
  } else {
    const choice = await whatIfChoice(run);
    if (!choice) return;
    opts.encoderDir = choice.dir;
    opts.strategy = choice.strategy;
  }
  if (!(await folderUsable(opts.encoderDir as string))) return;

  const fullScope: AuditScope = { ...scope, runId: run.runId };
  const total = await expectedTexts(store, run, fullScope);
  const scopeText = describeScope(fullScope, scope.groupId !== undefined ? (await store.getGroup(scope.groupId))?.promptId : undefined);
  const started = Date.now();
  deps.output.appendLine(`[encoder] ${mode} of ${scopeText} with ${opts.encoderDir}${opts.strategy ? ` (${opts.strategy})` : ''}: ${total} texts`);
  let audits: RunAudit[];
  try {
    audits = await embedWithProgress(store, fullScope, opts, total);
  } catch (e) {
    if (e instanceof Cancelled) {
      deps.output.appendLine(`[encoder] ${mode} of ${scopeText} cancelled; the worker stopped ${e.stoppedInMs} ms after the click`);
      void vscode.window.showInformationMessage(`Reward Lens: ${mode} cancelled (stopped in ${e.stoppedInMs} ms).`);
      return;
    }
    if (e instanceof EncoderFolderError) {
      await explainFolderError(e);
      return;
    }
    throw e;
  }
  const seconds = (Date.now() - started) / 1000;
  const text = formatReport(audits, { mode, scopeText, at: new Date().toISOString(), seconds });
  const summary = summarize(audits, mode);
  deps.output.appendLine(`[encoder] ${summary.text} (${seconds.toFixed(1)} s)`);
  await reports.show(mode === 'audit' ? 'Divergence Audit' : 'Encoder What-If', text);
  const links = groupLinks(audits, mode);
  // Not awaited: the command is done; the buttons stay usable while the notification is shown.
  void (async () => {
    const buttons = links.length > 0 ? [ENCODER_UI.openGroupButton, ENCODER_UI.showReportButton] : [ENCODER_UI.showReportButton];
    const show = summary.severity === 'warning' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    const pick = await show(summary.text, ...buttons);
    if (pick === ENCODER_UI.openGroupButton) await pickAndOpenGroup(links, deps);
    else if (pick === ENCODER_UI.showReportButton) await reports.show(mode === 'audit' ? 'Divergence Audit' : 'Encoder What-If', text);
  })().catch((e: Error) => deps.output.appendLine(`[encoder] ${e.message}`));
}

async function pickScope(store: RunStoreApi, deps: EncoderCommandDeps): Promise<AuditScope | undefined> {
  const choices = scopeChoices(deps.selectedNode(), deps.activeRunId());
  const picked = await vscode.window.showQuickPick(
    choices.map((c) => ({ label: c.label, description: c.description, choice: c })),
    { placeHolder: ENCODER_UI.scopePlaceholder, ignoreFocusOut: true },
  );
  if (!picked) return undefined;
  const c = picked.choice;
  if (c.scope) return c.scope;
  if (c.ask?.kind === 'step') {
    const steps = await store.listSteps(c.ask.runId);
    if (steps.length === 0) throw new Error(`run ${c.ask.runId} has no steps yet`);
    const step = await vscode.window.showQuickPick(
      [...steps].sort((a, b) => b.step - a.step).map((s) => ({ label: `Step ${s.step}`, description: `${s.groupCount} groups`, step: s.step })),
      { placeHolder: ENCODER_UI.stepPlaceholder, ignoreFocusOut: true },
    );
    return step ? { runId: c.ask.runId, step: step.step } : undefined;
  }
  const runs = (await store.listRuns()).filter((r) => r.encoder);
  if (runs.length === 0) throw new Error('no run in the store logs a divergence (only OGER runs embed texts)');
  const run = await vscode.window.showQuickPick(
    runs.map((r) => ({ label: r.runId, description: `${r.variant} · ${r.groupCount} groups · ${r.trajectoryCount} trajectories`, runId: r.runId })),
    { placeHolder: ENCODER_UI.runPlaceholder, ignoreFocusOut: true },
  );
  return run ? { runId: run.runId } : undefined;
}

function resolveSettingPath(p: string): string | undefined {
  if (!p) return undefined;
  if (isAbsolute(p)) return p;
  const root = workspaceRoot();
  return root ? join(root, p) : undefined;
}

async function askFolder(): Promise<string | undefined> {
  const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, title: ENCODER_UI.folderDialogTitle, openLabel: 'Use This Encoder' });
  return picked?.[0]?.fsPath;
}

/** The audit's encoder: the setting, else the run's own encoder id when it is an exported folder, else ask. */
async function auditFolder(run: RunSummary): Promise<string | undefined> {
  const fromSetting = resolveSettingPath(settings.encoderFolder());
  if (fromSetting) return fromSetting;
  const own = run.encoder?.id;
  if (own && existsSync(join(own, CONFIG_FILE))) return own;
  return askFolder();
}

async function whatIfChoice(run: RunSummary): Promise<{ dir: string; strategy: Strategy } | undefined> {
  const known = resolveSettingPath(settings.encoderFolder()) ?? (run.encoder && existsSync(join(run.encoder.id, CONFIG_FILE)) ? run.encoder.id : undefined);
  const items: (vscode.QuickPickItem & { dir?: string })[] = [];
  if (known) items.push({ label: 'Current encoder folder', description: known, dir: known });
  items.push({ label: 'Choose another folder…', description: 'an exported encoder folder' });
  const f = await vscode.window.showQuickPick(items, { placeHolder: ENCODER_UI.whatIfFolderPlaceholder, ignoreFocusOut: true });
  if (!f) return undefined;
  const dir = f.dir ?? (await askFolder());
  if (!dir) return undefined;
  const runStrategy = run.encoder?.strategy;
  const s = await vscode.window.showQuickPick(
    STRATEGIES.map((st) => ({ label: st, description: st === runStrategy ? "the run's" : st === 'truncate' ? 'first max_length − 2 tokens' : 'mean of every window', strategy: st })),
    { placeHolder: ENCODER_UI.strategyPlaceholder, ignoreFocusOut: true },
  );
  return s ? { dir, strategy: s.strategy } : undefined;
}

/** Checks the folder before any work, so a missing file is explained at once. */
async function folderUsable(dir: string): Promise<boolean> {
  try {
    await readEncoderFolder(dir);
    return true;
  } catch (e) {
    if (e instanceof EncoderFolderError) {
      await explainFolderError(e);
      return false;
    }
    throw e;
  }
}

async function explainFolderError(e: EncoderFolderError): Promise<void> {
  // The message names the missing file and the export command (src/node/encoder/folder.ts).
  const pick = await vscode.window.showErrorMessage(`Reward Lens: ${e.message}`, 'Open Settings', 'Copy Export Command');
  if (pick === 'Open Settings') await vscode.commands.executeCommand('workbench.action.openSettings', 'rewardLens.encoder.folder');
  else if (pick === 'Copy Export Command') await vscode.env.clipboard.writeText(EXPORT_COMMAND);
}

/** How many texts the progress counts to (the audit's own total is the run's, whatever the scope). */
async function expectedTexts(store: RunStoreApi, run: RunSummary, scope: AuditScope): Promise<number> {
  if (scope.groupId !== undefined) return (await store.getGroup(scope.groupId))?.trajectories.length ?? 0;
  if (scope.step !== undefined) return (await store.listGroups(run.runId, scope.step)).reduce((n, g) => n + g.trajectoryCount, 0);
  return run.trajectoryCount;
}

async function embedWithProgress(store: RunStoreApi, scope: AuditScope, opts: AuditOptions, total: number): Promise<RunAudit[]> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: ENCODER_UI.progressTitle, cancellable: true },
    async (progress, token) => {
      const abort = new AbortController();
      let abortedAt = 0;
      const sub = token.onCancellationRequested(() => {
        abortedAt = Date.now();
        abort.abort();
      });
      let reported = 0;
      progress.report({ message: `0 / ${total} texts` });
      try {
        return await auditScope(store, scope, {
          ...opts,
          signal: abort.signal,
          chunkTexts: CHUNK_TEXTS,
          // Half the cores: the extension host, the renderer and a trainer share the rest.
          encoderOptions: { device: 'cpu', threads: Math.max(1, Math.floor(cpus().length / 2)) },
          onProgress: ({ done }) => {
            const shown = Math.min(done, Math.max(total, done));
            const increment = total > 0 ? ((shown - reported) / total) * 100 : undefined;
            reported = shown;
            progress.report({ message: `${shown} / ${Math.max(total, done)} texts`, increment });
          },
        });
      } catch (e) {
        // auditScope settles only after the worker has finished its batch in flight (dispose()).
        if (abort.signal.aborted) throw new Cancelled(Date.now() - abortedAt);
        throw e;
      } finally {
        sub.dispose();
      }
    },
  );
}

async function pickAndOpenGroup(links: GroupLink[], deps: EncoderCommandDeps): Promise<void> {
  const picked = await vscode.window.showQuickPick(
    links.map((l) => ({ label: l.label, description: l.description, link: l })),
    { placeHolder: 'Open which group in the inspector?', matchOnDescription: true },
  );
  if (picked) await deps.openGroup(storeGroupId(picked.link.groupId), picked.link.focus);
}

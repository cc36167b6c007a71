// The editor loop for verifier fixes: relabels are regression cases shown in the Problems panel on
// the workspace verifier's `verify` function; saving the verifier re-runs them; "Re-verify run"
// re-judges every stored trajectory with the edited verifier and shows what that changes.
import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { cpus } from 'node:os';
import type { DiffViewModel } from '../../core/diffMessages';
import type { RunStoreApi } from '../../node/store/types';
import { RegressionRunner, regressionCases, type RegressionCase, type RegressionReport } from '../../node/reverify/regression';
import { ReverifyCancelled, reverifyRun } from '../../node/reverify/reverify';
import { DiffPanel } from './diffPanel';
import { disagreeLensTitle, oneLine, verifyFunctionLine } from './verifierFile';

export type RunStore = RunStoreApi;

export interface VerifierDeps {
  getStore(): RunStore | undefined;
  activeRunId(): string | undefined;
  pythonPath(): Promise<string>;
  /** path of the python/ folder */
  backendRoot: string;
  output: vscode.OutputChannel;
  /** opens a trajectory; the id is the store's trajectory row id (trajectoryKey) as a string */
  openTrajectory(id: string): Promise<void>;
}

export const VERIFIER_COMMANDS = {
  createVerifier: 'rewardLens.createVerifier',
  reverifyRun: 'rewardLens.reverifyRun',
  runRegression: 'rewardLens.runVerifierRegression',
  selectVerdictSet: 'rewardLens.selectVerdictSet',
  /** internal: opened from a diagnostic's code link and its quick fix */
  openTrajectory: 'rewardLens.verifier.openTrajectory',
  /** internal: another part of the extension tells us a label was stored */
  labelsChanged: 'rewardLens.verifier.labelsChanged',
} as const;

const VERIFIER_PATH_KEY = 'rewardLens.verifierPath';
const DIAGNOSTIC_SOURCE = 'Reward Lens';
const LABEL_POLL_MS = 2000;

interface RegressionState {
  report: RegressionReport | null;
  running: boolean;
  error: string | null;
}

export function registerVerifierFeatures(context: vscode.ExtensionContext, deps: VerifierDeps): void {
  const diagnostics = vscode.languages.createDiagnosticCollection('rewardLens.verifier');
  const lensChanged = new vscode.EventEmitter<void>();
  const state: RegressionState = { report: null, running: false, error: null };
  let runner: RegressionRunner | null = null;
  let lastLabelSignature = '';
  let rerunTimer: NodeJS.Timeout | undefined;
  let runVerdictCount: { runId: string; count: number } | null = null;
  let casesCache: { signature: string; store: RunStore; cases: RegressionCase[] } | null = null;
  /** runs started so far: only the newest may publish, so a slow older run cannot bring back stale results */
  let runSeq = 0;
  context.subscriptions.push(diagnostics, lensChanged);

  // VS Code's CodeLens controller debounces a provider's change event, and cancels the pending
  // request when the editor text loses focus (onDidBlurEditorText → cancel). Saving and then
  // clicking into the Problems panel within that debounce left the lens on the old count until the
  // editor was focused again. Firing again a little later lands after such a blur and is cheap (the
  // provider reads the regression state after its one store read, so it is never older than the event).
  const LENS_REFIRE_MS = [400, 1500, 4000];
  let lensTimers: NodeJS.Timeout[] = [];
  const refreshLens = () => {
    lensChanged.fire();
    lensTimers.forEach(clearTimeout);
    lensTimers = LENS_REFIRE_MS.map((ms) => setTimeout(() => lensChanged.fire(), ms));
  };
  context.subscriptions.push({ dispose: () => lensTimers.forEach(clearTimeout) });

  const log = (line: string) => deps.output.appendLine(`[verifier] ${line}`);

  const workspaceRoot = (): string | undefined => vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;

  /** The verifier file: the one Create Verifier wrote or the user last saved, else <workspace>/verifier.py. */
  const verifierPath = (): string | undefined => {
    const remembered = context.workspaceState.get<string>(VERIFIER_PATH_KEY);
    if (remembered && existsSync(remembered)) return remembered;
    const root = workspaceRoot();
    if (root && existsSync(join(root, 'verifier.py'))) return join(root, 'verifier.py');
    return undefined;
  };

  const isVerifierDocument = (doc: vscode.TextDocument): boolean => {
    if (doc.uri.scheme !== 'file') return false;
    const p = verifierPath();
    return p !== undefined && resolvePath(doc.uri.fsPath) === resolvePath(p);
  };

  const getRunner = async (): Promise<RegressionRunner> => {
    if (!runner) {
      runner = new RegressionRunner({
        python: await deps.pythonPath(),
        backendRoot: deps.backendRoot,
        workers: Math.max(1, Math.min(cpus().length, 4)),
        timeoutS: 5,
        onStderr: (l) => log(`regression: ${l}`),
      });
    }
    return runner;
  };

  /** Diagnostics and the CodeLens change together, from the same report, in one synchronous step. */
  const publish = async (path: string, report: RegressionReport, seq: number): Promise<boolean> => {
    const uri = vscode.Uri.file(path);
    let line = { line: 0, start: 0, end: 1 };
    try {
      line = verifyFunctionLine(await readFile(path, 'utf8')) ?? line;
    } catch {
      /* the file vanished between the run and now: diagnostics go on line 1 */
    }
    const range = new vscode.Range(line.line, line.start, line.line, line.end);
    const list = report.disagreements.map((d) => {
      const c = d.case;
      const verdict = d.result.correct === true ? 'correct' : d.result.correct === false ? 'wrong' : 'error';
      const message =
        `Relabel disagrees: trajectory ${oneLine(c.trajectoryId, 60)} (run ${oneLine(c.runId, 40)}, step ${c.step}) is labelled ${c.label}` +
        ` but the verifier says ${verdict}: prediction ${oneLine(d.result.extracted, 60)}, gold ${oneLine(c.gold, 60)}` +
        ` (${oneLine(d.result.reason, 100)})${c.note ? `; note: ${oneLine(c.note, 100)}` : ''}`;
      const diag = new vscode.Diagnostic(range, message, d.result.correct === null ? vscode.DiagnosticSeverity.Warning : vscode.DiagnosticSeverity.Error);
      diag.source = DIAGNOSTIC_SOURCE;
      diag.code = {
        value: `open ${oneLine(c.trajectoryId, 40)}`,
        target: vscode.Uri.parse(`command:${VERIFIER_COMMANDS.openTrajectory}?${encodeURIComponent(JSON.stringify([String(c.trajectoryKey)]))}`),
      };
      return diag;
    });
    if (seq !== runSeq) return false;
    state.report = report;
    state.error = null;
    diagnostics.clear();
    diagnostics.set(uri, list);
    refreshLens();
    return true;
  };

  const runRegression = async (reason: string): Promise<RegressionReport | null> => {
    const store = deps.getStore();
    const path = verifierPath();
    if (!store || !path) return null;
    const seq = ++runSeq;
    state.running = true;
    lensChanged.fire();
    try {
      // Reading 1,000 cases costs two store reads each; only the label log changes them, so a
      // save re-uses them and pays for the verification alone.
      const labels = await store.labels();
      const signature = `${labels.length}:${labels[labels.length - 1]?.id ?? 0}`;
      if (!casesCache || casesCache.signature !== signature || casesCache.store !== store) {
        casesCache = { signature, store, cases: await regressionCases(store) };
      }
      const cases = casesCache.cases;
      const report = await (await getRunner()).run(path, cases);
      log(`regression (${reason}): ${report.total} relabels, ${report.disagreements.length} disagree, ${report.errors} errors, ${report.durationMs} ms`);
      if (!(await publish(path, report, seq))) log(`regression (${reason}): superseded by a newer run, not shown`);
      return report;
    } catch (e) {
      if (seq === runSeq) state.error = (e as Error).message;
      log(`regression failed: ${(e as Error).message}`);
      return null;
    } finally {
      if (seq === runSeq) state.running = false;
      refreshLens();
    }
  };

  const scheduleRegression = (reason: string, delayMs = 150) => {
    if (rerunTimer) clearTimeout(rerunTimer);
    rerunTimer = setTimeout(() => void runRegression(reason), delayMs);
  };

  // Labels are written by the inspector; without a store event we watch the label log's size.
  const pollLabels = async () => {
    const store = deps.getStore();
    if (!store || !verifierPath()) return;
    try {
      const labels = await store.labels();
      const last = labels[labels.length - 1];
      const signature = `${labels.length}:${last?.id ?? 0}`;
      if (signature !== lastLabelSignature) {
        lastLabelSignature = signature;
        scheduleRegression('labels changed', 0);
      }
    } catch {
      /* a store being re-opened: try again next tick */
    }
  };
  const poller = setInterval(() => void pollLabels(), LABEL_POLL_MS);
  context.subscriptions.push({ dispose: () => clearInterval(poller) });
  context.subscriptions.push({ dispose: () => void runner?.dispose() });

  const pickRun = async (): Promise<string | undefined> => {
    const active = deps.activeRunId();
    if (active) return active;
    const store = deps.getStore();
    if (!store) return undefined;
    const runs = await store.listRuns();
    if (runs.length === 1) return runs[0]?.runId;
    const pick = await vscode.window.showQuickPick(
      runs.map((r) => ({ label: r.runId, description: `${r.variant} · ${r.trajectoryCount} trajectories · ${r.status}` })),
      { placeHolder: 'Which run?' },
    );
    return pick?.label;
  };

  const refreshVerdictCount = async () => {
    const store = deps.getStore();
    const runId = deps.activeRunId() ?? (await store?.listRuns())?.[0]?.runId;
    if (!store || !runId) {
      runVerdictCount = null;
      return;
    }
    const run = await store.getRun(runId);
    runVerdictCount = run ? { runId, count: run.trajectoryCount } : null;
  };

  // ---- commands --------------------------------------------------------------------------------
  context.subscriptions.push(
    vscode.commands.registerCommand(VERIFIER_COMMANDS.createVerifier, async () => {
      const root = workspaceRoot();
      if (!root) {
        void vscode.window.showErrorMessage('Reward Lens: open a folder first; the verifier is written into the workspace.');
        return;
      }
      const target = join(root, 'verifier.py');
      if (existsSync(target)) {
        const choice = await vscode.window.showWarningMessage('verifier.py already exists in the workspace.', { modal: true }, 'Open It', 'Overwrite');
        if (choice === undefined) return;
        if (choice === 'Overwrite') await writeFile(target, await readFile(join(deps.backendRoot, 'reward_lens', 'templates', 'verifier.py'), 'utf8'));
      } else {
        await writeFile(target, await readFile(join(deps.backendRoot, 'reward_lens', 'templates', 'verifier.py'), 'utf8'));
      }
      await context.workspaceState.update(VERIFIER_PATH_KEY, target);
      const doc = await vscode.workspace.openTextDocument(target);
      await vscode.window.showTextDocument(doc);
      scheduleRegression('verifier created', 0);
    }),

    vscode.commands.registerCommand(VERIFIER_COMMANDS.runRegression, async () => {
      if (!verifierPath()) {
        void vscode.window.showInformationMessage('Reward Lens: no verifier.py in the workspace. Run "Reward Lens: Create Verifier" first.');
        return;
      }
      const report = await runRegression('command');
      if (report) {
        void vscode.window.showInformationMessage(`Reward Lens: ${report.total} relabels, ${report.disagreements.length} disagree with the verifier (${report.durationMs} ms).`);
      } else if (state.error) void vscode.window.showErrorMessage(`Reward Lens: regression run failed: ${state.error}`);
    }),

    vscode.commands.registerCommand(VERIFIER_COMMANDS.labelsChanged, () => scheduleRegression('labels changed', 0)),

    vscode.commands.registerCommand(VERIFIER_COMMANDS.openTrajectory, async (id: unknown) => {
      if (typeof id !== 'string' && typeof id !== 'number') return;
      await deps.openTrajectory(String(id));
    }),

    vscode.commands.registerCommand(VERIFIER_COMMANDS.selectVerdictSet, async (runIdArg?: unknown) => {
      const store = deps.getStore();
      const runId = typeof runIdArg === 'string' ? runIdArg : await pickRun();
      if (!store || !runId) return;
      const active = await store.activeVerifier(runId);
      const versions = await store.verifierVersions();
      const pick = await vscode.window.showQuickPick(
        versions.map((v) => ({
          label: `${v.id === active?.id ? '$(check) ' : ''}${v.name}`,
          description: `${v.id.slice(0, 12)} · ${v.createdAt}`,
          detail: v.path ?? undefined,
          id: v.id,
        })),
        { placeHolder: `Verdict set to make active for ${runId} (earlier sets are kept)` },
      );
      if (!pick) return;
      await store.setActiveVerifier(runId, pick.id);
      log(`run ${runId}: active verdict set is now ${pick.id}`);
    }),

    vscode.commands.registerCommand(VERIFIER_COMMANDS.reverifyRun, async () => {
      const store = deps.getStore();
      if (!store) {
        void vscode.window.showErrorMessage('Reward Lens: no run store is open.');
        return;
      }
      const runId = await pickRun();
      if (!runId) return;
      const path = verifierPath();
      const doc = vscode.workspace.textDocuments.find((d) => path && d.uri.fsPath === path);
      if (doc?.isDirty) await doc.save();
      let python: string;
      try {
        python = await deps.pythonPath();
      } catch (e) {
        void vscode.window.showErrorMessage(`Reward Lens: cannot re-verify: ${(e as Error).message}`);
        return;
      }
      const started = Date.now();
      try {
        const result = await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: `Re-verifying ${runId}`, cancellable: true },
          async (progress, token) => {
            const abort = new AbortController();
            token.onCancellationRequested(() => abort.abort());
            let lastPct = 0;
            let lastReport = 0;
            return reverifyRun(store, runId, {
              python,
              backendRoot: deps.backendRoot,
              verifierPath: path,
              timeoutS: 5,
              signal: abort.signal,
              onStderr: (l) => log(`reverify: ${l}`),
              onProgress: (p) => {
                const now = Date.now();
                if (now - lastReport < 100 && p.done < p.total) return;
                lastReport = now;
                const pct = p.total ? (100 * p.done) / p.total : 0;
                progress.report({
                  increment: Math.max(0, pct - lastPct),
                  message: `${p.done}/${p.total} · ${p.errors} errors (${p.timeouts} timeouts, ${p.crashed} crashed)`,
                });
                lastPct = pct;
              },
            });
          },
        );
        log(`re-verified ${runId} with ${result.verifier.name} (${result.verifier.id.slice(0, 12)}): ${result.written} verdicts in ${result.durationMs} ms`);
        const model: DiffViewModel = {
          runId,
          verifier: { id: result.verifier.id, name: result.verifier.name, path: result.verifier.path },
          previousVerifierId: result.previousVerifierId,
          activeVerifierId: result.previousVerifierId,
          written: result.written,
          durationMs: result.durationMs,
          processRestarts: result.processRestarts,
          diff: result.diff,
        };
        showDiff(model);
      } catch (e) {
        if (e instanceof ReverifyCancelled) {
          log(`re-verify of ${runId} cancelled after ${Date.now() - started} ms; the active verdict set is unchanged`);
          void vscode.window.showInformationMessage('Reward Lens: re-verify cancelled; the active verdicts are unchanged.');
          return;
        }
        log(`re-verify failed: ${(e as Error).stack ?? e}`);
        void vscode.window.showErrorMessage(`Reward Lens: re-verify failed: ${(e as Error).message}`);
      }
    }),
  );

  const showDiff = (model: DiffViewModel) => {
    DiffPanel.show(context.extensionUri, model, {
      output: deps.output,
      openTrajectory: (key) => deps.openTrajectory(String(key)),
      accept: async (runId, verifierId) => {
        const store = deps.getStore();
        if (!store) throw new Error('no run store is open');
        await store.setActiveVerifier(runId, verifierId);
        log(`run ${runId}: accepted verdict set ${verifierId}; earlier sets stay in the store`);
      },
      browseSets: async (runId) => {
        await vscode.commands.executeCommand(VERIFIER_COMMANDS.selectVerdictSet, runId);
      },
    });
  };

  // ---- quick fix: open the trajectory a diagnostic names ------------------------------------------
  context.subscriptions.push(
    vscode.languages.registerCodeActionsProvider(
      { scheme: 'file', language: 'python' },
      {
        provideCodeActions(_doc, _range, ctx) {
          return ctx.diagnostics
            .filter((d) => d.source === DIAGNOSTIC_SOURCE && typeof d.code === 'object' && d.code !== null)
            .map((d) => {
              const target = (d.code as { target: vscode.Uri }).target;
              const args = JSON.parse(decodeURIComponent(target.query)) as string[];
              const action = new vscode.CodeAction(`Open trajectory ${String((d.code as { value: string | number }).value).replace(/^open /, '')}`, vscode.CodeActionKind.QuickFix);
              action.diagnostics = [d];
              action.command = { command: VERIFIER_COMMANDS.openTrajectory, title: 'Open trajectory', arguments: args };
              return action;
            });
        },
      },
      { providedCodeActionKinds: [vscode.CodeActionKind.QuickFix] },
    ),
  );

  // ---- CodeLens above `def verify` ------------------------------------------------------------------
  context.subscriptions.push(
    vscode.languages.registerCodeLensProvider(
      { scheme: 'file', language: 'python' },
      {
        onDidChangeCodeLenses: lensChanged.event,
        async provideCodeLenses(doc) {
          if (!isVerifierDocument(doc)) return [];
          const at = verifyFunctionLine(doc.getText());
          if (!at) return [];
          await refreshVerdictCount().catch(() => undefined);
          const range = new vscode.Range(at.line, 0, at.line, 0);
          const verdicts = runVerdictCount ? `${runVerdictCount.count} verdicts in this run` : 'no run open';
          const disagree = disagreeLensTitle(state);
          return [
            new vscode.CodeLens(range, { title: verdicts, command: '' }),
            new vscode.CodeLens(range, { title: disagree, command: 'workbench.actions.view.problems', tooltip: 'Show the disagreeing relabels in the Problems panel' }),
            new vscode.CodeLens(range, { title: 'Re-verify run', command: VERIFIER_COMMANDS.reverifyRun, tooltip: 'Run this verifier over every stored trajectory of the run and show the diff' }),
          ];
        },
      },
    ),
  );

  // Anything else that changes the verifier's diagnostics (a clear on store switch, VS Code itself)
  // redraws the lens too, so the two never disagree.
  context.subscriptions.push(
    vscode.languages.onDidChangeDiagnostics((e) => {
      const p = verifierPath();
      if (p && e.uris.some((u) => u.scheme === 'file' && resolvePath(u.fsPath) === resolvePath(p))) refreshLens();
    }),
  );

  // ---- re-run the regression set on save -------------------------------------------------------------
  context.subscriptions.push(
    vscode.workspace.onDidSaveTextDocument((doc) => {
      if (doc.uri.scheme !== 'file' || doc.languageId !== 'python') return;
      // A saved file named verifier.py becomes the verifier only while there is none yet.
      const adopt = !verifierPath() && /(^|[\\/])verifier\.py$/.test(doc.uri.fsPath);
      if (!isVerifierDocument(doc) && !adopt) return;
      if (adopt) void context.workspaceState.update(VERIFIER_PATH_KEY, doc.uri.fsPath);
      scheduleRegression('verifier saved', 0);
    }),
  );

  // First pass once the store is likely open (activate() may open it after registering us).
  setTimeout(() => void pollLabels(), 500);
}

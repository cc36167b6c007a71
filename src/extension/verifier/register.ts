// The editor loop for verifier fixes, wired to VS Code: relabels are regression cases shown in the
// Problems panel on the workspace verifier's `verify` function; saving the verifier re-runs them;
// "Re-verify run" re-judges every stored trajectory with the edited verifier and shows what that
// changes. The decisions live in controller.ts (vscode-free, unit-tested); this file turns them
// into diagnostics, a CodeLens, a quick fix and the verifier's commands.
import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { cpus } from 'node:os';
import type { DiffViewModel } from '../../core/diffMessages';
import { storeTrajectoryKey, type TrajectoryKey } from '../../core/ids';
import type { RunStoreApi } from '../../node/store/types';
import { RegressionRunner } from '../../node/reverify/regression';
import { ReverifyCancelled, reverifyRun } from '../../node/reverify/reverify';
import { COMMANDS, type Command } from '../commandRegistry';
import { describeArg, runIdArg, trajectoryKeyArg } from '../commandArgs';
import { toDisposable, type DisposableSet } from '../lifecycle';
import { DiffPanel } from './diffPanel';
import { VerifierController } from './controller';
import { verifyFunctionLine } from './verifierFile';

export interface VerifierDeps {
  getStore(): RunStoreApi | undefined;
  activeRunId(): string | undefined;
  pythonPath(): Promise<string>;
  /** path of the python/ folder */
  backendRoot: string;
  output: vscode.OutputChannel;
  openTrajectory(key: TrajectoryKey): Promise<void>;
  /** fires when a label is stored (the store host's event) */
  onDidAddLabel: vscode.Event<unknown>;
  /** fires when a store is opened or closed */
  onDidOpenStore: vscode.Event<unknown>;
  panels: DisposableSet;
}

const VERIFIER_PATH_KEY = 'rewardLens.verifierPath';
const DIAGNOSTIC_SOURCE = 'Reward Lens';

/** Registers the verifier's providers and listeners; returns its commands for the one registry. */
export function activateVerifier(context: vscode.ExtensionContext, deps: VerifierDeps): Command[] {
  const diagnostics = vscode.languages.createDiagnosticCollection('rewardLens.verifier');
  const lensChanged = new vscode.EventEmitter<void>();
  context.subscriptions.push(diagnostics, lensChanged);
  const log = (line: string) => deps.output.appendLine(`[verifier] ${line}`);

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
  context.subscriptions.push(toDisposable(() => lensTimers.forEach(clearTimeout)));

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

  let runner: RegressionRunner | null = null;
  const getRunner = async (): Promise<RegressionRunner> => {
    runner ??= new RegressionRunner({
      python: await deps.pythonPath(),
      backendRoot: deps.backendRoot,
      workers: Math.max(1, Math.min(cpus().length, 4)),
      timeoutS: 5,
      onStderr: (l) => log(`regression: ${l}`),
    });
    return runner;
  };
  context.subscriptions.push(toDisposable(() => void runner?.dispose()));

  const controller = new VerifierController({
    getStore: () => deps.getStore(),
    verifierPath,
    readFile: (p) => readFile(p, 'utf8'),
    verify: async (path, cases) => (await getRunner()).run(path, cases),
    publish: (path, at, list) => {
      const range = new vscode.Range(at.line, at.start, at.line, at.end);
      diagnostics.clear();
      diagnostics.set(
        vscode.Uri.file(path),
        list.map((d) => {
          const diag = new vscode.Diagnostic(range, d.message, d.severity === 'warning' ? vscode.DiagnosticSeverity.Warning : vscode.DiagnosticSeverity.Error);
          diag.source = DIAGNOSTIC_SOURCE;
          diag.code = {
            value: `open ${d.trajectoryLabel}`,
            target: vscode.Uri.parse(`command:${COMMANDS.verifierOpenTrajectory}?${encodeURIComponent(JSON.stringify([String(d.trajectoryKey)]))}`),
          };
          return diag;
        }),
      );
    },
    changed: refreshLens,
    log,
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  });
  context.subscriptions.push(
    controller,
    // A relabel in the inspector is a new regression case; another store brings other cases.
    deps.onDidAddLabel(() => controller.onLabelAdded()),
    deps.onDidOpenStore(() => controller.onStoreOpened()),
  );

  let runVerdictCount: { runId: string; count: number } | null = null;
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

  const showDiff = (model: DiffViewModel) => {
    DiffPanel.show(model, {
      extensionUri: context.extensionUri,
      output: deps.output,
      panels: deps.panels,
      openTrajectory: (key) => deps.openTrajectory(storeTrajectoryKey(key)),
      accept: async (runId, verifierId) => {
        const store = deps.getStore();
        if (!store) throw new Error('no run store is open');
        await store.setActiveVerifier(runId, verifierId);
        log(`run ${runId}: accepted verdict set ${verifierId}; earlier sets stay in the store`);
      },
      browseSets: async (runId) => {
        await vscode.commands.executeCommand(COMMANDS.selectVerdictSet, runId);
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
              action.command = { command: COMMANDS.verifierOpenTrajectory, title: 'Open trajectory', arguments: args };
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
          return [
            new vscode.CodeLens(range, { title: verdicts, command: '' }),
            new vscode.CodeLens(range, { title: controller.lensTitle, command: 'workbench.actions.view.problems', tooltip: 'Show the disagreeing relabels in the Problems panel' }),
            new vscode.CodeLens(range, { title: 'Re-verify run', command: COMMANDS.reverifyRun, tooltip: 'Run this verifier over every stored trajectory of the run and show the diff' }),
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
      controller.schedule('verifier saved', 0);
    }),
  );

  // ---- commands --------------------------------------------------------------------------------------
  const createVerifier = async () => {
    const root = workspaceRoot();
    if (!root) {
      void vscode.window.showErrorMessage('Reward Lens: open a folder first; the verifier is written into the workspace.');
      return;
    }
    const target = join(root, 'verifier.py');
    const template = () => readFile(join(deps.backendRoot, 'reward_lens', 'templates', 'verifier.py'), 'utf8');
    if (existsSync(target)) {
      const choice = await vscode.window.showWarningMessage('verifier.py already exists in the workspace.', { modal: true }, 'Open It', 'Overwrite');
      if (choice === undefined) return;
      if (choice === 'Overwrite') await writeFile(target, await template());
    } else {
      await writeFile(target, await template());
    }
    await context.workspaceState.update(VERIFIER_PATH_KEY, target);
    const doc = await vscode.workspace.openTextDocument(target);
    await vscode.window.showTextDocument(doc);
    controller.schedule('verifier created', 0);
  };

  const runRegressionCommand = async () => {
    if (!verifierPath()) {
      void vscode.window.showInformationMessage('Reward Lens: no verifier.py in the workspace. Run "Reward Lens: Create Verifier" first.');
      return;
    }
    // Asked for by hand: read the cases afresh (a label written by another window counts too).
    const report = await controller.run('command', { freshCases: true });
    if (report) {
      void vscode.window.showInformationMessage(`Reward Lens: ${report.total} relabels, ${report.disagreements.length} disagree with the verifier (${report.durationMs} ms).`);
    } else if (controller.state.error) void vscode.window.showErrorMessage(`Reward Lens: regression run failed: ${controller.state.error}`);
  };

  const openTrajectory = async (arg: unknown) => {
    const key = trajectoryKeyArg(arg);
    if (key === null) {
      log(`refused to open trajectory ${describeArg(arg)}: not a store row id`);
      return;
    }
    await deps.openTrajectory(key);
  };

  const selectVerdictSet = async (arg?: unknown) => {
    const store = deps.getStore();
    const runId = runIdArg(arg) ?? (await pickRun());
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
  };

  const reverify = async () => {
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
          const sub = token.onCancellationRequested(() => abort.abort());
          let lastPct = 0;
          let lastReport = 0;
          try {
            return await reverifyRun(store, runId, {
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
          } finally {
            sub.dispose();
          }
        },
      );
      log(`re-verified ${runId} with ${result.verifier.name} (${result.verifier.id.slice(0, 12)}): ${result.written} verdicts in ${result.durationMs} ms`);
      showDiff({
        runId,
        verifier: { id: result.verifier.id, name: result.verifier.name, path: result.verifier.path },
        previousVerifierId: result.previousVerifierId,
        activeVerifierId: result.previousVerifierId,
        written: result.written,
        durationMs: result.durationMs,
        processRestarts: result.processRestarts,
        diff: result.diff,
      });
    } catch (e) {
      if (e instanceof ReverifyCancelled) {
        log(`re-verify of ${runId} cancelled after ${Date.now() - started} ms; the active verdict set is unchanged`);
        void vscode.window.showInformationMessage('Reward Lens: re-verify cancelled; the active verdicts are unchanged.');
        return;
      }
      log(`re-verify failed: ${(e as Error).stack ?? String(e)}`);
      throw new Error(`re-verify failed: ${(e as Error).message}`);
    }
  };

  // First pass once the store is likely open (activate() may open it after registering us).
  const first = setTimeout(() => controller.schedule('start-up', 0), 500);
  context.subscriptions.push(toDisposable(() => clearTimeout(first)));

  return [
    { id: COMMANDS.createVerifier, execute: createVerifier },
    { id: COMMANDS.runVerifierRegression, execute: runRegressionCommand },
    { id: COMMANDS.verifierOpenTrajectory, execute: openTrajectory },
    { id: COMMANDS.selectVerdictSet, execute: selectVerdictSet },
    { id: COMMANDS.reverifyRun, execute: reverify },
  ];
}

// The composition root: the only place that creates the store host, the backend, the training
// controller, the views and the panels, and wires them together. Every disposable goes into
// context.subscriptions, so deactivation releases the store, the tailers and the trainer.
import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import { StoreHost } from './storeHost';
import { Backend } from './backend';
import { TrainingController } from './training';
import { RunsTreeProvider, type RunsNode } from './runsTree';
import { RunStatusBar } from './statusBar';
import { TrainingViewProvider } from './trainingView';
import { TRAJECTORY_SCHEME, TrajectoryDocuments } from './trajectoryDocument';
import { exportLabelsCommand, findTrajectoriesCommand, importRolloutsCommand, openStoreCommand, pickRun, sortRuns } from './commands';
import { settings } from './settings';
import type { PanelDeps } from './panels/deps';
import { InspectorPanel } from './panels/inspector';
import { DashboardPanel } from './panels/dashboard';
import { registerVerifierFeatures } from './verifier/register';
import { registerEncoderCommands } from './encoder/register';
import { registerWhatIf } from './whatIf/register';

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('Reward Lens');
  const stores = new StoreHost(output);
  const backend = new Backend(context, output);
  const docs = new TrajectoryDocuments(stores);
  context.subscriptions.push(output, stores, docs);

  // The run the user is looking at: the one training, else the one last picked in the tree or a
  // dashboard, else the newest in the store (resolved lazily where a store call is allowed).
  let selectedRunId: string | undefined;
  let newestRunId: string | undefined;
  const refreshNewest = async () => {
    const runs = await stores.get()?.listRuns().catch(() => []);
    newestRunId = runs && runs.length ? sortRuns(runs)[0]?.runId : undefined;
    statusBar.schedule(0);
  };
  context.subscriptions.push(stores.onDidOpen(() => void refreshNewest()), stores.onDidIngest((c) => c.some((x) => x.runStarted) && void refreshNewest()));

  const openDashboard = async (runId: string) => {
    selectedRunId = runId;
    DashboardPanel.show(deps, runId);
  };
  const training = new TrainingController(backend, stores, output, openDashboard);
  const activeRunId = () => training.active?.runId ?? selectedRunId ?? newestRunId;

  const deps: PanelDeps = {
    extensionUri: context.extensionUri,
    getStore: () => stores.get(),
    output,
    openGroup: async (groupId, focusTrajectoryId, placement) => {
      if (!stores.get()) {
        void vscode.window.showErrorMessage('Reward Lens: no run store is open. Open one with "Reward Lens: Open Run Store…".');
        return;
      }
      InspectorPanel.show(deps, groupId, focusTrajectoryId, placement);
    },
    openTrajectoryDocument: async (trajectoryId) => {
      const key = Number(trajectoryId);
      if (!Number.isInteger(key) || key < 0) {
        output.appendLine(`[inline] refused to open trajectory "${String(trajectoryId).slice(0, 80)}": not a store row id`);
        return;
      }
      await docs.open(key, true);
    },
    onDidChangeStore: stores.onDidChange,
    disposables: context.subscriptions,
  };

  const tree = new RunsTreeProvider(stores);
  const treeView = vscode.window.createTreeView<RunsNode>('rewardLens.runs', { treeDataProvider: tree, showCollapseAll: true });
  context.subscriptions.push(
    training,
    tree,
    treeView,
    treeView.onDidChangeSelection((e) => {
      const n = e.selection[0];
      if (!n) return;
      selectedRunId = n.kind === 'run' ? n.run.runId : n.kind === 'step' ? n.runId : n.kind === 'group' ? n.group.runId : selectedRunId;
      statusBar.schedule(0);
    }),
  );
  const statusBar = new RunStatusBar(stores, training, activeRunId);
  const trainingView = new TrainingViewProvider(backend, stores, training);
  context.subscriptions.push(statusBar, trainingView, vscode.window.createTreeView('rewardLens.training', { treeDataProvider: trainingView }));

  context.subscriptions.push(
    vscode.workspace.registerTextDocumentContentProvider(TRAJECTORY_SCHEME, docs),
    vscode.languages.registerHoverProvider({ scheme: TRAJECTORY_SCHEME }, docs),
  );

  const register = (id: string, fn: (...args: unknown[]) => unknown) =>
    context.subscriptions.push(
      vscode.commands.registerCommand(id, async (...args: unknown[]) => {
        try {
          await fn(...args);
        } catch (e) {
          output.appendLine(`[${id}] ${(e as Error).stack ?? String(e)}`);
          const pick = await vscode.window.showErrorMessage(`Reward Lens: ${(e as Error).message}. Details are in the "Reward Lens" Output channel.`, 'Show Output');
          if (pick) output.show();
        }
      }),
    );

  register('rewardLens.startTraining', (arg) => training.start(arg));
  register('rewardLens.stopRun', () => training.stop());
  register('rewardLens.openStore', (arg) => openStoreCommand(stores, arg));
  register('rewardLens.importRollouts', () => importRolloutsCommand(stores, output));
  register('rewardLens.findTrajectories', () =>
    findTrajectoriesCommand(stores, { group: (g, t) => deps.openGroup(g, t), document: (t) => deps.openTrajectoryDocument(t) }),
  );
  register('rewardLens.openDashboard', async (arg) => {
    const runId = await pickRun(stores, arg, activeRunId(), 'Reward Lens: open the dashboard of…');
    if (runId) await openDashboard(runId);
  });
  register('rewardLens.exportLabels', () => exportLabelsCommand(stores, activeRunId()));
  register('rewardLens.setupBackend', () => backend.setUp());
  register('rewardLens.openTrajectoryDocument', async (arg) => {
    if (typeof arg === 'string' || typeof arg === 'number') return deps.openTrajectoryDocument(String(arg));
    return findTrajectoriesCommand(stores, { group: (g, t) => deps.openGroup(g, t), document: (t) => deps.openTrajectoryDocument(t) }, true);
  });
  register('rewardLens.openGroup', (arg) => {
    const id = typeof arg === 'string' || typeof arg === 'number' ? String(arg) : arg && typeof arg === 'object' && 'group' in arg ? String((arg as { group: { groupId: number } }).group.groupId) : undefined;
    if (id) return deps.openGroup(id);
    return undefined;
  });
  register('rewardLens.refreshRuns', () => tree.refresh());
  register('rewardLens.showMoreSteps', (runId) => typeof runId === 'string' && tree.showMoreSteps(runId));
  register('rewardLens.showLog', () => output.show());

  registerVerifierFeatures(context, {
    getStore: () => stores.get(),
    activeRunId,
    pythonPath: () => backend.pythonPath(),
    backendRoot: backend.sourceDir,
    output,
    openTrajectory: (id) => deps.openTrajectoryDocument(id),
  });

  registerWhatIf(context, { extensionUri: context.extensionUri, getStore: () => stores.get(), pickRun: (arg) => pickRun(stores, arg, activeRunId(), 'Reward Lens: what-if over the whole run of…'), openGroup: (g) => deps.openGroup(g), output });

  registerEncoderCommands(context, { getStore: () => stores.get(), activeRunId, selectedNode: () => treeView.selection[0], openGroup: (g, t) => deps.openGroup(g, t), output });

  await vscode.commands.executeCommand('setContext', 'rewardLens.storeOpen', false);
  const version = (context.extension.packageJSON as { version?: string }).version ?? '?';
  output.appendLine(`Reward Lens ${version} activated (${vscode.env.appName} ${vscode.version}); workspace store ${settings.storePath() ?? '(no folder open)'}`);
  // Open the workspace's store when there is one: the common case is "reopen the folder, see my runs".
  const def = settings.storePath();
  if (def && existsSync(def)) {
    await stores.open(def).catch((e: Error) => {
      output.appendLine(`[store] ${e.message}`);
      void vscode.window.showErrorMessage(`Reward Lens: ${e.message}`);
    });
  }
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (!settings.affects(e, 'storePath')) return;
      const p = settings.storePath();
      if (p && existsSync(p)) await stores.open(p).catch((err: Error) => void vscode.window.showErrorMessage(`Reward Lens: ${err.message}`));
    }),
  );
}

export function deactivate(): void {
  // everything lives in context.subscriptions
}

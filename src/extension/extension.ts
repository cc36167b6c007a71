// The composition root: the only place that creates the store host, the backend, the training
// controller, the views and the panels, and wires them together. Every disposable goes into
// context.subscriptions, so deactivation releases the store, the tailers, the trainer and the
// open panels; every command goes through the one registry (commandRegistry.ts).
import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import type { GroupId } from '../core/ids';
import { StoreHost } from './storeHost';
import { Backend } from './backend';
import { TrainingController } from './training/training';
import { TrainingViewProvider } from './training/trainingView';
import { RunsTreeProvider, type RunsNode } from './runsTree';
import { RunStatusBar } from './statusBar';
import { TRAJECTORY_SCHEME, TrajectoryDocuments } from './trajectoryDocument';
import { exportLabelsCommand, findTrajectoriesCommand, importRolloutsCommand, openStoreCommand, pickRun, sortRuns } from './commands';
import { COMMANDS, registerCommands, type Command, type CommandId } from './commandRegistry';
import { TablePanel } from './table/panel';
import { describeArg, groupIdArg, runIdArg, trajectoryKeyArg } from './commandArgs';
import { DisposableSet } from './lifecycle';
import { settings } from './settings';
import type { PanelDeps } from './panels/deps';
import { InspectorPanel } from './panels/inspector';
import { DashboardPanel } from './panels/dashboard';
import { activateVerifier } from './verifier/register';
import { activateEncoder } from './encoder/register';
import { activateCompare } from './compare/command';
import { activateWhatIf } from './whatIf/register';
import { watchRunDirectoryCommand } from './watchRunDirectory';

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('Reward Lens');
  const stores = new StoreHost(output);
  const backend = new Backend(context, output);
  const docs = new TrajectoryDocuments(stores);
  const panels = new DisposableSet();
  context.subscriptions.push(output, stores, docs, panels);

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
    openGroup: async (groupId: GroupId, focusTrajectoryId, placement) => {
      if (!stores.get()) {
        void vscode.window.showErrorMessage('Reward Lens: no run store is open. Open one with "Reward Lens: Open Run Store…".');
        return;
      }
      InspectorPanel.show(deps, groupId, focusTrajectoryId, placement);
    },
    openTrajectoryDocument: (key, column) => docs.open(key, column),
    addLabel: (label) => stores.addLabel(label),
    onDidChangeStore: stores.onDidChange,
    panels,
  };

  const tree = new RunsTreeProvider(stores);
  const treeView = vscode.window.createTreeView<RunsNode>('rewardLens.runs', { treeDataProvider: tree, showCollapseAll: true, canSelectMany: true });
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
    vscode.languages.registerFoldingRangeProvider({ scheme: TRAJECTORY_SCHEME }, docs),
  );

  const open = { group: (g: GroupId, t?: string) => deps.openGroup(g, t), document: deps.openTrajectoryDocument };
  const runsCommands: Command[] = [
    { id: COMMANDS.startTraining, execute: (arg) => training.start(arg) },
    { id: COMMANDS.stopRun, execute: () => training.stop() },
    { id: COMMANDS.openStore, execute: (arg) => openStoreCommand(stores, arg) },
    { id: COMMANDS.importRollouts, execute: () => importRolloutsCommand(stores, output) },
    { id: COMMANDS.watchRunDirectory, execute: (arg) => watchRunDirectoryCommand(stores, output, arg) },
    { id: COMMANDS.findTrajectories, execute: () => findTrajectoriesCommand(stores, open) },
    {
      id: COMMANDS.openDashboard,
      execute: async (arg) => {
        const runId = await pickRun(stores, arg, activeRunId(), 'Reward Lens: open the dashboard of…');
        if (runId) await openDashboard(runId);
      },
    },
    { id: COMMANDS.exportLabels, execute: () => exportLabelsCommand(stores, activeRunId()) },
    { id: COMMANDS.setupBackend, execute: () => backend.setUp() },
    {
      id: COMMANDS.openTrajectoryDocument,
      execute: async (arg) => {
        if (arg === undefined) return findTrajectoriesCommand(stores, open, true);
        const key = trajectoryKeyArg(arg);
        if (key === null) output.appendLine(`[inline] refused to open trajectory ${describeArg(arg)}: not a store row id`);
        else await deps.openTrajectoryDocument(key);
      },
    },
    {
      id: COMMANDS.openGroup,
      execute: async (arg) => {
        if (arg === undefined) return;
        const id = groupIdArg(arg);
        if (id === null) output.appendLine(`[inspector] refused to open group ${describeArg(arg)}: not a store row id`);
        else await deps.openGroup(id);
      },
    },
    { id: COMMANDS.refreshRuns, execute: () => tree.refresh() },
    {
      id: COMMANDS.showMoreSteps,
      execute: (arg) => {
        const runId = runIdArg(arg);
        if (runId) tree.showMoreSteps(runId);
      },
    },
    { id: COMMANDS.showLog, execute: () => output.show() },
  ];

  const verifierCommands = activateVerifier(context, {
    getStore: () => stores.get(),
    activeRunId,
    pythonPath: () => backend.pythonPath(),
    backendRoot: backend.sourceDir,
    output,
    openTrajectory: (key) => deps.openTrajectoryDocument(key),
    onDidAddLabel: stores.onDidAddLabel,
    onDidOpenStore: stores.onDidOpen,
    panels,
  });

  const compareCommands = activateCompare({ ...deps, getStore: () => stores.get() });
  const tableCommands: Command[] = [{
    id: COMMANDS.trajectoriesTable,
    execute: () => {
      if (!stores.get()) {
        void vscode.window.showErrorMessage('Reward Lens: no run store is open. Open one with "Reward Lens: Open Run Store…".');
        return;
      }
      TablePanel.show({ extensionUri: context.extensionUri, getStore: () => stores.get(), openGroup: (g, t) => deps.openGroup(g, t), output });
    },
  }];
  const whatIfCommands = activateWhatIf({ extensionUri: context.extensionUri, getStore: () => stores.get(), pickRun: (arg) => pickRun(stores, arg, activeRunId(), 'Reward Lens: what-if over the whole run of…'), openGroup: (g) => deps.openGroup(g), output });

  const encoderCommands = activateEncoder(context, { getStore: () => stores.get(), activeRunId, selectedNode: () => treeView.selection[0], openGroup: (g, t) => deps.openGroup(g, t), output });

  context.subscriptions.push(
    ...registerCommands([...runsCommands, ...verifierCommands, ...encoderCommands, ...whatIfCommands, ...compareCommands, ...tableCommands], {
      registerCommand: (id, handler) => vscode.commands.registerCommand(id, handler),
      reportError: async (id: CommandId, e: unknown) => {
        const err = e instanceof Error ? e : new Error(String(e));
        output.appendLine(`[${id}] ${err.stack ?? err.message}`);
        const pick = await vscode.window.showErrorMessage(`Reward Lens: ${err.message}. Details are in the "Reward Lens" Output channel.`, 'Show Output');
        if (pick) output.show();
      },
      log: (line) => output.appendLine(line),
    }),
  );

  await vscode.commands.executeCommand('setContext', 'rewardLens.storeOpen', false);
  const version = (context.extension.packageJSON as { version?: string }).version ?? '?';
  output.appendLine(`Reward Lens ${version} activated (${vscode.env.appName} ${vscode.version}); workspace store ${settings.storePath() ?? '(no folder open)'}`);
  // Open the workspace's store when there is one: the common case is "reopen the folder, see my runs".
  const def = settings.storePath();
  if (def && existsSync(def)) {
    const store = await stores.open(def).catch((e: Error) => {
      output.appendLine(`[store] ${e.message}`);
      void vscode.window.showErrorMessage(`Reward Lens: ${e.message}`);
      return undefined;
    });
    // A folder made to show one run (the demo's) asks for its dashboard, so the first screen is the run.
    if (store && settings.openDashboardOnStart()) {
      const newest = (await store.listRuns()).sort((a, b) => (b.startedAt ?? '').localeCompare(a.startedAt ?? ''))[0];
      if (newest) {
        await vscode.commands.executeCommand('workbench.view.extension.rewardLens');
        await openDashboard(newest.runId);
      }
    }
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

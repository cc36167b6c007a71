// The "Training" view under the Runs tree: is the Python backend ready, which store is open, and
// what the trainer of this window is doing, each row one click from its fix or its detail.
import * as vscode from 'vscode';
import { basename, join } from 'node:path';
import type { Backend } from '../backend';
import type { StoreHost } from '../storeHost';
import type { TrainingController } from './training';
import { settings } from '../settings';
import { trainerPhase, trainerRow } from './trainerRow';
import { COMMANDS } from '../commandRegistry';

interface Row {
  id: string;
  label: string;
  description?: string;
  tooltip?: string;
  icon: string;
  color?: string;
  command?: vscode.Command;
  contextValue?: string;
}

export class TrainingViewProvider implements vscode.TreeDataProvider<Row>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly subs: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly backend: Backend,
    private readonly stores: StoreHost,
    private readonly training: TrainingController,
  ) {
    this.subs.push(
      training.onDidChangeState(() => this.refresh()),
      stores.onDidOpen(() => this.refresh()),
      stores.onDidIngest(() => this.refresh(settings.liveRefreshMs())),
      vscode.workspace.onDidChangeConfiguration((e) => settings.affects(e, 'python') && this.refresh()),
    );
  }

  refresh(delay = 0): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.emitter.fire();
    }, delay);
  }

  getTreeItem(r: Row): vscode.TreeItem {
    const item = new vscode.TreeItem(r.label, vscode.TreeItemCollapsibleState.None);
    item.id = r.id;
    item.description = r.description;
    item.tooltip = r.tooltip;
    item.iconPath = new vscode.ThemeIcon(r.icon, r.color ? new vscode.ThemeColor(r.color) : undefined);
    item.command = r.command;
    item.contextValue = r.contextValue;
    return item;
  }

  async getChildren(parent?: Row): Promise<Row[]> {
    if (parent) return [];
    const rows: Row[] = [];
    try {
      const py = await this.backend.resolve();
      rows.push({ id: 'backend', label: 'Python backend ready', description: basename(py.python), tooltip: `${py.python}\n${py.origin}`, icon: 'pass', color: 'testing.iconPassed', command: { command: COMMANDS.setupBackend, title: 'Set Up Python Backend' } });
    } catch (e) {
      // Not a warning: viewing runs needs no Python. Start Training Run says what to do when it is needed.
      rows.push({ id: 'backend', label: 'Python backend: only needed to train', description: 'set up…', tooltip: (e as Error).message, icon: 'circle-outline', command: { command: COMMANDS.setupBackend, title: 'Set Up Python Backend' } });
    }
    const storePath = this.stores.path;
    rows.push(
      storePath
        ? { id: 'store', label: `Store ${basename(storePath)}`, description: vscode.workspace.asRelativePath(storePath), tooltip: storePath, icon: 'database', command: { command: COMMANDS.openStore, title: 'Open Run Store…' } }
        : { id: 'store', label: 'No run store open', description: 'click to open one', icon: 'database', command: { command: COMMANDS.openStore, title: 'Open Run Store…' } },
    );
    const t = this.training.active;
    const done = this.training.finished;
    const phase = trainerPhase(t, done?.status);
    const who = t ?? done;
    if (!who || phase === null) {
      rows.push({ id: 'trainer', label: 'No run training in this window', description: 'start one', icon: 'play', command: { command: COMMANDS.startTraining, title: 'Start Training Run' } });
      return rows;
    }
    const run = who.runId ? await this.stores.get()?.getRun(who.runId).catch(() => null) : null;
    const spec = trainerRow(who.runId, phase, run?.lastStep ?? null);
    rows.push({
      id: 'trainer',
      label: spec.label,
      description: spec.description,
      tooltip: `Run directory ${who.runDir}`,
      icon: spec.icon,
      color: spec.color,
      command: who.runId ? { command: COMMANDS.openDashboard, title: 'Open Dashboard', arguments: [who.runId] } : undefined,
      contextValue: spec.contextValue,
    });
    rows.push({ id: 'log', label: 'Trainer log', description: 'trainer.log', tooltip: join(who.runDir, 'trainer.log'), icon: 'output', command: { command: 'vscode.open', title: 'Open Log', arguments: [vscode.Uri.file(join(who.runDir, 'trainer.log'))] } });
    if (spec.finished && !t) rows.push({ id: 'start', label: 'Start another run', icon: 'play', command: { command: COMMANDS.startTraining, title: 'Start Training Run' } });
    return rows;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.subs.forEach((s) => s.dispose());
    this.emitter.dispose();
  }
}

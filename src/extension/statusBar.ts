// The status-bar item: the active run's step and state; a click opens its dashboard.
import * as vscode from 'vscode';
import type { StoreHost } from './storeHost';
import type { TrainingController } from './training/training';
import { statusBarText } from './labels';
import { settings } from './settings';
import { COMMANDS } from './commandRegistry';

export class RunStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('rewardLens.run', vscode.StatusBarAlignment.Left, 50);
  private readonly subs: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  private last = 0;

  constructor(
    private readonly stores: StoreHost,
    private readonly training: TrainingController,
    private readonly activeRunId: () => string | undefined,
  ) {
    this.item.name = 'Reward Lens run';
    this.item.command = COMMANDS.openDashboard;
    this.subs.push(
      stores.onDidOpen(() => this.schedule()),
      stores.onDidIngest(() => this.schedule()),
      training.onDidChangeState(() => this.schedule(0)),
    );
    this.schedule(0);
  }

  /** Debounced like the tree: live runs update it at most once per refresh interval. */
  schedule(delay = Math.max(0, settings.liveRefreshMs() - (Date.now() - this.last))): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.last = Date.now();
      void this.update();
    }, delay);
  }

  private async update(): Promise<void> {
    const store = this.stores.get();
    const t = this.training.active;
    if (!store) {
      this.item.hide();
      return;
    }
    const runId = t?.runId ?? this.activeRunId();
    const run = runId ? await store.getRun(runId).catch(() => null) : null;
    this.item.text = statusBarText(run, t ? t.state : null);
    const md = new vscode.MarkdownString(
      run
        ? `**Reward Lens** · run \`${run.runId.replace(/`/g, "'")}\`\n\n${run.status}${run.lastStep !== null ? ` at step ${run.lastStep}` : ''} · ${run.stepCount} steps · ${run.trajectoryCount} trajectories\n\nClick to open the dashboard.`
        : t
          ? '**Reward Lens** · the trainer is starting'
          : '**Reward Lens** · no run selected. Click to pick a run for the dashboard.',
    );
    md.isTrusted = false;
    this.item.tooltip = md;
    this.item.command = { command: COMMANDS.openDashboard, title: 'Open Dashboard', arguments: run ? [run.runId] : [] };
    this.item.accessibilityInformation = { label: this.item.text.replace(/\$\([^)]*\)\s*/g, ''), role: 'button' };
    this.item.show();
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.subs.forEach((s) => s.dispose());
    this.item.dispose();
  }
}

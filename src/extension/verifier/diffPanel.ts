// The re-verify diff webview: flips each way, reward and advantage changes, sign flips, lints,
// errors and timeouts, with Accept (make the new verdict set active; the old one stays in the store).
import * as vscode from 'vscode';
import { validateDiffMessage, type DiffViewModel, type HostToDiff } from '../../core/diffMessages';
import { shellFor } from '../panels/webview';

export interface DiffPanelHooks {
  output: vscode.OutputChannel;
  openTrajectory(trajectoryKey: number): Promise<void>;
  accept(runId: string, verifierId: string): Promise<void>;
  browseSets(runId: string): Promise<void>;
}

export class DiffPanel {
  static readonly viewType = 'rewardLens.verdictDiff';
  private static current: DiffPanel | undefined;
  private readonly panel: vscode.WebviewPanel;
  private model: DiffViewModel;
  private ready = false;
  private readonly disposables: vscode.Disposable[] = [];

  static show(extensionUri: vscode.Uri, model: DiffViewModel, hooks: DiffPanelHooks): DiffPanel {
    if (DiffPanel.current) {
      DiffPanel.current.model = model;
      DiffPanel.current.panel.reveal(vscode.ViewColumn.Active);
      DiffPanel.current.push();
      return DiffPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(DiffPanel.viewType, `Re-verify: ${model.runId}`, vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'media')],
    });
    DiffPanel.current = new DiffPanel(panel, extensionUri, model, hooks);
    return DiffPanel.current;
  }

  private constructor(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, model: DiffViewModel, private readonly hooks: DiffPanelHooks) {
    this.panel = panel;
    this.model = model;
    const webview = panel.webview;
    webview.html = shellFor(webview, extensionUri, 'diff', 'Re-verify diff');
    this.disposables.push(
      webview.onDidReceiveMessage((raw: unknown) => void this.onMessage(raw)),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  private post(message: HostToDiff): void {
    void this.panel.webview.postMessage(message);
  }

  private push(): void {
    if (this.ready) this.post({ type: 'diff', model: this.model });
  }

  private async onMessage(raw: unknown): Promise<void> {
    const checked = validateDiffMessage(raw);
    if (!checked.ok) {
      this.hooks.output.appendLine(`[diff] refused a webview message: ${checked.reason}`);
      return;
    }
    const m = checked.message;
    try {
      switch (m.type) {
        case 'ready':
          this.ready = true;
          this.push();
          break;
        case 'openTrajectory':
          await this.hooks.openTrajectory(m.trajectoryKey);
          break;
        case 'accept':
          if (m.verifierId !== this.model.verifier.id) {
            this.post({ type: 'acceptFailed', message: 'this diff is not the latest one: re-open it' });
            break;
          }
          await this.hooks.accept(this.model.runId, m.verifierId);
          this.model = { ...this.model, activeVerifierId: m.verifierId };
          this.post({ type: 'accepted', verifierId: m.verifierId });
          break;
        case 'browseSets':
          await this.hooks.browseSets(this.model.runId);
          break;
      }
    } catch (e) {
      const message = (e as Error).message;
      this.hooks.output.appendLine(`[diff] ${m.type} failed: ${message}`);
      if (m.type === 'accept') this.post({ type: 'acceptFailed', message });
      else void vscode.window.showErrorMessage(`Reward Lens: ${message}`);
    }
  }

  dispose(): void {
    if (DiffPanel.current === this) DiffPanel.current = undefined;
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}

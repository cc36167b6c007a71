// The whole-run what-if panel: opened as soon as the what-if starts (a new webview takes about a
// second to come up in code-server, which then overlaps the computation), shows the loading state,
// then the diff. Rows open their group in the inspector. Messages from the page are validated first.
import * as vscode from 'vscode';
import { validateWhatIfMessage, type HostToWhatIf, type WhatIfViewModel } from '../../core/whatIfMessages';
import { shellFor, webviewOptions } from '../panels/webview';

export interface WhatIfPanelHooks {
  output: vscode.OutputChannel;
  openGroup(groupId: number): Promise<void>;
  /** the panel was closed by the user */
  onClosed(): void;
}

export class WhatIfPanel {
  static readonly viewType = 'rewardLens.whatIf';
  private readonly panel: vscode.WebviewPanel;
  private ready = false;
  private pending: HostToWhatIf | null = null;
  private shownAt = 0;
  private startedAt = 0;
  private readonly disposables: vscode.Disposable[] = [];
  private disposed = false;

  constructor(extensionUri: vscode.Uri, runId: string, private readonly hooks: WhatIfPanelHooks) {
    this.panel = vscode.window.createWebviewPanel(WhatIfPanel.viewType, `What-if: ${runId}`, vscode.ViewColumn.Active, webviewOptions(extensionUri));
    this.panel.webview.html = shellFor(this.panel.webview, extensionUri, 'whatif', `What-if over run ${runId}`);
    this.disposables.push(
      this.panel.webview.onDidReceiveMessage((raw: unknown) => void this.onMessage(raw)),
      this.panel.onDidDispose(() => {
        if (!this.disposed) hooks.onClosed();
        this.dispose();
      }),
    );
  }

  /** When the user asked, for the end-to-end timing logged once the diff is on screen. */
  started(at: number): void {
    this.startedAt = at;
  }

  show(model: WhatIfViewModel): void {
    this.shownAt = performance.now();
    this.send({ type: 'whatIf', model });
  }

  error(message: string): void {
    this.send({ type: 'error', message });
  }

  private send(m: HostToWhatIf): void {
    if (this.ready) void this.panel.webview.postMessage(m);
    else this.pending = m;
  }

  private async onMessage(raw: unknown): Promise<void> {
    const checked = validateWhatIfMessage(raw);
    if (!checked.ok) {
      this.hooks.output.appendLine(`[whatif] refused a webview message: ${checked.reason}`);
      return;
    }
    const m = checked.message;
    switch (m.type) {
      case 'ready':
        this.ready = true;
        if (this.pending) void this.panel.webview.postMessage(this.pending);
        this.pending = null;
        break;
      case 'rendered':
        if (this.startedAt > 0 && this.shownAt > 0) {
          // From the ask to the frame that shows the diff: what the researcher waited for.
          this.hooks.output.appendLine(`[perf] host.whatif-run ${(performance.now() - this.startedAt).toFixed(1)} ms size=${m.rows}`);
          this.startedAt = 0;
        }
        break;
      case 'openGroup':
        try {
          await this.hooks.openGroup(m.groupId);
        } catch (e) {
          void vscode.window.showErrorMessage(`Reward Lens: ${(e as Error).message}`);
        }
        break;
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}

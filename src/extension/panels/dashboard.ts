// The run dashboard panel: one webview per run, refreshed (debounced) while the run ingests.
import * as vscode from 'vscode';
import type { PanelDeps } from './deps';
import { DashboardController } from './controllers';
import { shellFor, webviewOptions } from './webview';
import { performance } from 'node:perf_hooks';

const REFRESH_MS = 750;
/** how long a new panel may stay blank while its series is read for its HTML */
const SEED_WAIT_MS = 150;

export class DashboardPanel {
  static readonly viewType = 'rewardLens.dashboard';
  private static readonly open = new Map<string, DashboardPanel>();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly controller: DashboardController;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private disposed = false;

  static show(deps: PanelDeps, runId: string): void {
    const existing = DashboardPanel.open.get(runId);
    if (existing) {
      existing.panel.reveal(undefined, false);
      void existing.controller.show(runId);
      return;
    }
    const panel = vscode.window.createWebviewPanel(DashboardPanel.viewType, `Dashboard · ${runId}`, vscode.ViewColumn.Active, webviewOptions(deps.extensionUri));
    DashboardPanel.open.set(runId, new DashboardPanel(panel, deps, runId));
  }

  private constructor(private readonly panel: vscode.WebviewPanel, deps: PanelDeps, private readonly runId: string) {
    panel.iconPath = vscode.Uri.joinPath(deps.extensionUri, 'media', 'reward-lens.svg');
    this.controller = new DashboardController(
      {
        getStore: () => deps.getStore(),
        post: (m) => panel.webview.postMessage(m),
        log: (line) => deps.output.appendLine(line),
        now: () => performance.now(),
        // Beside: clicking through steps and groups keeps the curves in view.
        openGroup: (g, t) => deps.openGroup(g, t, 'beside'),
        setTitle: (t) => (panel.title = t),
      },
      runId,
    );
    // The series rides in the page when it can be read quickly; otherwise the page shows its
    // loading state at once and receives the series when it is ready.
    const setHtml = (initial: unknown) => {
      if (!this.disposed) panel.webview.html = shellFor(panel.webview, deps.extensionUri, 'dashboard', 'Reward Lens Dashboard', initial ?? undefined);
    };
    this.controller.seed(SEED_WAIT_MS).then(setHtml, () => setHtml(undefined));
    this.disposables.push(
      panel.webview.onDidReceiveMessage((raw: unknown) => {
        this.controller.handle(raw).catch((e: Error) => deps.output.appendLine(`[dashboard] ${e.stack ?? e.message}`));
      }),
      deps.onDidChangeStore((e) => {
        if (e.runId !== undefined && e.runId !== this.runId) return;
        // Live runs ingest every few seconds: coalesce into one refresh.
        clearTimeout(this.refreshTimer);
        this.refreshTimer = setTimeout(() => void this.controller.onStoreChange(e).catch(() => undefined), REFRESH_MS);
      }),
      panel.onDidChangeViewState(() => void this.controller.setVisible(panel.visible).catch(() => undefined)),
      panel.onDidDispose(() => this.dispose()),
    );
    deps.disposables.push({ dispose: () => this.panel.dispose() });
  }

  private dispose(): void {
    this.disposed = true;
    clearTimeout(this.refreshTimer);
    if (DashboardPanel.open.get(this.runId) === this) DashboardPanel.open.delete(this.runId);
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

// The run dashboard panel: one webview per run, refreshed (debounced) while the run ingests.
import * as vscode from 'vscode';
import { performance } from 'node:perf_hooks';
import type { HostToDashboard } from '../../core/messages';
import type { PanelDeps } from './deps';
import { DashboardController } from './controllers';
import { WebviewPanelHost } from './host';
import { toDisposable } from '../lifecycle';

const REFRESH_MS = 750;
/** how long a new panel may stay blank while its series is read for its HTML */
const SEED_WAIT_MS = 150;

export class DashboardPanel extends WebviewPanelHost<HostToDashboard, DashboardController> {
  static readonly viewType = 'rewardLens.dashboard';
  private static readonly open = new Map<string, DashboardPanel>();
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;

  static show(deps: PanelDeps, runId: string): void {
    const existing = DashboardPanel.open.get(runId);
    if (existing) {
      existing.reveal();
      void existing.controller.show(runId);
      return;
    }
    DashboardPanel.open.set(runId, new DashboardPanel(deps, runId));
  }

  private constructor(deps: PanelDeps, private readonly runId: string) {
    super(
      {
        viewType: DashboardPanel.viewType,
        title: `Dashboard · ${runId}`,
        pageTitle: 'Reward Lens Dashboard',
        view: 'dashboard',
        column: vscode.ViewColumn.Active,
        extensionUri: deps.extensionUri,
        output: deps.output,
        logPrefix: '[dashboard]',
        owner: deps.panels,
        deferHtml: true,
      },
      (channel) =>
        new DashboardController(
          {
            getStore: () => deps.getStore(),
            post: channel.post,
            log: (line) => deps.output.appendLine(line),
            now: () => performance.now(),
            // Beside: clicking through steps and groups keeps the curves in view.
            openGroup: (g, t) => deps.openGroup(g, t, 'beside'),
            setTitle: channel.setTitle,
          },
          runId,
        ),
    );
    // The series rides in the page when it can be read quickly; otherwise the page shows its
    // loading state at once and receives the series when it is ready.
    this.controller.seed(SEED_WAIT_MS).then(
      (initial) => this.setHtml(initial ?? undefined),
      () => this.setHtml(),
    );
    this._register(
      deps.onDidChangeStore((e) => {
        if (e.runId !== undefined && e.runId !== this.runId) return;
        // Live runs ingest every few seconds: coalesce into one refresh.
        clearTimeout(this.refreshTimer);
        this.refreshTimer = setTimeout(() => void this.controller.onStoreChange(e).catch(() => undefined), REFRESH_MS);
      }),
    );
    this._register(toDisposable(() => clearTimeout(this.refreshTimer)));
    this._register(this.panel.onDidChangeViewState(() => void this.controller.setVisible(this.panel.visible).catch(() => undefined)));
  }

  override dispose(): void {
    if (DashboardPanel.open.get(this.runId) === this) DashboardPanel.open.delete(this.runId);
    super.dispose();
  }
}

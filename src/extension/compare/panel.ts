// The Compare Runs panel: one editor-area webview, reused for whichever runs are compared next.
// Reused rather than one per comparison because in code-server every new webview waits about a
// second for VS Code's webview service worker before any of its content loads (bench/RESULTS.md,
// vscode-latency): a second comparison in the open panel skips that wait.
import * as vscode from 'vscode';
import { performance } from 'node:perf_hooks';
import type { HostToCompare } from '../../core/compareMessages';
import type { PanelDeps } from '../panels/deps';
import { WebviewPanelHost } from '../panels/host';
import { toDisposable } from '../lifecycle';
import { CompareController, type CompareStore } from './controller';

/** What the panel needs from activate(): the panels' deps, with the store as Compare Runs reads it. */
export type CompareDeps = Pick<PanelDeps, 'extensionUri' | 'output' | 'openGroup' | 'onDidChangeStore' | 'panels'> & {
  getStore(): CompareStore | undefined;
};

const REFRESH_MS = 750;
/** how long a new panel may stay blank while the runs are read for its HTML */
const SEED_WAIT_MS = 150;
/** a read still going after this long gets a notification with Cancel */
const PROGRESS_AFTER_MS = 400;

export class ComparePanel extends WebviewPanelHost<HostToCompare, CompareController> {
  static readonly viewType = 'rewardLens.compare';
  private static current: ComparePanel | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private progressTimer: ReturnType<typeof setTimeout> | undefined;

  /** Shows the runs in the open panel, or opens one. */
  static show(deps: CompareDeps, runIds: readonly string[]): void {
    const existing = ComparePanel.current;
    if (existing) {
      existing.reveal();
      const read = existing.controller.begin(runIds);
      existing.offerCancel(read, runIds.length);
      void existing.controller.deliver();
      return;
    }
    ComparePanel.current = new ComparePanel(deps, runIds);
  }

  private constructor(deps: CompareDeps, runIds: readonly string[]) {
    super(
      {
        viewType: ComparePanel.viewType,
        title: 'Compare Runs',
        pageTitle: 'Reward Lens: Compare Runs',
        view: 'compare',
        column: vscode.ViewColumn.Active,
        extensionUri: deps.extensionUri,
        output: deps.output,
        logPrefix: '[compare]',
        owner: deps.panels,
        deferHtml: true,
      },
      (channel) =>
        new CompareController(
          {
            getStore: () => deps.getStore(),
            post: channel.post,
            log: (line) => deps.output.appendLine(line),
            now: () => performance.now(),
            // Beside: the comparison stays in sight while a group is read in full.
            openGroup: (g, t) => deps.openGroup(g, t, 'beside'),
            setTitle: channel.setTitle,
          },
          runIds,
        ),
    );
    const read = this.controller.begin(runIds);
    this.offerCancel(read, runIds.length);
    // The first view rides in the page when it can be read quickly; otherwise the page shows its
    // loading state at once and receives the view after it says `ready`.
    this.controller.seed(SEED_WAIT_MS).then(
      (initial) => this.setHtml(initial ?? undefined),
      () => this.setHtml(),
    );
    this._register(
      deps.onDidChangeStore((e) => {
        if (e.runId !== undefined && !this.controller.currentRunIds.includes(e.runId)) return;
        clearTimeout(this.refreshTimer);
        this.refreshTimer = setTimeout(() => void this.controller.onStoreChange(e).catch(() => undefined), REFRESH_MS);
      }),
    );
    this._register(toDisposable(() => {
      clearTimeout(this.refreshTimer);
      clearTimeout(this.progressTimer);
    }));
    this._register(this.panel.onDidChangeViewState(() => void this.controller.setVisible(this.panel.visible).catch(() => undefined)));
  }

  /** A read that takes longer than a moment (a cold cache, a store on a slow disk) shows progress with Cancel. */
  private offerCancel(read: Promise<unknown>, runs: number): void {
    let done = false;
    void read.finally(() => { done = true; });
    clearTimeout(this.progressTimer);
    this.progressTimer = setTimeout(() => {
      if (done || this.isDisposed) return;
      void vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Reward Lens: reading ${runs} runs to compare…`, cancellable: true },
        async (_progress, token) => {
          const sub = token.onCancellationRequested(() => this.controller.cancel());
          try {
            await read;
          } finally {
            sub.dispose();
          }
        },
      );
    }, PROGRESS_AFTER_MS);
  }

  override dispose(): void {
    if (ComparePanel.current === this) ComparePanel.current = undefined;
    this.controller.cancel();
    super.dispose();
  }
}

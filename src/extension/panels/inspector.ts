// The trajectory inspector panel: one editor-area webview, reused for whichever group is opened.
import * as vscode from 'vscode';
import { performance } from 'node:perf_hooks';
import type { InspectorPlacement, PanelDeps } from './deps';
import { InspectorController, parseRowId } from './controllers';
import { labelAuthor, shellFor, webviewOptions } from './webview';

export class InspectorPanel {
  static readonly viewType = 'rewardLens.inspector';
  private static current: InspectorPanel | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly controller: InspectorController;

  /** Opens the inspector on a group (its store row id), or moves the open inspector to it. */
  static show(deps: PanelDeps, groupId: string, focusTrajectoryId?: string, placement: InspectorPlacement = 'active'): void {
    const id = parseRowId(groupId);
    if (id === null) {
      deps.output.appendLine(`[inspector] refused to open group "${String(groupId).slice(0, 80)}": not a store row id`);
      return;
    }
    const existing = InspectorPanel.current;
    if (existing) {
      existing.panel.reveal(undefined, false);
      void existing.controller.show(id, focusTrajectoryId ?? null);
      return;
    }
    const panel = vscode.window.createWebviewPanel(InspectorPanel.viewType, 'Reward Lens Inspector', placement === 'beside' ? vscode.ViewColumn.Beside : vscode.ViewColumn.Active, webviewOptions(deps.extensionUri));
    InspectorPanel.current = new InspectorPanel(panel, deps, id, focusTrajectoryId ?? null);
  }

  private constructor(private readonly panel: vscode.WebviewPanel, deps: PanelDeps, groupId: number, focus: string | null) {
    panel.iconPath = vscode.Uri.joinPath(deps.extensionUri, 'media', 'reward-lens.svg');
    this.controller = new InspectorController(
      {
        getStore: () => deps.getStore(),
        post: (m) => panel.webview.postMessage(m),
        log: (line) => deps.output.appendLine(line),
        now: () => performance.now(),
        author: labelAuthor,
        openTrajectoryDocument: (key) => deps.openTrajectoryDocument(key),
        setTitle: (t) => (panel.title = t),
      },
      groupId,
    );
    // The page's first `ready` loads the group: messages posted before it loads could be lost.
    this.controller.prepare(groupId, focus);
    panel.webview.html = shellFor(panel.webview, deps.extensionUri, 'inspector', 'Reward Lens Inspector');
    this.disposables.push(
      panel.webview.onDidReceiveMessage((raw: unknown) => {
        this.controller.handle(raw).catch((e: Error) => deps.output.appendLine(`[inspector] ${e.stack ?? e.message}`));
      }),
      deps.onDidChangeStore(() => void this.controller.onStoreChange().catch(() => undefined)),
      panel.onDidDispose(() => this.dispose()),
    );
    deps.disposables.push({ dispose: () => this.panel.dispose() });
  }

  private dispose(): void {
    if (InspectorPanel.current === this) InspectorPanel.current = undefined;
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

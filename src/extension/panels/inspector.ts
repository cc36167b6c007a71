// The trajectory inspector panel: one editor-area webview, reused for whichever group is opened.
import * as vscode from 'vscode';
import { performance } from 'node:perf_hooks';
import type { HostToInspector } from '../../core/messages';
import type { InspectorPlacement, PanelDeps } from './deps';
import { InspectorController } from './controllers';
import type { GroupId } from '../../core/ids';
import { WebviewPanelHost } from './host';
import { labelAuthor } from './webview';
import { settings } from '../settings';

export class InspectorPanel extends WebviewPanelHost<HostToInspector, InspectorController> {
  static readonly viewType = 'rewardLens.inspector';
  private static current: InspectorPanel | undefined;

  /** Opens the inspector on a group (its store row id), or moves the open inspector to it. */
  static show(deps: PanelDeps, id: GroupId, focusTrajectoryId?: string, placement: InspectorPlacement = 'active'): void {
    const existing = InspectorPanel.current;
    if (existing) {
      existing.reveal();
      void existing.controller.show(id, focusTrajectoryId ?? null);
      return;
    }
    InspectorPanel.current = new InspectorPanel(deps, id, focusTrajectoryId ?? null, placement);
  }

  private constructor(deps: PanelDeps, groupId: GroupId, focus: string | null, placement: InspectorPlacement) {
    super(
      {
        viewType: InspectorPanel.viewType,
        title: 'Reward Lens Inspector',
        pageTitle: 'Reward Lens Inspector',
        view: 'inspector',
        column: placement === 'beside' ? vscode.ViewColumn.Beside : vscode.ViewColumn.Active,
        extensionUri: deps.extensionUri,
        output: deps.output,
        logPrefix: '[inspector]',
        owner: deps.panels,
        // The group is set before the page loads: its first `ready` loads it.
        deferHtml: true,
        // The page has its own find, which searches folded and not yet built text too.
        findWidget: false,
      },
      (channel) =>
        new InspectorController(
          {
            getStore: () => deps.getStore(),
            post: channel.post,
            log: (line) => deps.output.appendLine(line),
            now: () => performance.now(),
            author: labelAuthor,
            addLabel: (label) => deps.addLabel(label),
            // in the inspector's own column, not a third one
            openTrajectoryDocument: (key) => deps.openTrajectoryDocument(key, InspectorPanel.current?.panel.viewColumn),
            setTitle: channel.setTitle,
            reasoningSetting: () => settings.reasoningFormat(),
            options: () => ({ renderMarkdown: settings.renderMarkdown() }),
          },
          groupId,
        ),
    );
    this.controller.prepare(groupId, focus);
    this.setHtml();
    this._register(deps.onDidChangeStore(() => void this.controller.onStoreChange().catch(() => undefined)));
    this._register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (settings.affects(e, 'reasoning.format') || settings.affects(e, 'inspector.renderMarkdown')) void this.controller.onSettingsChange().catch(() => undefined);
      }),
    );
  }

  override dispose(): void {
    if (InspectorPanel.current === this) InspectorPanel.current = undefined;
    super.dispose();
  }
}

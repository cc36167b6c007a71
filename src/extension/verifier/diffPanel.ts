// The re-verify diff webview: flips each way, reward and advantage changes, sign flips, lints,
// errors and timeouts, with Accept (make the new verdict set active; the old one stays in the store).
// The decisions are DiffController's; this wires it to a panel.
import * as vscode from 'vscode';
import { performance } from 'node:perf_hooks';
import type { DiffViewModel, HostToDiff } from '../../core/diffMessages';
import type { DisposableSet } from '../lifecycle';
import { WebviewPanelHost } from '../panels/host';
import { DiffController } from './diffController';

export interface DiffPanelHooks {
  extensionUri: vscode.Uri;
  output: vscode.OutputChannel;
  panels: DisposableSet;
  openTrajectory(trajectoryKey: number): Promise<void>;
  accept(runId: string, verifierId: string): Promise<void>;
  browseSets(runId: string): Promise<void>;
}

export class DiffPanel extends WebviewPanelHost<HostToDiff, DiffController> {
  static readonly viewType = 'rewardLens.verdictDiff';
  private static current: DiffPanel | undefined;

  static show(model: DiffViewModel, hooks: DiffPanelHooks): DiffPanel {
    const existing = DiffPanel.current;
    if (existing) {
      existing.reveal(vscode.ViewColumn.Active);
      void existing.controller.show(model);
      return existing;
    }
    DiffPanel.current = new DiffPanel(model, hooks);
    return DiffPanel.current;
  }

  private constructor(model: DiffViewModel, hooks: DiffPanelHooks) {
    super(
      {
        viewType: DiffPanel.viewType,
        title: `Re-verify: ${model.runId}`,
        pageTitle: 'Re-verify diff',
        view: 'diff',
        column: vscode.ViewColumn.Active,
        extensionUri: hooks.extensionUri,
        output: hooks.output,
        logPrefix: '[diff]',
        owner: hooks.panels,
      },
      (channel) =>
        new DiffController(
          {
            post: channel.post,
            log: (line) => hooks.output.appendLine(line),
            now: () => performance.now(),
            openTrajectory: (key) => hooks.openTrajectory(key),
            accept: (runId, verifierId) => hooks.accept(runId, verifierId),
            browseSets: (runId) => hooks.browseSets(runId),
            showError: (message) => void vscode.window.showErrorMessage(`Reward Lens: ${message}`),
            setTitle: channel.setTitle,
          },
          model,
        ),
    );
  }

  override dispose(): void {
    if (DiffPanel.current === this) DiffPanel.current = undefined;
    super.dispose();
  }
}

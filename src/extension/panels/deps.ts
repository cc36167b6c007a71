// What the panels need from the extension's composition root (activate()). Panels never open the
// store or register commands themselves, so activate() stays the one place that wires things.
import type * as vscode from 'vscode';
import type { RunStoreApi } from '../../node/store/types';

export type RunStore = RunStoreApi;
export type InspectorPlacement = 'active' | 'beside';

export interface PanelDeps {
  extensionUri: vscode.Uri;
  /** the store the UI reads; undefined until a run store is open */
  getStore(): RunStore | undefined;
  output: vscode.OutputChannel;
  /**
   * opens (or reveals) the inspector on a group; groupId is the store's integer row id as a string.
   * 'beside' creates a new inspector in the next editor group, so the view it was opened from
   * (the dashboard) stays in sight; an open inspector is reused where it is.
   */
  openGroup(groupId: string, focusTrajectoryId?: string, placement?: InspectorPlacement): Promise<void>;
  /** opens a trajectory as the read-only virtual document with inline decorations */
  openTrajectoryDocument(trajectoryId: string): Promise<void>;
  /** fires after an ingest pass changed the store (live runs) */
  onDidChangeStore: vscode.Event<{ runId?: string; step?: number }>;
  /** panels push their own subscriptions here so deactivate() disposes them */
  disposables: vscode.Disposable[];
}

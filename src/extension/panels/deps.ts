// What the panels need from the extension's composition root (activate()). Panels never open the
// store or register commands themselves, so activate() stays the one place that wires things.
import type * as vscode from 'vscode';
import type { LabelRecord, NewLabel, RunStoreApi } from '../../node/store/types';
import type { GroupId, TrajectoryKey } from '../../core/ids';
import type { DisposableSet } from '../lifecycle';

export type RunStore = RunStoreApi;
export type InspectorPlacement = 'active' | 'beside';

export interface PanelDeps {
  extensionUri: vscode.Uri;
  /** the store the UI reads; undefined until a run store is open */
  getStore(): RunStore | undefined;
  output: vscode.OutputChannel;
  /**
   * opens (or reveals) the inspector on a group (its store row id).
   * 'beside' creates a new inspector in the next editor group, so the view it was opened from
   * (the dashboard) stays in sight; an open inspector is reused where it is.
   */
  openGroup(groupId: GroupId, focusTrajectoryId?: string, placement?: InspectorPlacement): Promise<void>;
  /** opens a trajectory as the read-only virtual document with inline decorations, in `column` (default: beside the active one) */
  openTrajectoryDocument(trajectoryKey: TrajectoryKey, column?: vscode.ViewColumn): Promise<void>;
  /** stores a label and tells whoever listens (the verifier's regression set) */
  addLabel(label: NewLabel): Promise<LabelRecord>;
  /** fires after an ingest pass changed the store (live runs) */
  onDidChangeStore: vscode.Event<{ runId?: string; step?: number }>;
  /** the open panels: each joins while it is open and leaves when closed; deactivate() disposes the rest */
  panels: DisposableSet;
}

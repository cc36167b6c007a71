// The extension's settings, read in one place with their defaults. Relative paths resolve against
// the first workspace folder; "" means the default under <workspace>/.reward-lens/.
import * as vscode from 'vscode';
import { isAbsolute, join } from 'node:path';
import { isReasoningSetting, type ReasoningSetting } from '../core/reasoning';

const SECTION = 'rewardLens';

function cfg(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration(SECTION);
}

export function workspaceRoot(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

function pathSetting(key: string, fallback: string): string | undefined {
  const v = (cfg().get<string>(key) ?? '').trim();
  const root = workspaceRoot();
  if (v) return isAbsolute(v) ? v : root ? join(root, v) : undefined;
  return root ? join(root, fallback) : undefined;
}

export const settings = {
  /** the run store file; undefined without a workspace and no absolute setting */
  storePath: () => pathSetting('storePath', join('.reward-lens', 'runs.db')),
  runsDirectory: () => pathSetting('runsDirectory', join('.reward-lens', 'runs')),
  configsDirectory: () => pathSetting('configsDirectory', join('.reward-lens', 'configs')),
  interpreter: () => (cfg().get<string>('python.interpreter') ?? '').trim(),
  pipArgs: () => (cfg().get<string[]>('python.pipArgs') ?? []).filter((a) => typeof a === 'string' && a.length > 0),
  encoderFolder: () => (cfg().get<string>('encoder.folder') ?? '').trim(),
  liveRefreshMs: () => Math.max(200, cfg().get<number>('liveRefreshMs') ?? 1000),
  hangTimeoutMs: () => Math.max(0, cfg().get<number>('training.hangTimeoutSeconds') ?? 600) * 1000,
  openDashboardOnStart: () => cfg().get<boolean>('openDashboardOnStart') === true,
  stopGraceMs: () => Math.max(1, cfg().get<number>('training.stopGraceSeconds') ?? 120) * 1000,
  /** how traces mark their reasoning: a format, or `auto` (each run's detected one) */
  reasoningFormat: (): ReasoningSetting => {
    const v = cfg().get<string>('reasoning.format');
    return isReasoningSetting(v) ? v : 'auto';
  },
  renderMarkdown: () => cfg().get<boolean>('inspector.renderMarkdown') === true,
  affects: (e: vscode.ConfigurationChangeEvent, key: string) => e.affectsConfiguration(`${SECTION}.${key}`),
};

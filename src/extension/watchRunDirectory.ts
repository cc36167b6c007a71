// "Reward Lens: Watch Run Directory…": attaches the open store to a run folder that another process
// writes (a verl job's +reward_lens.run_dir, a Reward Lens trainer started in a terminal), with the
// same tailer that follows the extension's own training runs. A notification shows what has
// arrived; Cancel stops following (a last pass first, so nothing written so far is left out); it
// ends by itself when the run's run_end arrives.
import * as vscode from 'vscode';
import { basename } from 'node:path';
import { describeRunWatch, RunDirectoryWatch, resolveRunDirectory, type RunWatchState } from '../node/ingest/runDirectory';
import type { StoreHost } from './storeHost';
import { settings, workspaceRoot } from './settings';
import { COMMANDS } from './commandRegistry';

export async function watchRunDirectoryCommand(stores: StoreHost, output: vscode.OutputChannel, arg?: unknown): Promise<void> {
  if (!stores.get()) {
    const pick = await vscode.window.showErrorMessage(
      'Reward Lens: no run store is open to watch a run into. Open or create one, then watch again.',
      'Open Run Store…',
    );
    if (pick) await vscode.commands.executeCommand(COMMANDS.openStore);
    if (!stores.get()) return;
  }
  let path = typeof arg === 'string' ? arg : arg instanceof vscode.Uri ? arg.fsPath : undefined;
  if (!path) {
    const root = workspaceRoot();
    const uris = await vscode.window.showOpenDialog({
      canSelectFiles: false,
      canSelectFolders: true,
      canSelectMany: false,
      openLabel: 'Watch',
      title: 'Reward Lens: watch a run folder (it holds, or will hold, events.jsonl)',
      defaultUri: root ? vscode.Uri.file(root) : undefined,
    });
    path = uris?.[0]?.fsPath;
  }
  if (!path) return;
  let target;
  try {
    target = await resolveRunDirectory(path);
  } catch (e) {
    void vscode.window.showErrorMessage(`Reward Lens: ${(e as Error).message}`);
    return;
  }
  const { dir, eventsFile } = target;
  const tailer = stores.tail(eventsFile, settings.liveRefreshMs());
  const watch = new RunDirectoryWatch(tailer, eventsFile);
  output.appendLine(`[watch] following ${eventsFile}`);
  const closed = new Promise<'closed'>((res) => {
    const sub = stores.onDidOpen(() => {
      sub.dispose();
      res('closed');
    });
    void watch.done.then(() => sub.dispose());
  });
  const outcome = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Reward Lens: watching ${basename(dir)}`, cancellable: true },
    async (progress, token) => {
      progress.report({ message: describeRunWatch(watch.state) });
      const report = (s: RunWatchState) => progress.report({ message: describeRunWatch(s) });
      watch.on('update', report);
      let cancel: vscode.Disposable | undefined;
      const cancelled = new Promise<'cancelled'>((res) => (cancel = token.onCancellationRequested(() => res('cancelled'))));
      try {
        return await Promise.race([watch.done.then(() => 'ended' as const), cancelled, closed]);
      } finally {
        watch.off('update', report);
        cancel?.dispose();
      }
    },
  );
  const state = watch.state;
  watch.dispose();
  if (outcome === 'closed') {
    output.appendLine(`[watch] ${eventsFile}: the store was closed or replaced; stopped following`);
    return;
  }
  await stores.untail(eventsFile).catch((e: Error) => output.appendLine(`[watch] ${e.message}`));
  for (const m of state.malformed.slice(0, 20)) output.appendLine(`[watch] ${m.file}:${m.line}: ${m.reason}`);
  const summary = describeRunWatch(watch.state);
  output.appendLine(`[watch] ${eventsFile}: ${outcome === 'ended' ? 'run ended' : 'stopped following'}; ${summary}`);
  if (outcome === 'ended') void vscode.window.showInformationMessage(`Reward Lens: ${summary}.`);
}

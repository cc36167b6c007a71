// "Reward Lens: What-If Over Whole Run": after relabels or a verifier change (an active verdict set
// other than the logged one), re-scores every group of a run with each member's effective verdict
// and shows what changes. Progress with cancel; the panel opens at once and shows the diff when done.
import * as vscode from 'vscode';
import type { RunStore } from '../../node/store/store';
import { COMMANDS, type Command } from '../commandRegistry';
import { storeGroupId, type GroupId } from '../../core/ids';
import { whatIfOverRun, WhatIfCancelled } from '../../node/whatif/runWhatIf';
import { WhatIfPanel } from './panel';

export interface WhatIfDeps {
  extensionUri: vscode.Uri;
  getStore(): RunStore | undefined;
  /** the run to re-score: from the command's argument, else the active run, else a pick */
  pickRun(arg: unknown): Promise<string | undefined>;
  openGroup(groupId: GroupId): Promise<void>;
  output: vscode.OutputChannel;
}

export function activateWhatIf(deps: WhatIfDeps): Command[] {
  let running: AbortController | null = null;
  return [{
    id: COMMANDS.whatIfOverRun,
    execute: async (arg?: unknown) => {
      const store = deps.getStore();
      if (!store) {
        const pick = await vscode.window.showErrorMessage('Reward Lens: no run store is open. Open one first.', 'Open Run Store…');
        if (pick) await vscode.commands.executeCommand(COMMANDS.openStore);
        return;
      }
      const runId = await deps.pickRun(arg);
      if (!runId) return;
      running?.abort();
      const abort = new AbortController();
      running = abort;
      const startedAt = performance.now();
      const panel = new WhatIfPanel(deps.extensionUri, runId, {
        output: deps.output,
        openGroup: (g) => deps.openGroup(storeGroupId(g)),
        onClosed: () => abort.abort(),
      });
      panel.started(startedAt);
      // How long the extension host's event loop was held at most while the run was re-scored
      // (the benchmark reads it: other commands, hovers and panels wait that long).
      let maxLag = 0;
      let tick = performance.now();
      const lagTimer = setInterval(() => {
        const now = performance.now();
        maxLag = Math.max(maxLag, now - tick - 50);
        tick = now;
      }, 50);
      try {
        const model = await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: `Reward Lens: what-if over run ${runId}`, cancellable: true },
          async (progress, token) => {
            token.onCancellationRequested(() => abort.abort());
            let last = 0;
            let lastAt = 0;
            return whatIfOverRun(store, runId, {
              signal: abort.signal,
              onProgress: (p) => {
                const now = performance.now();
                if (now - lastAt < 100 && p.done < p.total) return;
                lastAt = now;
                // Reading is most of the work: 0-80 %, scoring 80-100 %.
                const pct = p.total ? (p.phase === 'read' ? 80 : 20) * (p.done / p.total) + (p.phase === 'read' ? 0 : 80) : 0;
                progress.report({ increment: Math.max(0, pct - last), message: `${p.phase === 'read' ? 'reading' : 're-scoring'} ${p.done.toLocaleString('en-US')} / ${p.total.toLocaleString('en-US')} groups` });
                last = Math.max(last, pct);
              },
            });
          },
        );
        deps.output.appendLine(
          `[whatif] ${runId}: ${model.groups} groups, ${model.verdictChanges} verdicts changed, ${model.signFlips} sign flips, ` +
            `${model.replacementChanged} replacement changes, ΔR_total ${model.deltaRTotal.toFixed(4)}; read ${model.readMs.toFixed(0)} ms, scored ${model.computeMs.toFixed(0)} ms`,
        );
        clearInterval(lagTimer);
        deps.output.appendLine(`[perf] host.whatif-lag ${Math.max(0, maxLag).toFixed(1)} ms size=${model.trajectories}`);
        panel.show(model);
      } catch (e) {
        if (e instanceof WhatIfCancelled) {
          panel.dispose();
          deps.output.appendLine(`[whatif] ${runId}: cancelled`);
          return;
        }
        deps.output.appendLine(`[whatif] ${runId}: ${(e as Error).stack ?? String(e)}`);
        panel.error((e as Error).message);
        void vscode.window.showErrorMessage(`Reward Lens: the what-if over ${runId} failed: ${(e as Error).message}. Details are in the "Reward Lens" Output channel.`);
      } finally {
        clearInterval(lagTimer);
        if (running === abort) running = null;
      }
    },
  }];
}

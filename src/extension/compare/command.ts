// "Reward Lens: Compare Runs…": picks 2 to 6 runs of the open store (a multi-select quick pick,
// or the runs selected in the Runs tree) and shows them in the Compare Runs panel.
import * as vscode from 'vscode';
import { MAX_COMPARE_RUNS, MIN_COMPARE_RUNS } from '../../core/compare';
import { fmtPercent } from '../../core/format';
import type { RunSummary } from '../../node/store/types';
import { COMMANDS, type Command } from '../commandRegistry';
import { sortRuns } from '../commands';
import { compareOrder, compareRunIdsArg, selectionProblem } from './args';
import { ComparePanel, type CompareDeps } from './panel';

type RunItem = vscode.QuickPickItem & { runId: string };

function itemOf(r: RunSummary): RunItem {
  return {
    label: r.runId,
    description: `${r.variant} · ${r.status} · step ${r.lastStep ?? '—'} · acc ${fmtPercent(r.accuracy)}`,
    detail: r.model,
    runId: r.runId,
  };
}

const TITLE = `Reward Lens: Compare Runs (pick ${MIN_COMPARE_RUNS} to ${MAX_COMPARE_RUNS})`;

/** The multi-select pick; resolves the picked run ids, or undefined when dismissed. Stays open until the count is valid. */
function pickRuns(runs: readonly RunSummary[], preselected: readonly string[]): Promise<string[] | undefined> {
  return new Promise((resolve) => {
    const qp = vscode.window.createQuickPick<RunItem>();
    qp.title = TITLE;
    qp.placeholder = 'Type to filter; Space or click picks a run; Enter compares';
    qp.canSelectMany = true;
    qp.matchOnDescription = true;
    qp.matchOnDetail = true;
    qp.items = runs.map(itemOf);
    qp.selectedItems = qp.items.filter((i) => preselected.includes(i.runId));
    let done = false;
    const finish = (value: string[] | undefined) => {
      if (done) return;
      done = true;
      resolve(value);
      qp.dispose();
    };
    qp.onDidChangeSelection((sel) => {
      qp.title = sel.length >= MIN_COMPARE_RUNS && sel.length <= MAX_COMPARE_RUNS ? `${TITLE}: ${sel.length} picked` : `${TITLE}: ${selectionProblem(sel.length)}`;
    });
    qp.onDidAccept(() => {
      const picked = qp.selectedItems.map((i) => i.runId);
      const problem = selectionProblem(picked.length);
      if (problem) {
        qp.title = `${TITLE}: ${problem}`;
        return;
      }
      finish(picked);
    });
    qp.onDidHide(() => finish(undefined));
    qp.show();
  });
}

export function activateCompare(deps: CompareDeps): Command[] {
  let lastCompared: string[] = [];
  const execute = async (clicked?: unknown, selection?: unknown): Promise<void> => {
    const store = deps.getStore();
    if (!store) {
      const pick = await vscode.window.showErrorMessage('Reward Lens: no run store is open, so there are no runs to compare. Open one with "Open Run Store…".', 'Open Run Store…');
      if (pick) await vscode.commands.executeCommand(COMMANDS.openStore);
      return;
    }
    const runs = sortRuns(await store.listRuns());
    if (runs.length < MIN_COMPARE_RUNS) {
      const pick = await vscode.window.showErrorMessage(
        `Reward Lens: Compare Runs needs at least ${MIN_COMPARE_RUNS} runs, and the open store has ${runs.length === 0 ? 'none' : `only ${runs[0]?.runId}`}. Import or train another run into it, or open a store with more runs.`,
        'Import Rollouts…',
        'Open Run Store…',
      );
      if (pick === 'Import Rollouts…') await vscode.commands.executeCommand(COMMANDS.importRollouts);
      else if (pick === 'Open Run Store…') await vscode.commands.executeCommand(COMMANDS.openStore);
      return;
    }
    const known = new Set(runs.map((r) => r.runId));
    const asked = compareRunIdsArg(clicked, selection);
    const unknown = asked.filter((r) => !known.has(r));
    if (unknown.length) {
      void vscode.window.showWarningMessage(`Reward Lens: ${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not in the open store; pick the runs to compare.`);
    }
    const given = asked.filter((r) => known.has(r));
    let runIds: string[] | undefined = given;
    // From the tree with a valid selection: compare at once. Otherwise ask, with what was given
    // (or what was compared last) already picked.
    if (unknown.length || selectionProblem(given.length)) {
      const preselected = given.length ? given : lastCompared.filter((r) => known.has(r));
      runIds = await pickRuns(runs, preselected);
    }
    if (!runIds) return;
    runIds = compareOrder(runIds, runs);
    lastCompared = runIds;
    ComparePanel.show(deps, runIds);
  };
  return [{ id: COMMANDS.compareRuns, execute }];
}

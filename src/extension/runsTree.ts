// The Runs tree in the Reward Lens side bar: run → step → group, each with its badges. Live runs
// refresh at most once per rewardLens.liveRefreshMs, and only the run that changed is re-read.
import * as vscode from 'vscode';
import type { GroupSummary, RunSummary, StepSummary } from '../node/store/types';
import type { StoreHost } from './storeHost';
import { groupDescription, groupLabel, groupTooltip, runDescription, runLabel, runTooltip, stepDescription, stepLabel, stepTooltip } from './labels';
import { settings } from './settings';
import { COMMANDS } from './commandRegistry';

export type RunsNode =
  | { kind: 'run'; run: RunSummary }
  | { kind: 'step'; runId: string; step: StepSummary }
  | { kind: 'group'; group: GroupSummary }
  | { kind: 'message'; text: string; detail?: string; icon: string; command?: vscode.Command };

/** Steps beyond this are paged: a 2,000-step run would otherwise build 2,000 items at once. */
const STEP_PAGE = 200;

export class RunsTreeProvider implements vscode.TreeDataProvider<RunsNode>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<RunsNode | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly subs: vscode.Disposable[] = [];
  private runNodes = new Map<string, RunsNode & { kind: 'run' }>();
  private pendingRuns = new Set<string>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private lastRefresh = 0;
  private readonly stepLimit = new Map<string, number>();

  constructor(private readonly stores: StoreHost) {
    this.subs.push(
      stores.onDidOpen(() => this.refresh()),
      stores.onDidIngest((changes) => {
        for (const c of changes) this.pendingRuns.add(c.runId);
        this.scheduleRefresh();
      }),
    );
  }

  refresh(): void {
    this.runNodes.clear();
    this.emitter.fire(undefined);
  }

  showMoreSteps(runId: string): void {
    this.stepLimit.set(runId, (this.stepLimit.get(runId) ?? STEP_PAGE) + STEP_PAGE);
    const node = this.runNodes.get(runId);
    this.emitter.fire(node);
  }

  /** Debounced: a trainer writing 50 groups a second must not re-render the tree 50 times. */
  private scheduleRefresh(): void {
    if (this.refreshTimer) return;
    const wait = Math.max(0, settings.liveRefreshMs() - (Date.now() - this.lastRefresh));
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.lastRefresh = Date.now();
      const runs = [...this.pendingRuns];
      this.pendingRuns.clear();
      // a new run, or one not shown yet, needs the root re-read; known runs refresh alone
      if (runs.some((r) => !this.runNodes.has(r))) {
        this.refresh();
        return;
      }
      void (async () => {
        for (const r of runs) {
          const node = this.runNodes.get(r);
          const fresh = await this.stores.get()?.getRun(r).catch(() => null);
          if (!node) continue;
          if (fresh) node.run = fresh;
          this.emitter.fire(node);
        }
      })();
    }, wait);
  }

  getTreeItem(node: RunsNode): vscode.TreeItem {
    switch (node.kind) {
      case 'run': {
        const r = node.run;
        const item = new vscode.TreeItem(runLabel(r), vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `run:${r.runId}`;
        item.description = runDescription(r);
        item.tooltip = md(runTooltip(r));
        item.contextValue = `run.${r.status}`;
        item.iconPath = new vscode.ThemeIcon(
          r.status === 'running' ? 'pulse' : r.status === 'failed' ? 'error' : r.status === 'stopped' ? 'debug-stop' : 'pass',
          new vscode.ThemeColor(r.status === 'failed' ? 'errorForeground' : r.status === 'running' ? 'charts.blue' : 'charts.green'),
        );
        return item;
      }
      case 'step': {
        const s = node.step;
        const item = new vscode.TreeItem(stepLabel(s), s.groupCount > 0 ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
        item.id = `step:${node.runId}:${s.step}`;
        item.description = stepDescription(s);
        item.tooltip = md(stepTooltip(node.runId, s));
        item.contextValue = 'step';
        item.iconPath = new vscode.ThemeIcon(s.lintCount > 0 ? 'warning' : 'circle-small-filled', s.lintCount > 0 ? new vscode.ThemeColor('list.warningForeground') : undefined);
        return item;
      }
      case 'group': {
        const g = node.group;
        const item = new vscode.TreeItem(groupLabel(g), vscode.TreeItemCollapsibleState.None);
        item.id = `group:${g.groupId}`;
        item.description = groupDescription(g);
        item.tooltip = md(groupTooltip(g));
        item.contextValue = 'group';
        item.iconPath = new vscode.ThemeIcon(g.lintCount > 0 ? 'warning' : 'symbol-array', g.lintCount > 0 ? new vscode.ThemeColor('list.warningForeground') : undefined);
        item.command = { command: COMMANDS.openGroup, title: 'Open in Inspector', arguments: [String(g.groupId)] };
        item.accessibilityInformation = { label: `group ${g.promptId}, step ${g.step}, ${groupDescription(g)}` };
        return item;
      }
      case 'message': {
        const item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
        item.id = `message:${node.text}`;
        item.description = node.detail;
        item.tooltip = node.detail ? `${node.text}\n${node.detail}` : node.text;
        item.iconPath = new vscode.ThemeIcon(node.icon, node.icon === 'error' ? new vscode.ThemeColor('errorForeground') : undefined);
        item.command = node.command;
        item.contextValue = 'message';
        return item;
      }
    }
  }

  async getChildren(node?: RunsNode): Promise<RunsNode[]> {
    const store = this.stores.get();
    if (!store) return []; // the viewsWelcome content explains what to do
    try {
      if (!node) {
        const runs = await store.listRuns();
        await vscode.commands.executeCommand('setContext', 'rewardLens.noRuns', runs.length === 0);
        this.runNodes = new Map(runs.map((run) => [run.runId, { kind: 'run' as const, run }]));
        // newest first: the run being trained is what the user came for
        return [...this.runNodes.values()].sort((a, b) => (b.run.startedAt ?? '').localeCompare(a.run.startedAt ?? ''));
      }
      if (node.kind === 'run') {
        const steps = await store.listSteps(node.run.runId);
        if (!steps.length) return [{ kind: 'message', text: node.run.status === 'running' ? 'Waiting for the first step…' : 'No steps in this run', icon: node.run.status === 'running' ? 'loading~spin' : 'info' }];
        // newest step first while training; the limit pages long runs
        const ordered = [...steps].sort((a, b) => b.step - a.step);
        const limit = this.stepLimit.get(node.run.runId) ?? STEP_PAGE;
        const out: RunsNode[] = ordered.slice(0, limit).map((step) => ({ kind: 'step', runId: node.run.runId, step }));
        if (ordered.length > limit) {
          out.push({
            kind: 'message',
            text: `Show ${Math.min(STEP_PAGE, ordered.length - limit)} more steps…`,
            detail: `${ordered.length - limit} older steps not shown`,
            icon: 'ellipsis',
            command: { command: COMMANDS.showMoreSteps, title: 'Show more steps', arguments: [node.run.runId] },
          });
        }
        return out;
      }
      if (node.kind === 'step') {
        const groups = await store.listGroups(node.runId, node.step.step);
        return groups.map((group) => ({ kind: 'group', group }));
      }
      return [];
    } catch (e) {
      return [
        {
          kind: 'message',
          text: 'Cannot read the run store',
          detail: `${(e as Error).message} — reopen it with "Open Run Store…"`,
          icon: 'error',
          command: { command: COMMANDS.openStore, title: 'Open Run Store…' },
        },
      ];
    }
  }

  getParent(): undefined {
    return undefined;
  }

  dispose(): void {
    clearTimeout(this.refreshTimer);
    this.subs.forEach((s) => s.dispose());
    this.emitter.dispose();
  }
}

function md(text: string): vscode.MarkdownString {
  const m = new vscode.MarkdownString(text);
  m.isTrusted = false;
  m.supportHtml = false;
  return m;
}

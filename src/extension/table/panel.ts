// "Reward Lens: Trajectories Table": one panel over the open store. The page asks for windows of
// rows (or a grouping) by query id; the host answers from the store, latest query only mattering to
// the page. Messages from the page are validated first; prompt ids and texts travel as data only.
import * as vscode from 'vscode';
import type { RunStore } from '../../node/store/store';
import { validateTableMessage, type HostToTable, type TableQuery } from '../../core/tableMessages';
import { storeGroupId, type GroupId } from '../../core/ids';
import { shellFor, webviewOptions } from '../panels/webview';

export interface TablePanelDeps {
  extensionUri: vscode.Uri;
  getStore(): RunStore | undefined;
  openGroup(groupId: GroupId, focusTrajectoryId?: string): Promise<void>;
  output: vscode.OutputChannel;
}

export class TablePanel {
  static readonly viewType = 'rewardLens.table';
  private static current: TablePanel | null = null;
  private readonly panel: vscode.WebviewPanel;
  private readonly disposables: vscode.Disposable[] = [];

  static show(deps: TablePanelDeps): void {
    if (TablePanel.current) {
      TablePanel.current.panel.reveal();
      return;
    }
    TablePanel.current = new TablePanel(deps);
  }

  private constructor(private readonly deps: TablePanelDeps) {
    this.panel = vscode.window.createWebviewPanel(TablePanel.viewType, 'Trajectories', vscode.ViewColumn.Active, webviewOptions(deps.extensionUri));
    this.panel.webview.html = shellFor(this.panel.webview, deps.extensionUri, 'table', 'Trajectories');
    this.disposables.push(
      this.panel.webview.onDidReceiveMessage((raw: unknown) => void this.onMessage(raw)),
      this.panel.onDidDispose(() => this.dispose()),
    );
  }

  private post(m: HostToTable): void {
    void this.panel.webview.postMessage(m);
  }

  private async answer(queryId: number, query: TableQuery, offset: number, limit: number): Promise<void> {
    const store = this.deps.getStore();
    if (!store) {
      this.post({ type: 'error', queryId, message: 'No run store is open. Open one with "Reward Lens: Open Run Store…".' });
      return;
    }
    const t0 = performance.now();
    const flips = query.flippedOnly ? await store.relabelSignFlips() : null;
    if (query.groupBy === 'none') {
      const r = await store.tableRows(query, offset, limit, flips);
      this.post({ type: 'rows', queryId, offset, rows: r.rows, total: r.total, totalCapped: r.totalCapped, problems: r.problems });
    } else {
      const r = await store.tableGroups(query, query.groupBy, flips);
      this.post({ type: 'groups', queryId, groupBy: query.groupBy, groups: r.groups, problems: r.problems });
    }
    this.deps.output.appendLine(`[perf] host.table-query ${(performance.now() - t0).toFixed(1)} ms offset=${offset}`);
  }

  private async onMessage(raw: unknown): Promise<void> {
    const checked = validateTableMessage(raw);
    if (!checked.ok) {
      this.deps.output.appendLine(`[table] refused a webview message: ${checked.reason}`);
      return;
    }
    const m = checked.message;
    switch (m.type) {
      case 'ready':
        break;
      case 'query':
        try {
          await this.answer(m.queryId, m.query, m.offset, m.limit);
        } catch (e) {
          this.deps.output.appendLine(`[table] ${(e as Error).stack ?? String(e)}`);
          this.post({ type: 'error', queryId: m.queryId, message: `The store could not answer: ${(e as Error).message}` });
        }
        break;
      case 'openGroup':
        try {
          await this.deps.openGroup(storeGroupId(m.groupId), m.focusTrajectoryId ?? undefined);
        } catch (e) {
          void vscode.window.showErrorMessage(`Reward Lens: ${(e as Error).message}`);
        }
        break;
      case 'rendered':
        this.deps.output.appendLine(`[perf] webview.table ${m.ms.toFixed(1)} ms rows=${m.rows}`);
        break;
    }
  }

  private dispose(): void {
    if (TablePanel.current === this) TablePanel.current = null;
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

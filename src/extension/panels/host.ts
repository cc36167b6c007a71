// The one host of every editor-area webview (inspector, dashboard, verifier diff). It owns the
// WebviewPanel, the HTML shell, the ready-gated channel to the page and the panel's controller;
// the controller (vscode-free, unit-tested) owns the decisions. A panel's subscriptions live and
// die with it, and a closed panel leaves nothing behind in the extension's disposables.
import * as vscode from 'vscode';
import { Disposable, type DisposableSet } from '../lifecycle';
import { ReadyChannel, isReadyMessage } from './channel';
import { shellFor, webviewOptions } from './webview';
import type { WebviewName } from './html';

/** What a host asks of its controller: handle one raw (untrusted) message from the page. */
export interface PanelController {
  /** Resolves false when the message was refused. */
  handle(raw: unknown): Promise<boolean>;
  dispose?(): void;
}

/** What a controller gets from its host. */
export interface PanelChannel<Out> {
  /** posts once the page is ready; false when the panel is gone */
  post(message: Out): Promise<boolean>;
  setTitle(title: string): void;
}

export interface PanelHostOptions {
  viewType: string;
  /** the tab's first title (the controller may change it) */
  title: string;
  view: WebviewName;
  /** the page's own <title> */
  pageTitle: string;
  column: vscode.ViewColumn;
  extensionUri: vscode.Uri;
  output: vscode.OutputChannel;
  /** prefixes the Output channel lines about this panel, e.g. `[inspector]` */
  logPrefix: string;
  /** the open panels, disposed at deactivation; the host leaves it when it closes */
  owner: DisposableSet;
  /** sets the HTML later with setHtml() (the dashboard first reads what to put in it) */
  deferHtml?: boolean;
  /** VS Code's find widget in the page (default on; the inspector has its own find) */
  findWidget?: boolean;
}

export class WebviewPanelHost<Out, C extends PanelController> extends Disposable {
  readonly panel: vscode.WebviewPanel;
  readonly controller: C;
  private readonly channel: ReadyChannel<Out>;
  private panelGone = false;

  constructor(private readonly options: PanelHostOptions, makeController: (channel: PanelChannel<Out>) => C) {
    super();
    const panel = vscode.window.createWebviewPanel(options.viewType, options.title, options.column, webviewOptions(options.extensionUri, options.findWidget ?? true));
    panel.iconPath = vscode.Uri.joinPath(options.extensionUri, 'media', 'reward-lens.svg');
    this.panel = panel;
    this.channel = new ReadyChannel<Out>((m) => panel.webview.postMessage(m));
    this.controller = makeController({
      post: (m) => this.channel.post(m),
      setTitle: (t) => {
        if (!this.panelGone) panel.title = t;
      },
    });
    options.owner.add(this);
    this._register(
      panel.webview.onDidReceiveMessage((raw: unknown) => {
        if (isReadyMessage(raw)) this.channel.markReady();
        this.controller.handle(raw).catch((e: Error) => options.output.appendLine(`${options.logPrefix} ${e.stack ?? e.message}`));
      }),
    );
    this._register(
      panel.onDidDispose(() => {
        this.panelGone = true;
        this.dispose();
      }),
    );
    if (!options.deferHtml) this.setHtml();
  }

  /** Loads the page, with an optional first message carried in the HTML itself. */
  setHtml(initialMessage?: unknown): void {
    if (this.isDisposed) return;
    this.panel.webview.html = shellFor(this.panel.webview, this.options.extensionUri, this.options.view, this.options.pageTitle, initialMessage ?? undefined);
  }

  reveal(column?: vscode.ViewColumn): void {
    if (!this.isDisposed) this.panel.reveal(column, false);
  }

  override dispose(): void {
    if (this.isDisposed) return;
    super.dispose();
    this.channel.close();
    this.options.owner.delete(this);
    this.controller.dispose?.();
    if (!this.panelGone) {
      this.panelGone = true;
      this.panel.dispose();
    }
  }
}

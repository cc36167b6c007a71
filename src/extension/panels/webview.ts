// What both panels share: webview options (scripts on, resources limited to the bundle and media)
// and the HTML shell with a fresh nonce per load.
import * as vscode from 'vscode';
import { makeNonce, webviewHtml, type WebviewName } from './html';
import type { WebviewAssets } from '../../core/messages';

/** `findWidget`: VS Code's own find (it cannot search what the page has not built; the inspector has its own). */
export function webviewOptions(extensionUri: vscode.Uri, findWidget = true): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    // Kept alive while hidden: VS Code otherwise destroys a hidden webview and re-creates it on
    // reveal, which in code-server costs about 1.3 s (every new webview waits ~1 s for its service
    // worker; bench/RESULTS.md) and loses the page's own state (selected member and step, unfolded
    // reasoning, scroll). The price is the page's memory while hidden (docs/extension-ui.md).
    retainContextWhenHidden: true,
    enableFindWidget: findWidget,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
}

export function shellFor(webview: vscode.Webview, extensionUri: vscode.Uri, view: WebviewName, title: string, initialMessage?: unknown): string {
  const uri = (...path: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', ...path)).toString();
  // The inspector loads its Markdown/LaTeX renderer (a bundle of its own) only when it is turned on.
  const assets: WebviewAssets | undefined = view === 'inspector' ? { renderScript: uri('render.js'), katexCss: uri('katex', 'katex.min.css') } : undefined;
  return webviewHtml({ view, title, cspSource: webview.cspSource, scriptUri: uri(`${view}.js`), nonce: makeNonce(), initialMessage, assets });
}

/** Author of labels: the OS user, which is what a researcher's label export should name. */
export function labelAuthor(): string {
  const user = process.env.USER ?? process.env.USERNAME ?? '';
  return /^[\w.@-]{1,64}$/.test(user) ? user : 'vscode';
}

// What both panels share: webview options (scripts on, resources limited to the bundle and media)
// and the HTML shell with a fresh nonce per load.
import * as vscode from 'vscode';
import { makeNonce, webviewHtml, type WebviewName } from './html';

export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    // The page keeps its state in memory; re-creating it on reveal costs one `ready` round trip.
    retainContextWhenHidden: false,
    enableFindWidget: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
}

export function shellFor(webview: vscode.Webview, extensionUri: vscode.Uri, view: WebviewName, title: string, initialMessage?: unknown): string {
  const scriptUri = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', `${view}.js`)).toString();
  return webviewHtml({ view, title, cspSource: webview.cspSource, scriptUri, nonce: makeNonce(), initialMessage });
}

/** Author of labels: the OS user, which is what a researcher's label export should name. */
export function labelAuthor(): string {
  const user = process.env.USER ?? process.env.USERNAME ?? '';
  return /^[\w.@-]{1,64}$/.test(user) ? user : 'vscode';
}

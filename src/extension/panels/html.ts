// The HTML shell of every webview (inspector, dashboard, verifier diff): one CSP, one nonce source.
// Kept free of the vscode API so the CSP is unit-tested and the benchmark and browser tests serve
// the exact same page outside VS Code.
import { escapeHtml } from '../../core/formatText';
import { ASSETS_ELEMENT_ID, INITIAL_MESSAGE_ELEMENT_ID, jsonForHtmlDataBlock, type WebviewAssets } from '../../core/messages';

export type WebviewName = 'inspector' | 'dashboard' | 'diff' | 'whatif' | 'compare' | 'table';

export interface ShellOptions {
  view: WebviewName;
  title: string;
  /** webview.cspSource */
  cspSource: string;
  /** webview.asWebviewUri(dist/webview/<view>.js).toString() */
  scriptUri: string;
  nonce: string;
  /** extra nonce'd scripts placed before the bundle (the benchmark harness's host stand-in) */
  preludeScripts?: string[];
  /** extra nonce'd CSS (the benchmark harness's theme variables) */
  preludeCss?: string;
  /** a first host message carried in the page (a JSON data block: never executed) */
  initialMessage?: unknown;
  /** URLs of optional assets the page loads on demand (a JSON data block: never executed) */
  assets?: WebviewAssets;
}

const NONCE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** 32 characters from a CSPRNG (crypto.getRandomValues exists in Node 20 and browsers). */
export function makeNonce(): string {
  const bytes = new Uint8Array(32);
  globalThis.crypto.getRandomValues(bytes);
  let s = '';
  for (const b of bytes) s += NONCE_ALPHABET[b % NONCE_ALPHABET.length];
  return s;
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    // Lit components and our own styles use constructable stylesheets, which style-src does not
    // govern, so no 'unsafe-inline' is needed.
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `img-src ${cspSource} data:`,
    `font-src ${cspSource}`,
  ].join('; ');
}

export function webviewHtml(o: ShellOptions): string {
  if (!/^[A-Za-z0-9]{16,}$/.test(o.nonce)) throw new Error('nonce must be 16+ alphanumeric characters');
  const n = escapeHtml(o.nonce);
  const prelude = (o.preludeScripts ?? []).map((s) => `<script nonce="${n}">${s.replace(/<\/script/gi, '<\\/script')}</script>`).join('\n');
  const css = o.preludeCss ? `<style nonce="${n}">${o.preludeCss.replace(/<\/style/gi, '<\\/style')}</style>` : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(contentSecurityPolicy(o.cspSource, o.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(o.title)}</title>
${css}
</head>
<body data-view="${o.view}">
<div id="app" data-testid="${o.view}-root"></div>
${o.initialMessage === undefined ? '' : `<script type="application/json" id="${INITIAL_MESSAGE_ELEMENT_ID}">${jsonForHtmlDataBlock(o.initialMessage)}</script>`}
${o.assets === undefined ? '' : `<script type="application/json" id="${ASSETS_ELEMENT_ID}">${jsonForHtmlDataBlock(o.assets)}</script>`}
${prelude}
<script nonce="${n}" src="${escapeHtml(o.scriptUri)}"></script>
</body>
</html>`;
}

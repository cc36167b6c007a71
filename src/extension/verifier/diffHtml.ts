// The diff webview's page, without vscode imports so a browser test can load the production HTML
// and CSP. Prelude scripts (tests only) get the nonce too; the CSP is the same either way.

export interface DiffHtmlOptions {
  cspSource: string;
  scriptUri: string;
  nonce: string;
  /** extra nonce'd scripts before the bundle (a test's stand-in host) */
  preludeScripts?: string[];
}

export function diffCsp(cspSource: string, nonce: string): string {
  return `default-src 'none'; img-src ${cspSource}; font-src ${cspSource}; style-src ${cspSource} 'nonce-${nonce}'; script-src 'nonce-${nonce}';`;
}

function attr(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

export function diffHtml(o: DiffHtmlOptions): string {
  const prelude = (o.preludeScripts ?? []).map((s) => `<script nonce="${attr(o.nonce)}">${s.replace(/<\/script/gi, '<\\/script')}</script>`).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(diffCsp(o.cspSource, o.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Re-verify diff</title>
</head>
<body data-testid="diff-root">
<div id="app" data-testid="diff-app"></div>
${prelude}
<script nonce="${attr(o.nonce)}" src="${attr(o.scriptUri)}"></script>
</body>
</html>`;
}

export function makeNonce(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = new Uint8Array(32);
  globalThis.crypto.getRandomValues(bytes);
  let s = '';
  for (const b of bytes) s += chars.charAt(b % chars.length);
  return s;
}

// Loads the Markdown/LaTeX renderer (dist/webview/render.js) and KaTeX's stylesheet the first time
// rendering is turned on. The script carries this page's nonce (the CSP allows nothing else); the
// stylesheet and its fonts come from the extension's own resources, which the CSP allows.
import { takeAssets } from '../shared/vscode';
import type { TraceRenderer } from '../shared/renderer';

const nonce = (document.currentScript as HTMLScriptElement | null)?.nonce ?? document.querySelector<HTMLScriptElement>('script[nonce]')?.nonce ?? '';
// Read when the bundle starts, so the data block is gone before anything else runs.
const assets = takeAssets();
let loading: Promise<TraceRenderer | null> | null = null;

export function loadRenderer(): Promise<TraceRenderer | null> {
  if (window.__rewardLensRenderer) return Promise.resolve(window.__rewardLensRenderer);
  loading ??= new Promise((resolve) => {
    if (!assets.renderScript) return resolve(null);
    if (assets.katexCss) {
      const link = document.createElement('link');
      link.rel = 'stylesheet';
      link.href = assets.katexCss;
      document.head.appendChild(link);
    }
    const s = document.createElement('script');
    s.nonce = nonce;
    s.src = assets.renderScript;
    s.addEventListener('load', () => resolve(window.__rewardLensRenderer ?? null));
    s.addEventListener('error', () => resolve(null));
    document.head.appendChild(s);
  });
  return loading;
}


// What the webviews' browser tests share: their bundles built in memory as scripts/build.mjs builds
// them (so no prior build is needed), a local server for those bundles and the test pages, and
// Debian's Chromium (which setup installs for the e2e suite). Not a test file itself.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import * as esbuild from 'esbuild';
import { chromium, type Browser } from 'playwright-core';

const root = resolve(__dirname, '..', '..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A page script that records CSP violations in window.__csp, for the tests to assert none. */
export const CSP_RECORDER = `window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));`;

export interface BrowserHarness {
  /** the server's origin: the pages' CSP source */
  origin: string;
  /** test pages by path (`/name.html`), served as HTML */
  pages: Map<string, string>;
  browser: Browser;
  close(): Promise<void>;
}

/** Bundles `entries` (name → path from the repo root), served as `/<name>.js`, and starts Chromium. */
export async function startBrowserHarness(entries: Record<string, string>): Promise<BrowserHarness> {
  assert.ok(existsSync(CHROMIUM), `Chromium is needed at ${CHROMIUM} (scripts/setup.d installs it; CHROMIUM_PATH overrides)`);
  const out = await esbuild.build({
    entryPoints: Object.fromEntries(Object.entries(entries).map(([name, path]) => [name, resolve(root, path)])),
    bundle: true, write: false, outdir: '/out', platform: 'browser', target: 'es2022', format: 'iife', loader: { '.css': 'text' }, logLevel: 'silent',
  });
  const bundles = new Map(out.outputFiles.map((f) => [`/${f.path.split('/').pop()}`, f.text]));
  const pages = new Map<string, string>();
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0] as string;
    // KaTeX's stylesheet and fonts, as the build copies them beside the renderer bundle
    const katex = /^\/katex\/((?:fonts\/)?[\w.-]+\.(?:css|woff2))$/.exec(url);
    if (katex) {
      const file = resolve(root, 'node_modules', 'katex', 'dist', katex[1] as string);
      if (!existsSync(file)) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': url.endsWith('.css') ? 'text/css' : 'font/woff2' });
      return void res.end(readFileSync(file));
    }
    const body = pages.get(url) ?? bundles.get(url);
    if (body === undefined) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': url.endsWith('.js') ? 'text/javascript' : 'text/html; charset=utf-8' });
    res.end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const addr = server.address();
  const origin = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  return {
    origin,
    pages,
    browser,
    close: async () => {
      await browser.close();
      server.close();
    },
  };
}

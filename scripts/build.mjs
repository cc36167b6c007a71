// Bundles the extension host, the CLI, the encoder worker and the webviews with esbuild.
// Native packages stay external: they ship in node_modules inside the .vsix.
import * as esbuild from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');
const external = ['vscode', 'sqlite3', 'onnxruntime-node', '@huggingface/tokenizers'];

const nodeEntries = [
  { in: 'src/extension/extension.ts', out: 'extension' },
  { in: 'src/node/cli.ts', out: 'cli' },
  { in: 'src/node/encoder/worker.ts', out: 'encoderWorker' },
].filter((e) => existsSync(e.in));

const webEntries = [
  { in: 'webview/inspector/main.ts', out: 'inspector' },
  { in: 'webview/dashboard/main.ts', out: 'dashboard' },
  { in: 'webview/diff/main.ts', out: 'diff' },
  { in: 'webview/compare/main.ts', out: 'compare' },
  { in: 'webview/whatif/main.ts', out: 'whatif' },
  { in: 'webview/table/main.ts', out: 'table' },
  // the inspector's optional Markdown/LaTeX renderer, loaded only when turned on
  { in: 'webview/render/main.ts', out: 'render' },
].filter((e) => existsSync(e.in));

/**
 * KaTeX's stylesheet and fonts beside the renderer (the page links them; the CSP allows styles
 * and fonts from the extension's own resources). Only the woff2 fonts: every browser VS Code
 * runs in takes them, and the stylesheet lists them first.
 */
function copyKatexAssets() {
  const from = 'node_modules/katex/dist';
  if (!existsSync(from)) return;
  mkdirSync('dist/webview/katex/fonts', { recursive: true });
  copyFileSync(`${from}/katex.min.css`, 'dist/webview/katex/katex.min.css');
  for (const f of readdirSync(`${from}/fonts`)) if (f.endsWith('.woff2')) copyFileSync(`${from}/fonts/${f}`, `dist/webview/katex/fonts/${f}`);
}

const common = { bundle: true, sourcemap: !production, minify: production, logLevel: 'info', legalComments: 'none' };

const contexts = [
  await esbuild.context({
    ...common,
    entryPoints: nodeEntries,
    outdir: 'dist',
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external,
    banner: { js: '' },
  }),
];
if (webEntries.length) {
  contexts.push(
    await esbuild.context({
      ...common,
      entryPoints: webEntries,
      outdir: 'dist/webview',
      platform: 'browser',
      target: 'es2022',
      format: 'iife',
      loader: { '.css': 'text' },
    }),
  );
}

copyKatexAssets();

if (watch) {
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  for (const c of contexts) {
    await c.rebuild();
    await c.dispose();
  }
}

// Bundles the extension host, the CLI, the encoder worker and the webviews with esbuild.
// Native packages stay external: they ship in node_modules inside the .vsix.
import * as esbuild from 'esbuild';
import { existsSync } from 'node:fs';

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
].filter((e) => existsSync(e.in));

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

if (watch) {
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  for (const c of contexts) {
    await c.rebuild();
    await c.dispose();
  }
}

// Lint for the TypeScript tree. `npx eslint .` runs in the unit suite (scripts/test.d/10-unit.sh)
// and so in CI, and must stay at zero warnings (--max-warnings 0).
//
// The layers (README "Architecture") are enforced here as import zones: the layer is part of the
// file's path, so a wrong import names the rule and the two folders.
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';

const NODE_BUILTINS = ['node:*', 'fs', 'fs/*', 'path', 'os', 'child_process', 'worker_threads', 'crypto', 'net', 'http', 'https', 'stream', 'zlib', 'util', 'events', 'readline', 'process', 'url', 'buffer', 'timers', 'module', 'v8', 'vm', 'assert', 'tty', 'perf_hooks'];

/** A zone: files under `target` may not import files under `from` (except `except`, relative to `from`). */
const zone = (target, from, message, except) => ({ target, from, message, ...(except ? { except } : {}) });

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', '.cache/**', '.venv/**', 'out/**', 'test/e2e/artifacts/**', 'python/**', '**/*.js', '**/*.cjs'],
  },
  {
    files: ['**/*.ts', '**/*.mjs'],
    extends: [tseslint.configs.base],
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.mjs', 'scripts/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.mjs', '.js', '.json', '.d.ts'] })],
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A promise nobody awaits loses its error; `void p` says the loss is intended.
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's test() and describe() return promises its runner awaits.
        { ignoreVoid: true, allowForKnownSafeCalls: [{ from: 'package', name: ['test', 'describe', 'it', 'suite'], package: 'node:test' }] },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      'import-x/no-restricted-paths': [
        'error',
        {
          basePath: import.meta.dirname,
          zones: [
            zone('./src/core', './src/node', 'src/core is pure: it may not import the Node layer.'),
            zone('./src/core', './src/extension', 'src/core is pure: it may not import the extension layer.'),
            zone('./src/core', './webview', 'src/core may not import a webview bundle.'),
            zone('./src/node', './src/extension', 'src/node may not import the extension layer (it runs in the CLI and in workers).'),
            zone('./src/node', './webview', 'src/node may not import a webview bundle.'),
            zone('./src/extension', './webview', 'the extension host talks to webviews through messages in src/core, never by import.'),
            zone('./webview', './src/node', 'a webview may import only src/core and browser packages.'),
            zone('./webview', './src/extension', 'a webview may import only src/core and browser packages.'),
            zone('./src', './test', 'product code may not import tests.'),
            zone('./src', './bench', 'product code may not import benchmarks.'),
            zone('./webview', './test', 'product code may not import tests.'),
            zone('./bench', './test', 'bench/ shares fixtures with test/ only through test/kit/.', ['./kit']),
            zone('./test', './bench', 'test/ shares fixtures with bench/ only through test/kit/.'),
          ],
        },
      ],
    },
  },
  {
    // Module names the pure layers may not import (the path zones above cover relative imports).
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: 'src/core is pure: no vscode.' }], patterns: [{ group: NODE_BUILTINS, message: 'src/core is pure: no Node I/O.' }] }],
    },
  },
  {
    files: ['src/node/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: 'src/node runs outside VS Code (CLI, workers): no vscode.' }] }],
    },
  },
  {
    files: ['webview/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: 'a webview has no vscode API; it posts messages.' }], patterns: [{ group: NODE_BUILTINS, message: 'a webview runs in a browser: no Node modules.' }] }],
    },
  },
);

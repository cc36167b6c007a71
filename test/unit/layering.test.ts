// Enforces the import direction: core is pure; webview talks only to core; node never imports
// the extension layer. A violation fails with the file and the offending import.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';

const root = resolve(__dirname, '..', '..');

function files(dir: string): string[] {
  const out: string[] = [];
  let entries: string[] = [];
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (/\.(ts|tsx|mts|js|mjs)$/.test(name)) out.push(p);
  }
  return out;
}

export function importsOf(source: string): string[] {
  const specs: string[] = [];
  const re = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;
  for (const m of source.matchAll(re)) specs.push((m[1] ?? m[2] ?? m[3] ?? m[4]) as string);
  return specs;
}

const NODE_BUILTINS = new Set(['fs', 'path', 'os', 'child_process', 'worker_threads', 'crypto', 'net', 'http', 'https', 'stream', 'zlib', 'util', 'events', 'readline', 'process', 'url', 'buffer', 'timers', 'module', 'v8', 'vm', 'assert', 'tty', 'dgram', 'dns', 'cluster', 'perf_hooks']);

function isNodeIo(spec: string): boolean {
  return spec.startsWith('node:') || NODE_BUILTINS.has(spec.split('/')[0] as string);
}

function resolvesInside(file: string, spec: string, dir: string): boolean {
  if (!spec.startsWith('.')) return false;
  const target = resolve(dirname(file), spec);
  return !relative(dir, target).startsWith('..');
}

test('src/core imports neither vscode nor Node I/O, and nothing outside core except the data files both languages read', () => {
  const core = join(root, 'src', 'core');
  const bad: string[] = [];
  for (const f of files(core)) {
    for (const spec of importsOf(readFileSync(f, 'utf8'))) {
      // the protocol schema and the variant traits: one definition, read by TypeScript and Python
      const allowedSchema = spec.endsWith('.schema.json') || spec.endsWith('/python/reward_lens/variants.json');
      if (spec === 'vscode' || isNodeIo(spec)) bad.push(`${relative(root, f)} imports ${spec}`);
      else if (spec.startsWith('.') && !resolvesInside(f, spec, core) && !allowedSchema) bad.push(`${relative(root, f)} imports ${spec}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('webview/ imports only src/core and browser packages', () => {
  const web = join(root, 'webview');
  const core = join(root, 'src', 'core');
  const bad: string[] = [];
  for (const f of files(web)) {
    for (const spec of importsOf(readFileSync(f, 'utf8'))) {
      if (spec === 'vscode' || isNodeIo(spec)) bad.push(`${relative(root, f)} imports ${spec}`);
      else if (spec.startsWith('.') && !resolvesInside(f, spec, web) && !resolvesInside(f, spec, core)) bad.push(`${relative(root, f)} imports ${spec}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('src/node never imports vscode or the extension layer', () => {
  const nodeDir = join(root, 'src', 'node');
  const ext = join(root, 'src', 'extension');
  const bad: string[] = [];
  for (const f of files(nodeDir)) {
    for (const spec of importsOf(readFileSync(f, 'utf8'))) {
      if (spec === 'vscode' || resolvesInside(f, spec, ext)) bad.push(`${relative(root, f)} imports ${spec}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('the import scanner catches what it must', () => {
  assert.deepEqual(importsOf(`import * as vscode from 'vscode';\nimport { x } from "node:fs";\nconst y = require('child_process');\nimport('./a');\nimport './side';`), ['vscode', 'node:fs', 'child_process', './a', './side']);
  assert.ok(isNodeIo('fs/promises'));
  assert.ok(!isNodeIo('d3'));
});

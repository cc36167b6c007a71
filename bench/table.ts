// The trajectories table's store queries (issue 18: first page, a sort and a filter, each ≤ 300 ms
// at p95) on the compare benchmark's store: 3 runs x 2M trajectories, so each figure is over a
// store three times the 2M the issue names (`npm run bench -- --only compare` builds it). What the
// host runs for one window of 200 rows: the page and the capped count together (store.tableRows).
//
// Usage: node --import tsx bench/table.ts [STORE.db]
import { existsSync } from 'node:fs';
import path from 'node:path';
import { RunStore } from '../src/node/store';
import type { TableQuery } from '../src/core/tableMessages';
import { CACHE_DIR, cpuDevice, figure, printTable, round, type Figure } from './lib/common';

const TARGET_MS = 300;
const REPS = 7;

function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)] as number;
}

async function main(): Promise<void> {
  const file = process.argv[2] ?? path.join(CACHE_DIR, 'compare-3x2000.db');
  if (!existsSync(file)) {
    console.log(JSON.stringify({ benchmark: 'table', ok: false, missing: `${file} is missing: npm run bench -- --only compare builds it` }));
    process.exitCode = 2;
    return;
  }
  const store = await RunStore.open(file, { readonly: true });
  const device = cpuDevice();
  const figures: Figure[] = [];
  try {
    const total = (await store.stats()).trajectories;
    const [run] = await store.listRuns();
    const base: TableQuery = { filter: '', sort: { column: 'order', dir: 'desc' }, groupBy: 'none', flippedOnly: false };
    const cases: [string, TableQuery][] = [
      ['first page (newest first, no filter)', base],
      ['sorted by step, newest first', { ...base, sort: { column: 'step', dir: 'desc' } }],
      ['sorted by R_total, largest first', { ...base, sort: { column: 'rTotal', dir: 'desc' } }],
      ['sorted by advantage, smallest first, one run', { ...base, filter: `run:${run?.runId}`, sort: { column: 'advantage', dir: 'asc' } }],
      ['filtered: one run, wrong verdicts, 11 steps', { ...base, filter: `run:${run?.runId} verdict:wrong step:100-110` }],
      ['filtered: wrong teachers in 11 steps of every run', { ...base, filter: 'verdict:wrong source:teacher step:100-110' }],
    ];
    for (const [name, q] of cases) {
      const ms: number[] = [];
      let rows = 0;
      for (let i = 0; i < REPS; i++) {
        const t0 = performance.now();
        const r = await store.tableRows(q, 0, 200);
        ms.push(performance.now() - t0);
        rows = r.total;
      }
      const v = p95(ms);
      console.log(`${name}: p95 ${v.toFixed(1)} ms, first ${ms[0]?.toFixed(1)} ms, ${rows}${rows >= 100_000 ? '+' : ''} rows`);
      figures.push(figure({
        benchmark: 'table', name: `trajectories table, ${name}, p95 (ms)`, unit: 'ms', value: round(v, 1), peer: 'issue 18 target', peerValue: TARGET_MS, better: 'lower', device,
        command: 'npm run bench -- --only table',
        note: `${total.toLocaleString('en')}-trajectory store (3 runs x 2M); a window of 200 rows and the count capped at 100,000; ${REPS} runs, the first ${Math.round(ms[0] as number)} ms`,
      }));
    }
  } finally {
    await store.close();
  }
  printTable('Trajectories table on the 6M store', figures);
  console.log(JSON.stringify({ benchmark: 'table', ok: true, figures }));
}

void main();

// The trajectories table's store queries (issue 18: first page, a sort and a filter, each ≤ 300 ms
// at p95) on the 2M-trajectory store of the queries benchmark (one run) and on the compare
// benchmark's store (3 runs x 2M), whichever exist (`--only queries` / `--only compare` build them).
// What the host runs for one window of 200 rows: the page and the capped count together
// (store.tableRows). The peer, measured in the same run: the same page with SQLite sorting every
// row the filter keeps (NOT INDEXED), which is what a sort cost before the per-run indexes.
//
// Usage: node --import tsx bench/table.ts [STORE.db ...]
import { existsSync } from 'node:fs';
import path from 'node:path';
import { RunStore } from '../src/node/store';
import type { TableQuery } from '../src/core/tableMessages';
import { parseSearch } from '../src/core/searchFilters';
import { tablePageSql, tableWhere } from '../src/node/store/tableQueries';
import { CACHE_DIR, cpuDevice, figure, printTable, round, type Figure } from './lib/common';

const TARGET_MS = 300;
const REPS = 7;
const PEER_REPS = 3;

function p50(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] as number;
}

function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)] as number;
}

async function measure(file: string, label: string, device: string): Promise<Figure[]> {
  // A store built by an older schema is upgraded first (its indexes are built once: about a minute for 6M).
  const t0 = performance.now();
  await (await RunStore.open(file, { onMigrate: (from, to) => console.log(`  ${label}: migrating from schema ${from} to ${to}`) })).close();
  if (performance.now() - t0 > 1000) console.log(`  ${label}: opened for writing in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const store = await RunStore.open(file, { readonly: true });
  const figures: Figure[] = [];
  try {
    const total = (await store.stats()).trajectories;
    const runs = await store.listRuns();
    const run = runs[0];
    const base: TableQuery = { filter: '', sort: { column: 'order', dir: 'desc' }, groupBy: 'none', flippedOnly: false };
    const cases: [string, TableQuery, number][] = [
      ['first page (newest first, no filter)', base, 0],
      ['sorted by step, newest first', { ...base, sort: { column: 'step', dir: 'desc' } }, 0],
      ['sorted by R_total, largest first', { ...base, sort: { column: 'rTotal', dir: 'desc' } }, 0],
      ['sorted by advantage, smallest first, one run', { ...base, filter: `run:${run?.runId}`, sort: { column: 'advantage', dir: 'asc' } }, 0],
      ['sorted by length, longest first, wrong verdicts', { ...base, filter: 'verdict:wrong', sort: { column: 'length', dir: 'desc' } }, 0],
      ['sorted by R_total, a window a million rows down', { ...base, sort: { column: 'rTotal', dir: 'desc' } }, 1_000_000],
      ['filtered: one run, wrong verdicts, 11 steps', { ...base, filter: `run:${run?.runId} verdict:wrong step:100-110` }, 0],
      ['filtered: wrong teachers in 11 steps of every run', { ...base, filter: 'verdict:wrong source:teacher step:100-110' }, 0],
    ];
    const runIds = runs.map((r) => r.runId).sort();
    for (const [name, q, offset] of cases) {
      const ms: number[] = [];
      let rows = 0;
      for (let i = 0; i < REPS; i++) {
        const t0 = performance.now();
        const r = await store.tableRows(q, offset, 200);
        ms.push(performance.now() - t0);
        rows = r.total;
      }
      let peerNote = '';
      if (q.sort.column !== 'order') {
        // The page alone (no count) with every index refused for the trajectories: SQLite reads and
        // sorts the filter's rows, as the table did before schema 7.
        const parsed = parseSearch(q.filter);
        const { where } = tableWhere(parsed, false, null); // no free words here: the index layout does not enter
        const page = tablePageSql(q, where, { runs: parsed.filters.runs.length ? parsed.filters.runs : runIds, narrow: true }, offset, 200);
        const peer: number[] = [];
        for (let i = 0; i < PEER_REPS; i++) {
          const t0 = performance.now();
          await store.db.all(page.sql.replace('FROM trajectories t JOIN', 'FROM trajectories t NOT INDEXED JOIN'), page.params);
          peer.push(performance.now() - t0);
        }
        peerNote = `; the same page sorted by SQLite over every row (NOT INDEXED), same run: p50 ${Math.round(p50(peer))} ms over ${PEER_REPS}`;
      }
      const v = p95(ms);
      console.log(`${label} ${name}: p95 ${v.toFixed(1)} ms, first ${ms[0]?.toFixed(1)} ms, ${rows}${rows >= 100_000 ? '+' : ''} rows${peerNote}`);
      figures.push(figure({
        benchmark: 'table', name: `trajectories table, ${label}, ${name}, p95 (ms)`, unit: 'ms', value: round(v, 1), peer: 'issue 18 target', peerValue: TARGET_MS, better: 'lower', device,
        command: 'npm run bench -- --only table',
        note: `${total.toLocaleString('en')} trajectories in ${runs.length} run${runs.length === 1 ? '' : 's'}; a window of 200 rows${offset ? ` at row ${offset.toLocaleString('en')}` : ''} and the count capped at 100,000; ${REPS} runs, the first ${Math.round(ms[0] as number)} ms${peerNote}`,
      }));
    }
  } finally {
    await store.close();
  }
  return figures;
}

async function main(): Promise<void> {
  const named = process.argv.slice(2);
  const stores: [string, string][] = named.length
    ? named.map((f) => [f, path.basename(f, '.db')])
    : [
        [path.join(CACHE_DIR, 'queries-2000000.db'), '2M store'],
        [path.join(CACHE_DIR, 'compare-3x2000.db'), '3 x 2M store'],
      ];
  const present = stores.filter(([f]) => existsSync(f));
  if (!present.length) {
    console.log(JSON.stringify({ benchmark: 'table', ok: false, missing: `none of ${stores.map(([f]) => f).join(', ')}: npm run bench -- --only queries (or compare) builds one` }));
    process.exitCode = 2;
    return;
  }
  const device = cpuDevice();
  const figures: Figure[] = [];
  for (const [file, label] of present) figures.push(...(await measure(file, label, device)));
  printTable('Trajectories table', figures);
  console.log(JSON.stringify({ benchmark: 'table', ok: true, figures }));
}

void main();

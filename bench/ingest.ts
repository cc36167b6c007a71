// Ingest throughput, measured in one run on the same rows:
//   parse      JSON.parse + schema validation of every line, no store (the protocol's share)
//   ingest     ingestFile(): protocol + store (compression, lints, FTS, offsets), the product path
//   raw        the limit: the same trajectories, pre-built in memory, plain batched multi-row INSERTs
//              (100 rows per statement, one transaction, same pragmas) into one table, no FTS
// and the bytes on disk per trajectory against the JSONL. Prints a table, then one JSON line.
// With --fts it also compares FTS5 layouts on the same texts (CPU and bytes per document).
// Usage: node --import tsx bench/ingest.ts [--groups N] [--text-bytes B] [--fts] [--keep]  (--keep leaves the temp dir)
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { parseEventLine, type GroupEvent } from '../src/core/protocol';
import { ingestFile } from '../src/node/ingest/ingest';
import { RunStore } from '../src/node/store/store';
import { Db, insertMany, type SqlValue } from '../src/node/store/sqlite';
import { runLines } from '../test/kit/events';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const groups = flag('groups', 2000);
const textBytes = flag('text-bytes', 4096);
const groupsPerStep = 100;
const steps = Math.max(1, Math.ceil(groups / groupsPerStep));
const dir = mkdtempSync(join(tmpdir(), 'rl-bench-ingest-'));

function dbBytes(path: string): number {
  let n = 0;
  for (const suffix of ['', '-wal', '-shm']) {
    try {
      n += statSync(path + suffix).size;
    } catch {
      /* absent */
    }
  }
  return n;
}

async function main(): Promise<void> {
  const file = join(dir, 'events.jsonl');
  const out = createWriteStream(file);
  for (const line of runLines('bench', steps, Math.min(groups, groupsPerStep), { textBytes })) {
    if (!out.write(line + '\n')) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const jsonlBytes = statSync(file).size;
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);

  // parse: the protocol's share alone
  let t0 = performance.now();
  let c0 = process.cpuUsage();
  const cpuSince = (c: NodeJS.CpuUsage) => {
    const d = process.cpuUsage(c);
    return (d.user + d.system) / 1000;
  };
  let trajectories = 0;
  const parsed: GroupEvent[] = [];
  for (const l of lines) {
    const r = parseEventLine(l);
    if (!r.ok) throw new Error(r.reason);
    if (r.event.type === 'group') {
      trajectories += r.event.trajectories.length;
      parsed.push(r.event);
    }
  }
  const parseMs = performance.now() - t0;
  const parseCpuMs = cpuSince(c0);

  // ingest: the product path, from the file
  const storePath = join(dir, 'store.db');
  const store = await RunStore.open(storePath);
  t0 = performance.now();
  c0 = process.cpuUsage();
  const summary = await ingestFile(store, file);
  const ingestMs = performance.now() - t0;
  const ingestCpuMs = cpuSince(c0);
  if (summary.trajectories !== trajectories) throw new Error(`ingested ${summary.trajectories} of ${trajectories} trajectories`);
  await store.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  const sizes = await store.db.all<{ name: string; bytes: number }>(
    'SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC',
  );
  await store.close();
  const storeBytes = dbBytes(storePath);
  const ftsBytes = sizes.filter((s) => s.name.startsWith('trajectory_fts')).reduce((n, s) => n + s.bytes, 0);
  const trajTableBytes = sizes.find((s) => s.name === 'trajectories')?.bytes ?? 0;

  // raw: the same rows, pre-built, plain batched inserts
  const rows: SqlValue[][] = [];
  let id = 1;
  for (const g of parsed) {
    for (const t of g.trajectories) {
      rows.push([id++, g.run_id, t.id, g.step, t.source, t.text, t.r_m, t.verdict, t.divergence ?? null, t.entropy_last ?? null,
        t.r_oger ?? null, t.r_total ?? null, t.advantage ?? null, t.replaced ? 1 : 0]);
    }
  }
  const rawPath = join(dir, 'raw.db');
  const raw = await Db.open(rawPath, false);
  await raw.exec('PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
  await raw.exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, run_id TEXT, traj_id TEXT, step INTEGER, source TEXT, text TEXT,
    r_m INTEGER, verdict TEXT, divergence REAL, entropy_last REAL, r_oger REAL, r_total REAL, advantage REAL, replaced INTEGER)`);
  t0 = performance.now();
  c0 = process.cpuUsage();
  await raw.transaction(() => insertMany(raw, 'INSERT INTO t', 14, rows, 100).then(() => undefined));
  const rawMs = performance.now() - t0;
  const rawCpuMs = cpuSince(c0);
  await raw.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  await raw.close();
  const rawBytes = dbBytes(rawPath);

  const fts = process.argv.includes('--fts') ? await ftsLayouts(parsed.flatMap((g) => g.trajectories.map((t) => t.text))) : null;

  const rate = (ms: number) => Math.round(trajectories / (ms / 1000));
  const perTraj = (b: number) => Math.round(b / trajectories);
  // CPU time (all threads, sqlite's pool included) is reported beside wall time because on a shared
  // machine wall time mostly measures the neighbours; trajectories per CPU-second is the stable figure.
  const table: string[][] = [
    ['path', 'wall (s)', 'cpu (s)', 'traj/s (wall)', 'traj/cpu-s', 'bytes/traj'],
    ['jsonl (input)', '-', '-', '-', '-', String(perTraj(jsonlBytes))],
    ['parse + validate only', (parseMs / 1000).toFixed(2), (parseCpuMs / 1000).toFixed(2), String(rate(parseMs)), String(rate(parseCpuMs)), '-'],
    ['ingest (protocol + store)', (ingestMs / 1000).toFixed(2), (ingestCpuMs / 1000).toFixed(2), String(rate(ingestMs)), String(rate(ingestCpuMs)), String(perTraj(storeBytes))],
    ['raw batched INSERT (limit)', (rawMs / 1000).toFixed(2), (rawCpuMs / 1000).toFixed(2), String(rate(rawMs)), String(rate(rawCpuMs)), String(perTraj(rawBytes))],
  ];
  process.stdout.write(`load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} CPUs\n`);
  process.stdout.write(`ingest bench: ${groups} groups, ${trajectories} trajectories of ~${textBytes} B text, JSONL ${(jsonlBytes / 1e6).toFixed(1)} MB\n`);
  for (const r of table) process.stdout.write(`${(r[0] as string).padEnd(28)}${r.slice(1).map((c) => c.padStart(14)).join('')}\n`);
  process.stdout.write(`store: trajectories table ${perTraj(trajTableBytes)} B/traj (text deflated when it pays), FTS5 index ${perTraj(ftsBytes)} B/traj\n`);
  process.stdout.write(
    JSON.stringify({
      bench: 'ingest', groups, trajectories, textBytes, jsonlBytes,
      loadAverage1m: loadavg()[0],
      parse: { seconds: parseMs / 1000, cpuSeconds: parseCpuMs / 1000, trajectoriesPerSecond: rate(parseMs), trajectoriesPerCpuSecond: rate(parseCpuMs) },
      ingest: { seconds: ingestMs / 1000, cpuSeconds: ingestCpuMs / 1000, trajectoriesPerSecond: rate(ingestMs), trajectoriesPerCpuSecond: rate(ingestCpuMs), bytesOnDisk: storeBytes, bytesPerTrajectory: perTraj(storeBytes) },
      raw: { seconds: rawMs / 1000, cpuSeconds: rawCpuMs / 1000, trajectoriesPerSecond: rate(rawMs), trajectoriesPerCpuSecond: rate(rawCpuMs), bytesOnDisk: rawBytes, bytesPerTrajectory: perTraj(rawBytes) },
      ingestVsRawWall: rawMs / ingestMs,
      ingestVsRawCpu: rawCpuMs / ingestCpuMs,
      jsonlBytesPerTrajectory: perTraj(jsonlBytes),
      ftsBytesPerTrajectory: perTraj(ftsBytes),
      trajectoryTableBytesPerTrajectory: perTraj(trajTableBytes),
      ...(fts ? { ftsLayouts: fts } : {}),
    }) + '\n',
  );
}

/** The same texts into FTS5 tables of each layout the store could use: CPU seconds and bytes per document. */
async function ftsLayouts(texts: string[]): Promise<{ layout: string; cpuSeconds: number; bytesPerDocument: number }[]> {
  const layouts = [
    "content='', contentless_delete=1", // what the store uses
    "content=''",
    "content='', detail=column",
    '', // a normal FTS5 table: keeps its own uncompressed copy of every text
  ];
  const out: { layout: string; cpuSeconds: number; bytesPerDocument: number }[] = [];
  for (const layout of layouts) {
    const path = join(dir, `fts-${out.length}.db`);
    const db = await Db.open(path, false);
    await db.exec('PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
    await db.exec(`CREATE VIRTUAL TABLE f USING fts5(text${layout ? ', ' + layout : ''}, tokenize='unicode61 remove_diacritics 2')`);
    const c0 = process.cpuUsage();
    for (let i = 0; i < texts.length; i += 2000) {
      const chunk = texts.slice(i, i + 2000).map((t, j) => [i + j + 1, t] as SqlValue[]);
      await db.transaction(() => insertMany(db, 'INSERT INTO f (rowid, text)', 2, chunk));
    }
    const c = process.cpuUsage(c0);
    const size = await db.get<{ bytes: number }>('SELECT sum(pgsize) AS bytes FROM dbstat');
    await db.close();
    out.push({ layout: layout || 'normal (own content copy)', cpuSeconds: (c.user + c.system) / 1e6, bytesPerDocument: Math.round((size?.bytes ?? 0) / texts.length) });
  }
  for (const r of out) process.stdout.write(`fts5 ${r.layout.padEnd(36)} ${r.cpuSeconds.toFixed(2).padStart(6)} cpu-s ${String(r.bytesPerDocument).padStart(6)} B/doc\n`);
  return out;
}

main()
  .catch((e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    if (!process.argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
  });

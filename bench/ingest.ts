// Ingest throughput, measured in one run on the same rows:
//   parse      JSON.parse + schema validation of every line, no store (the protocol's share)
//   ingest     ingestFile(): protocol + store (compression, lints, sums, FTS, offsets), the product
//              path, until every row is stored and searchable
//   raw        the limit: the same trajectories, pre-built in memory, plain batched multi-row INSERTs
//              (100 rows per statement, one transaction, same pragmas) into one table, no FTS
// and the bytes on disk per trajectory against the JSONL. The text is realistic: cuts of the shared
// real reasoning traces (bench/lib/traces.ts), 6 online + 2 teacher members per group, ~98.5% of
// texts 1-8 KB and ~1.5% 50-150 KB. Prints a table, then one JSON line.
//
// Usage: node --import tsx bench/ingest.ts [--groups N] [--baseline DIR] [--keep]
//   --baseline DIR  also ingest the same file with the store code of another checkout (e.g. the
//                   commit before a change: `git archive <commit> src python/reward_lens/schema |
//                   tar -x -C DIR`, with node_modules linked in), for a before/after in one run
//   --keep          leave the temp dir
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { parseEventLine, type GroupEvent } from '../src/core/protocol';
import * as ingestMod from '../src/node/ingest/ingest';
import * as storeMod from '../src/node/store/store';
import { Db, insertMany, type SqlValue } from '../src/node/store/sqlite';
import { generateSteps, runStart } from './lib/gen';
import { TraceCutter } from './lib/traces';
import { ensureCacheDir } from './lib/common';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const baselineArg = process.argv.indexOf('--baseline') > 0 ? process.argv[process.argv.indexOf('--baseline') + 1] : undefined;

const groups = flag('groups', 2000);
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

const cpuSince = (c: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(c);
  return (d.user + d.system) / 1000;
};

interface Measured {
  ms: number;
  cpuMs: number;
  bytes: number;
  ftsBytes: number;
  trajTableBytes: number;
}

/** The product path from the file, with the given store/ingest modules (this tree's or a baseline's). */
async function ingestWith(store: typeof storeMod, ingest: typeof ingestMod, file: string, name: string, trajectories: number): Promise<Measured> {
  const storePath = join(dir, `${name}.db`);
  const s = await store.RunStore.open(storePath);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const summary = await ingest.ingestFile(s, file);
  const ms = performance.now() - t0;
  const cpuMs = cpuSince(c0);
  if (summary.trajectories !== trajectories) throw new Error(`${name}: ingested ${summary.trajectories} of ${trajectories} trajectories`);
  await s.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  const sizes = await s.db.all<{ name: string; bytes: number }>('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC');
  await s.close();
  return {
    ms,
    cpuMs,
    bytes: dbBytes(storePath),
    ftsBytes: sizes.filter((x) => x.name.startsWith('trajectory_fts')).reduce((n, x) => n + x.bytes, 0),
    trajTableBytes: sizes.find((x) => x.name === 'trajectories')?.bytes ?? 0,
  };
}

async function main(): Promise<void> {
  const file = join(dir, 'events.jsonl');
  const out = createWriteStream(file);
  out.write(JSON.stringify(runStart('bench')) + '\n');
  for (const events of generateSteps({ runId: 'bench', steps, groupsPerStep: Math.min(groups, groupsPerStep), online: 6, offline: 2, seed: 11 }, new TraceCutter())) {
    for (const e of events) if (!out.write(JSON.stringify(e) + '\n')) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const jsonlBytes = statSync(file).size;
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);

  // parse: the protocol's share alone
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let trajectories = 0;
  let textBytes = 0;
  const parsed: GroupEvent[] = [];
  for (const l of lines) {
    const r = parseEventLine(l);
    if (!r.ok) throw new Error(r.reason);
    if (r.event.type === 'group') {
      trajectories += r.event.trajectories.length;
      for (const t of r.event.trajectories) textBytes += Buffer.byteLength(t.text);
      parsed.push(r.event);
    }
  }
  const parseMs = performance.now() - t0;
  const parseCpuMs = cpuSince(c0);

  // The baseline first, so neither side profits from a warmer JIT or page cache alone.
  let baseline: Measured | null = null;
  if (baselineArg) {
    // Bundled like this benchmark itself (the runner bundles it with esbuild), so both sides run the
    // same kind of code: under tsx every closure is wrapped and the JS share measures ~2.5x slower.
    const root = resolve(baselineArg);
    const entry = join(dir, 'baseline-entry.ts');
    writeFileSync(entry, `export * as store from ${JSON.stringify(join(root, 'src/node/store/store.ts'))};\nexport * as ingest from ${JSON.stringify(join(root, 'src/node/ingest/ingest.ts'))};\n`);
    const outfile = join(ensureCacheDir(), `ingest-baseline-${process.pid}.mjs`); // beside node_modules, for its imports
    await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile, logLevel: 'warning', nodePaths: [join(root, 'node_modules')],
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" } });
    const b = (await import(pathToFileURL(outfile).href)) as { store: typeof storeMod; ingest: typeof ingestMod };
    rmSync(outfile, { force: true });
    baseline = await ingestWith(b.store, b.ingest, file, 'baseline', trajectories);
  }
  const ours = await ingestWith(storeMod, ingestMod, file, 'store', trajectories);

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
  const r0 = performance.now();
  const rc0 = process.cpuUsage();
  await raw.transaction(() => insertMany(raw, 'INSERT INTO t', 14, rows, 100).then(() => undefined));
  const rawMs = performance.now() - r0;
  const rawCpuMs = cpuSince(rc0);
  await raw.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  await raw.close();
  const rawBytes = dbBytes(rawPath);

  const rate = (ms: number) => Math.round(trajectories / (ms / 1000));
  const perTraj = (b: number) => Math.round(b / trajectories);
  // CPU time (all threads, sqlite's pool included) is reported beside wall time because on a shared
  // machine wall time mostly measures the neighbours; trajectories per CPU-second is the stable figure.
  const table: string[][] = [
    ['path', 'wall (s)', 'cpu (s)', 'traj/s (wall)', 'traj/cpu-s', 'bytes/traj'],
    ['jsonl (input)', '-', '-', '-', '-', String(perTraj(jsonlBytes))],
    ['parse + validate only', (parseMs / 1000).toFixed(2), (parseCpuMs / 1000).toFixed(2), String(rate(parseMs)), String(rate(parseCpuMs)), '-'],
    ...(baseline ? [['ingest, baseline checkout', (baseline.ms / 1000).toFixed(2), (baseline.cpuMs / 1000).toFixed(2), String(rate(baseline.ms)), String(rate(baseline.cpuMs)), String(perTraj(baseline.bytes))]] : []),
    ['ingest (protocol + store)', (ours.ms / 1000).toFixed(2), (ours.cpuMs / 1000).toFixed(2), String(rate(ours.ms)), String(rate(ours.cpuMs)), String(perTraj(ours.bytes))],
    ['raw batched INSERT (limit)', (rawMs / 1000).toFixed(2), (rawCpuMs / 1000).toFixed(2), String(rate(rawMs)), String(rate(rawCpuMs)), String(perTraj(rawBytes))],
  ];
  process.stdout.write(`load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} CPUs\n`);
  process.stdout.write(`ingest bench: ${groups} groups, ${trajectories} trajectories, text cut from real traces (mean ${Math.round(textBytes / trajectories)} B), JSONL ${(jsonlBytes / 1e6).toFixed(1)} MB\n`);
  for (const r of table) process.stdout.write(`${(r[0] as string).padEnd(28)}${r.slice(1).map((c) => c.padStart(14)).join('')}\n`);
  process.stdout.write(`store: trajectories table ${perTraj(ours.trajTableBytes)} B/traj (text compressed when it pays), FTS5 index ${perTraj(ours.ftsBytes)} B/traj\n`);
  if (baseline) process.stdout.write(`baseline store: trajectories table ${perTraj(baseline.trajTableBytes)} B/traj, FTS5 index ${perTraj(baseline.ftsBytes)} B/traj\n`);
  const figures = (m: Measured) => ({
    seconds: m.ms / 1000, cpuSeconds: m.cpuMs / 1000, trajectoriesPerSecond: rate(m.ms), trajectoriesPerCpuSecond: rate(m.cpuMs),
    bytesOnDisk: m.bytes, bytesPerTrajectory: perTraj(m.bytes), ftsBytesPerTrajectory: perTraj(m.ftsBytes), trajectoryTableBytesPerTrajectory: perTraj(m.trajTableBytes),
  });
  process.stdout.write(
    JSON.stringify({
      bench: 'ingest', groups, trajectories, textBytes: Math.round(textBytes / trajectories), text: 'cuts of the shared real traces', jsonlBytes,
      loadAverage1m: loadavg()[0],
      parse: { seconds: parseMs / 1000, cpuSeconds: parseCpuMs / 1000, trajectoriesPerSecond: rate(parseMs), trajectoriesPerCpuSecond: rate(parseCpuMs) },
      ingest: figures(ours),
      ...(baseline ? { baseline: { ...figures(baseline), root: baselineArg } } : {}),
      raw: { seconds: rawMs / 1000, cpuSeconds: rawCpuMs / 1000, trajectoriesPerSecond: rate(rawMs), trajectoriesPerCpuSecond: rate(rawCpuMs), bytesOnDisk: rawBytes, bytesPerTrajectory: perTraj(rawBytes) },
      ingestVsRawWall: rawMs / ours.ms,
      ingestVsRawCpu: rawCpuMs / ours.cpuMs,
      jsonlBytesPerTrajectory: perTraj(jsonlBytes),
      ftsBytesPerTrajectory: perTraj(ours.ftsBytes),
      trajectoryTableBytesPerTrajectory: perTraj(ours.trajTableBytes),
    }) + '\n',
  );
}

main()
  .catch((e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    if (!process.argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
  });

// Query benchmark: group open, step dashboard (stepSeries + stepPoints) and full-text search
// latencies (p50/p95) through the store API on a 2,000,000-trajectory store, against the very same
// SQL statements (captured from the API while it ran) issued by the sqlite3 CLI on the same file,
// timed by the CLI's own `.timer`. Where the CLI cannot run a statement (Debian 12's sqlite3 3.40
// predates FTS5's contentless_delete, which the store's FTS table uses) the peer is the same SQL
// through a bare node-sqlite3 connection, and the figure says so.
//
// The store is generated once through the store's own write path (RunStore.writeBatch, the call
// ingest makes) and cached under .cache/bench/; its generation time is measured and reported.
//
// Run alone: node --import tsx bench/queries.ts [--trajectories N] [--rebuild] [--use-partial] [--synthetic]
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import sqlite3 from 'sqlite3';
import { RunStore, SCHEMA_VERSION } from '../src/node/store/index';
import type { SqlValue } from '../src/node/store/sqlite';
import { cpuDevice, ensureCacheDir, figure, latencySummary, printTable, rng, round, type Figure } from './lib/common';
import { generateSteps, runStart, TextPool } from './lib/gen';
import { TraceCutter } from './lib/traces';

/**
 * Bump when the generator changes what it writes, so a stale cached store is rebuilt.
 * 2: text cut from the shared real traces (bench/lib/traces.ts). `--synthetic` builds (and caches
 * apart) the store of generator 1, bench/lib/gen.ts's synthetic text, on which the figures of
 * 2026-11-23 were measured: the way to compare today's code with them on the same data.
 */
const SYNTHETIC = process.argv.includes('--synthetic');
const GENERATOR_VERSION = SYNTHETIC ? 1 : 2;
const GROUP_SIZE = 8;
const GROUPS_PER_STEP = 125;
const RUN_ID = 'bench-run';
const RARE_MARKER = 'zquxmarker';

interface StoreMeta {
  generatorVersion: number;
  schemaVersion: number;
  trajectories: number;
  steps: number;
  groupsPerStep: number;
  generateSeconds: number;
  rawTextBytes: number;
  fileBytes: number;
  builtAt: string;
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/**
 * Generates the store into `<file>.building`, one step per transaction, and renames it when done.
 * Resumable: a build that was killed (or timed out) continues after the last step it committed,
 * and the time spent so far is kept in `<file>.building.json`, so the reported generation time is
 * the sum over attempts.
 */
async function buildStore(file: string, trajectories: number): Promise<StoreMeta> {
  const steps = Math.ceil(trajectories / (GROUP_SIZE * GROUPS_PER_STEP));
  const tmp = `${file}.building`;
  const progressFile = `${tmp}.json`;
  let earlierSeconds = 0;
  let resumeFrom = 0;
  if (existsSync(tmp)) {
    earlierSeconds = existsSync(progressFile) ? (JSON.parse(readFileSync(progressFile, 'utf8')) as { elapsedSeconds: number }).elapsedSeconds : 0;
    const probe = await RunStore.open(tmp);
    const last = await probe.db.get<{ step: number | null; n: number }>('SELECT max(step) AS step, count(*) AS n FROM groups');
    await probe.close();
    // A step's events are written in one transaction, so the last step present is complete.
    resumeFrom = last?.step === null || last?.step === undefined ? 0 : last.step + 1;
    console.log(`  resuming a killed build at step ${resumeFrom} of ${steps} (${earlierSeconds.toFixed(0)} s spent before)`);
  } else {
    for (const s of ['-wal', '-shm']) rmSync(tmp + s, { force: true });
  }
  const t0 = performance.now();
  const store = await RunStore.open(tmp);
  let line = 0;
  let rawTextBytes = 0;
  let written = resumeFrom * GROUPS_PER_STEP * GROUP_SIZE;
  const toLines = (events: readonly import('../src/core/protocol').RolloutEvent[]) => events.map((event) => ({ line: ++line, byteOffset: 0, event }));
  const batch = (events: readonly import('../src/core/protocol').RolloutEvent[]) => ({ file: 'bench:generated', events: toLines(events), malformed: [], endOffset: 0, endLine: line });
  if (resumeFrom === 0) await store.writeBatch(batch([runStart(RUN_ID)]));
  const pool = SYNTHETIC ? new TextPool() : new TraceCutter();
  let lastReport = performance.now();
  let step = 0;
  for (const events of generateSteps(
    { runId: RUN_ID, steps, groupsPerStep: GROUPS_PER_STEP, online: 6, offline: 2, rareMarker: RARE_MARKER, rareEvery: 5000, tokenEntropies: true },
    pool,
  )) {
    for (const e of events) if (e.type === 'group') for (const t of e.trajectories) rawTextBytes += Buffer.byteLength(t.text);
    if (step++ < resumeFrom) continue; // regenerated (deterministic) only to keep the PRNG in step
    await store.writeBatch(batch(events));
    written += (events.length - 1) * GROUP_SIZE;
    if (performance.now() - lastReport > 30_000) {
      lastReport = performance.now();
      const s = (lastReport - t0) / 1000;
      writeFileSync(progressFile, JSON.stringify({ elapsedSeconds: earlierSeconds + s, written }));
      console.log(`  generating: ${written} / ${trajectories} trajectories, ${(earlierSeconds + s).toFixed(0)} s so far`);
    }
  }
  await store.writeBatch(batch([{ v: 1, type: 'run_end', run_id: RUN_ID, status: 'completed', reason: null, step: steps - 1 }]));
  await store.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  await store.close();
  const generateSeconds = earlierSeconds + (performance.now() - t0) / 1000;
  for (const s of ['-wal', '-shm']) rmSync(tmp + s, { force: true });
  renameSync(tmp, file);
  rmSync(progressFile, { force: true });
  const { size } = statSync(file);
  return {
    generatorVersion: GENERATOR_VERSION,
    schemaVersion: SCHEMA_VERSION,
    trajectories: written,
    steps,
    groupsPerStep: GROUPS_PER_STEP,
    generateSeconds: round(generateSeconds, 1),
    rawTextBytes,
    fileBytes: size,
    builtAt: new Date().toISOString(),
  };
}

async function ensureStore(trajectories: number, rebuild: boolean): Promise<{ file: string; meta: StoreMeta; built: boolean }> {
  const dir = ensureCacheDir();
  const file = path.join(dir, `queries-${SYNTHETIC ? 'synthetic-' : ''}${trajectories}.db`);
  const metaFile = `${file}.json`;
  if (!rebuild && existsSync(file) && existsSync(metaFile)) {
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as StoreMeta;
    if (meta.generatorVersion === GENERATOR_VERSION && meta.schemaVersion === SCHEMA_VERSION) return { file, meta, built: false };
    if (meta.generatorVersion === GENERATOR_VERSION && meta.schemaVersion < SCHEMA_VERSION) {
      // Same data, older schema: the store's own migration upgrades it in seconds, where a
      // rebuild of 2M trajectories takes the better part of an hour.
      const t0 = performance.now();
      const upgraded = await RunStore.open(file);
      await upgraded.close();
      const next = { ...meta, schemaVersion: SCHEMA_VERSION, fileBytes: statSync(file).size };
      writeFileSync(metaFile, JSON.stringify(next, null, 2));
      console.log(`  cached store migrated from schema ${meta.schemaVersion} to ${SCHEMA_VERSION} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      return { file, meta: next, built: false };
    }
    console.log(`  cached store is from generator ${meta.generatorVersion} / schema ${meta.schemaVersion}: rebuilding`);
  }
  const partial = `${file}.building`;
  if (process.argv.includes('--use-partial') && existsSync(partial)) {
    // Measure the part of an unfinished build that is committed (stop the build first): the
    // figures then name the store's actual size, read from the store itself.
    const probe = await RunStore.open(partial, { readonly: true });
    const st = await probe.stats();
    const steps = (await probe.db.get<{ n: number }>('SELECT count(*) AS n FROM steps'))?.n ?? 0;
    await probe.close();
    const progress = existsSync(`${partial}.json`) ? (JSON.parse(readFileSync(`${partial}.json`, 'utf8')) as { elapsedSeconds: number }) : { elapsedSeconds: Number.NaN };
    const meta: StoreMeta = {
      generatorVersion: GENERATOR_VERSION, schemaVersion: SCHEMA_VERSION, trajectories: st.trajectories, steps, groupsPerStep: GROUPS_PER_STEP,
      generateSeconds: round(progress.elapsedSeconds, 1), rawTextBytes: Number.NaN, fileBytes: statSync(partial).size, builtAt: 'unfinished build (--use-partial)',
    };
    console.log(`  measuring the unfinished build: ${st.trajectories} trajectories committed`);
    return { file: partial, meta, built: false };
  }
  rmSync(metaFile, { force: true });
  console.log(`  building a ${trajectories}-trajectory store through RunStore.writeBatch (cached in ${path.relative(process.cwd(), file)})`);
  const meta = await buildStore(file, trajectories);
  writeFileSync(metaFile, JSON.stringify(meta, null, 2));
  return { file, meta, built: true };
}

interface Captured {
  sql: string;
  params: SqlValue[];
}

/** Wraps the store's connection so every statement of one API call is recorded for the peers. */
function captureStatements(store: RunStore): { start(): void; stop(): Captured[] } {
  const db = store.db as unknown as Record<string, (...a: unknown[]) => unknown>;
  let log: Captured[] | null = null;
  for (const method of ['all', 'get', 'run']) {
    const original = (db[method] as (...a: unknown[]) => unknown).bind(store.db);
    db[method] = (sql: unknown, params: unknown = []) => {
      log?.push({ sql: String(sql), params: [...(params as SqlValue[])] });
      return original(sql, params);
    };
  }
  return {
    start: () => {
      log = [];
    },
    stop: () => {
      const out = log ?? [];
      log = null;
      return out;
    },
  };
}

function literal(v: SqlValue): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (Buffer.isBuffer(v)) return `X'${v.toString('hex')}'`;
  return `'${String(v).replace(/'/g, "''")}'`;
}

/** The statement with its parameters inlined, for the CLI (the store's SQL has no '?' in literals). */
function inline(c: Captured): string {
  let i = 0;
  const sql = c.sql.replace(/\?/g, () => literal(c.params[i++] as SqlValue));
  if (i !== c.params.length) throw new Error(`statement has ${i} placeholders but ${c.params.length} parameters: ${c.sql}`);
  return sql.replace(/\s+/g, ' ').trim();
}

interface Workload {
  name: string;
  calls: Array<() => Promise<unknown>>;
}

interface Measured {
  name: string;
  apiMs: number[];
  /** process CPU time (all threads: the main thread and SQLite's worker) per call */
  apiCpuMs: number[];
  statements: Captured[][];
  results: number[];
}

async function measure(store: RunStore, cap: ReturnType<typeof captureStatements>, w: Workload): Promise<Measured> {
  const apiMs: number[] = [];
  const apiCpuMs: number[] = [];
  const statements: Captured[][] = [];
  const results: number[] = [];
  for (const call of w.calls) {
    cap.start();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await call();
    apiMs.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    apiCpuMs.push((c.user + c.system) / 1000);
    statements.push(cap.stop());
    results.push(Array.isArray(r) ? r.length : r && typeof r === 'object' && 'hits' in r ? (r as { hits: unknown[] }).hits.length : r ? 1 : 0);
  }
  return { name: w.name, apiMs, apiCpuMs, statements, results };
}

/**
 * Runs every call's statements in one sqlite3 CLI process, timed by `.timer on`; a call's latency is
 * the sum of its statements' times. The CLI prints wall time in whole milliseconds but CPU time
 * (user + sys, from getrusage) in microseconds, so the sub-millisecond comparison is CPU against CPU.
 */
function cliLatencies(file: string, calls: Captured[][]): { ms: number[]; cpuMs: number[] } | { error: string } {
  const script: string[] = ['.timer on', '.mode list', '.headers off'];
  calls.forEach((stmts, i) => {
    script.push(`.print @@CALL ${i} ${stmts.length}`);
    for (const s of stmts) script.push(`${inline(s)};`);
  });
  const res = spawnSync('sqlite3', ['-readonly', '-bail', file], {
    input: script.join('\n') + '\n',
    encoding: 'latin1',
    maxBuffer: 1024 * 1024 * 1024,
    timeout: 900_000,
  });
  if (res.error) return { error: `sqlite3 CLI could not run: ${res.error.message}` };
  if (res.status !== 0) return { error: `sqlite3 CLI (${cliVersion()}) failed: ${(res.stderr || '').trim().slice(0, 300)}` };
  const ms: number[] = new Array(calls.length).fill(0);
  const cpuMs: number[] = new Array(calls.length).fill(0);
  const seen: number[] = new Array(calls.length).fill(0);
  let current = -1;
  for (const line of res.stdout.split('\n')) {
    const call = /^@@CALL (\d+) /.exec(line);
    if (call) {
      current = Number(call[1]);
      continue;
    }
    const t = /^Run Time: real ([0-9.]+) user ([0-9.]+) sys ([0-9.]+)/.exec(line);
    if (t && current >= 0) {
      ms[current] = (ms[current] as number) + Number(t[1]) * 1000;
      cpuMs[current] = (cpuMs[current] as number) + (Number(t[2]) + Number(t[3])) * 1000;
      seen[current] = (seen[current] as number) + 1;
    }
  }
  const short = seen.findIndex((n, i) => n !== (calls[i] as Captured[]).length);
  if (short >= 0) return { error: `sqlite3 CLI timed ${seen[short]} of ${(calls[short] as Captured[]).length} statements of call ${short}` };
  return { ms, cpuMs };
}

let cachedCliVersion: string | null = null;
function cliVersion(): string {
  if (cachedCliVersion) return cachedCliVersion;
  const r = spawnSync('sqlite3', ['--version'], { encoding: 'utf8' });
  cachedCliVersion = r.status === 0 ? `sqlite3 ${(r.stdout.split(' ')[0] ?? '').trim()}` : 'sqlite3 (not installed)';
  return cachedCliVersion;
}

/** The same statements through a bare node-sqlite3 connection: no API decoding, no snippets. */
async function rawLatencies(file: string, calls: Captured[][]): Promise<{ ms: number[]; cpuMs: number[] }> {
  const db = await new Promise<sqlite3.Database>((resolve, reject) => {
    const d = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (e) => (e ? reject(e) : resolve(d)));
  });
  const ms: number[] = [];
  const cpuMs: number[] = [];
  try {
    for (const stmts of calls) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (const s of stmts) {
        await new Promise<void>((resolve, reject) => db.all(s.sql, s.params, (e) => (e ? reject(e) : resolve())));
      }
      ms.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpuMs.push((c.user + c.system) / 1000);
    }
  } finally {
    await new Promise<void>((resolve) => db.close(() => resolve()));
  }
  return { ms, cpuMs };
}

export async function runQueriesBench(trajectories: number, rebuild: boolean): Promise<{ figures: Figure[]; details: Record<string, unknown>; problems: string[] }> {
  const device = cpuDevice();
  const command = 'npm run bench -- --only queries (bench/queries.ts)';
  const { file, meta, built } = await ensureStore(trajectories, rebuild);
  const groups = meta.trajectories / GROUP_SIZE;
  const store = await RunStore.open(file, { readonly: true });
  const cap = captureStatements(store);
  const r = rng(99);
  const pick = (n: number) => 1 + Math.floor(r() * n);
  const stats = await store.stats();
  const firstGroupId = (await store.db.get<{ id: number }>('SELECT min(id) AS id FROM groups'))?.id ?? 1;
  const workloads: Workload[] = [
    { name: 'group open (getGroup)', calls: Array.from({ length: 200 }, () => () => store.getGroup(firstGroupId - 1 + pick(groups))) },
    { name: 'dashboard series (stepSeries, all steps)', calls: Array.from({ length: 20 }, () => () => store.stepSeries(RUN_ID)) },
    { name: 'dashboard step points (stepPoints)', calls: Array.from({ length: 100 }, () => () => store.stepPoints(RUN_ID, pick(groups / GROUPS_PER_STEP) - 1)) },
    {
      // The queries of this figure since 2026-11-23, so that it compares across index layouts:
      // words, two words, a rare marker, a common phrase, a word in no text, AND.
      name: 'full-text search (search, 50 hits)',
      calls: ['alternatively', 'polynomial remainder', RARE_MARKER, '"the answer is"', 'kalomi', 'substitute AND triangle'].flatMap((q) =>
        Array.from({ length: 3 }, () => () => store.search(q, 50)),
      ),
    },
    {
      // What the presence-only index (schema 3) answers by reading texts, or by merging doclists:
      // a common phrase, a phrase of common words that no text holds (checked on the newest 20,000
      // texts holding its words, then partial), a prefix, AND of rarer words.
      name: 'full-text search, phrases and a prefix (search, 50 hits)',
      calls: ['"let me check"', '"wait the answer"', 'intersect*', 'periodic AND symmetric'].flatMap((q) =>
        Array.from({ length: 3 }, () => () => store.search(q, 50)),
      ),
    },
  ];
  // One untimed pass over a few calls of each so the first timed call does not pay for opening files.
  for (const w of workloads) for (const c of w.calls.slice(0, 2)) await c();

  const figures: Figure[] = [];
  const problems: string[] = [];
  const details: Record<string, unknown> = { store: meta, storeBuiltThisRun: built, storeFile: path.relative(process.cwd(), file), stats, cli: cliVersion() };
  for (const w of workloads) {
    const m = await measure(store, cap, w);
    const api = latencySummary(m.apiMs);
    const apiCpu = latencySummary(m.apiCpuMs);
    const cli = cliLatencies(file, m.statements);
    let peerName: string;
    let peerWall: { p50: number; p95: number; n: number };
    let peerCpu: { p50: number; p95: number; n: number };
    let note: string | undefined;
    if ('ms' in cli) {
      peerName = `${cliVersion()} CLI, same SQL (.timer)`;
      peerWall = latencySummary(cli.ms);
      peerCpu = latencySummary(cli.cpuMs);
    } else {
      peerName = 'node-sqlite3, same SQL, no API layer';
      const raw = await rawLatencies(file, m.statements);
      peerWall = latencySummary(raw.ms);
      peerCpu = latencySummary(raw.cpuMs);
      note = `CLI peer unavailable: ${cli.error}`;
    }
    const stmtCount = m.statements.reduce((a, s) => a + s.length, 0) / m.statements.length;
    details[w.name] = {
      apiWall: api, apiCpu, peerWall, peerCpu, peerName, statementsPerCall: round(stmtCount, 1),
      meanResults: round(m.results.reduce((a, b) => a + b, 0) / m.results.length, 1),
    };
    const add = (label: string, value: number, peerValue: number, extra?: string) =>
      figures.push(
        figure({ benchmark: 'queries', name: `${w.name} ${label}`, unit: 'ms', value, peer: peerName, peerValue, better: 'lower', device, command, ...(extra ? { note: extra } : {}) }),
      );
    add('p50 wall (ms)', api.p50, peerWall.p50, note);
    add('p95 wall (ms)', api.p95, peerWall.p95, 'ms' in cli ? 'the CLI prints wall time in whole milliseconds; compare CPU figures below 5 ms' : undefined);
    add('p50 CPU (ms)', apiCpu.p50, peerCpu.p50);
    add('p95 CPU (ms)', apiCpu.p95, peerCpu.p95);
  }
  await store.close();
  figures.push(
    figure({
      benchmark: 'queries',
      name: `store generation through RunStore.writeBatch, ${meta.trajectories} trajectories (s)`,
      unit: 's',
      value: meta.generateSeconds,
      peer: null,
      peerValue: null,
      better: 'lower',
      device,
      command,
      note: `${(meta.rawTextBytes / 2 ** 30).toFixed(2)} GiB of text → ${(meta.fileBytes / 2 ** 30).toFixed(2)} GiB file; cached, built ${meta.builtAt}`,
    }),
  );
  if (stats.trajectories !== meta.trajectories) problems.push(`store has ${stats.trajectories} trajectories, generator wrote ${meta.trajectories}`);
  return { figures, details, problems };
}

// realpath: run through a symlinked .cache (a worktree sharing one), argv[1] is the link, import.meta.url the target.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const n = Number(argValue('--trajectories') ?? 2_000_000);
  runQueriesBench(n, process.argv.includes('--rebuild')).then(
    (res) => {
      printTable(`Queries on a ${n}-trajectory store`, res.figures);
      for (const p of res.problems) console.log(`PROBLEM: ${p}`);
      console.log(JSON.stringify({ benchmark: 'queries', ok: res.problems.length === 0, figures: res.figures, details: res.details, problems: res.problems }));
      process.exitCode = res.problems.length === 0 ? 0 : 1;
    },
    (e: unknown) => {
      console.error(e);
      console.log(JSON.stringify({ benchmark: 'queries', ok: false, error: String((e as Error)?.stack ?? e) }));
      process.exitCode = 1;
    },
  );
}

// The measurements behind two store choices (docs/store.md), on texts cut from the shared real
// traces: (1) the text codec, each text compressed alone (median of 5 passes); (2) the FTS5 layout:
// the same texts into a table of each layout, with its size, build CPU and what a few of the Find
// box's query kinds cost or whether the layout refuses them. Not part of `npm run bench`: run it
// when revisiting either choice.
//
// node --import tsx bench/store-choices.ts [--texts N]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { Db, insertMany, type SqlValue } from '../src/node/store/sqlite';
import { rng } from './lib/common';
import { TraceCutter } from './lib/traces';

const i = process.argv.indexOf('--texts');
const N = i > 0 ? Number(process.argv[i + 1]) : 8000;
const r = rng(5);
const cutter = new TraceCutter();
const texts = Array.from({ length: N }, (_, k) => cutter.text(r, cutter.length(r), String(k % 100)));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function codecs(): void {
  const bufs = texts.map((t) => Buffer.from(t, 'utf8')).filter((b) => b.length >= 1024);
  const raw = bufs.reduce((n, b) => n + b.length, 0);
  const brotli = (q: number) => (b: Buffer) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: q, [constants.BROTLI_PARAM_SIZE_HINT]: b.length } });
  const list: [string, (b: Buffer) => Buffer, (z: Buffer) => Buffer][] = [
    ['deflate 1', (b) => deflateRawSync(b, { level: 1 }), inflateRawSync],
    ['deflate 3', (b) => deflateRawSync(b, { level: 3 }), inflateRawSync],
    ['deflate 6', (b) => deflateRawSync(b, { level: 6 }), inflateRawSync],
    ['brotli 1', brotli(1), brotliDecompressSync],
    ['brotli 3', brotli(3), brotliDecompressSync],
    ['brotli 5', brotli(5), brotliDecompressSync],
  ];
  console.log(`codecs: ${bufs.length} texts of at least 1 KiB, mean ${Math.round(raw / bufs.length)} B`);
  const results = new Map<string, { c: number[]; d: number[]; size: number }>();
  for (let rep = 0; rep < 5; rep++) {
    for (const [name, f, d] of list) {
      const c0 = process.cpuUsage();
      const zs = bufs.map(f);
      const c = process.cpuUsage(c0);
      const d0 = process.cpuUsage();
      for (const z of zs) d(z);
      const dc = process.cpuUsage(d0);
      const e = results.get(name) ?? { c: [], d: [], size: 0 };
      e.c.push((c.user + c.system) / bufs.length);
      e.d.push((dc.user + dc.system) / bufs.length);
      e.size = zs.reduce((n, z) => n + z.length, 0);
      results.set(name, e);
    }
  }
  for (const [name, e] of results) console.log(`  ${name.padEnd(10)} keeps ${((100 * e.size) / raw).toFixed(1)}%  compress ${median(e.c).toFixed(0)} µs  decompress ${median(e.d).toFixed(0)} µs`);
}

async function layouts(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rl-store-choices-'));
  const raw = texts.reduce((n, t) => n + Buffer.byteLength(t), 0);
  const queries = ['wait', 'wait check', '"let me check"', 'inter*', 'periodic OR symmetric', 'sin NOT cos'];
  console.log(`FTS5 layouts: ${N} texts, mean ${Math.round(raw / N)} B`);
  try {
    for (const layout of ["content='', contentless_delete=1", "content=''", "content='', detail=column", "content='', detail=none", "content='', detail=none, prefix='2 3'"]) {
      const db = await Db.open(join(dir, `${Math.random()}.db`), false);
      await db.exec('PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
      await db.exec(`CREATE VIRTUAL TABLE f USING fts5(text, ${layout}, tokenize='unicode61 remove_diacritics 2')`);
      const c0 = process.cpuUsage();
      for (let k = 0; k < texts.length; k += 2000) {
        const chunk = texts.slice(k, k + 2000).map((t, j) => [k + j + 1, t] as SqlValue[]);
        await db.transaction(() => insertMany(db, 'INSERT INTO f (rowid, text)', 2, chunk));
      }
      const c = process.cpuUsage(c0);
      await db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
      const size = (await db.get<{ bytes: number }>('SELECT sum(pgsize) AS bytes FROM dbstat'))?.bytes ?? 0;
      const qs: string[] = [];
      for (const q of queries) {
        const t0 = performance.now();
        try {
          const n = await db.get<{ n: number }>('SELECT count(*) AS n FROM f WHERE f MATCH ?', [q]);
          const ranked = await db.all<{ rank: number }>('SELECT rank FROM f WHERE f MATCH ? ORDER BY rank LIMIT 50', [q]);
          qs.push(`${q}: ${n?.n} in ${(performance.now() - t0).toFixed(0)} ms${ranked.every((x) => x.rank === 0) ? ' (rank 0)' : ''}`);
        } catch (e) {
          qs.push(`${q}: refused (${(e as Error).message.replace(/^SQLITE_ERROR: /, '').slice(0, 40)})`);
        }
      }
      await db.close();
      console.log(`  ${layout.padEnd(40)} ${Math.round(size / N)} B/text (${((100 * size) / raw).toFixed(1)}% of the text), ${((c.user + c.system) / 1e6).toFixed(2)} CPU-s`);
      console.log(`    ${qs.join(' · ')}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

codecs();
void layouts();

// Shared by every benchmark: where things are, what machine this is, percentiles, tables, and the
// figure record that the runner folds into its final JSON line.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CACHE_DIR = path.join(REPO_ROOT, '.cache', 'bench');

export function ensureCacheDir(): string {
  mkdirSync(CACHE_DIR, { recursive: true });
  return CACHE_DIR;
}

/** `cpu: <model name> x<cores>`, the device string of every CPU figure. */
export function cpuDevice(): string {
  let model = os.cpus()[0]?.model?.trim() || 'unknown';
  try {
    const lscpu = execFileSync('lscpu', { encoding: 'utf8', timeout: 5000 });
    const m = /^Model name:\s*(.+)$/m.exec(lscpu);
    if (m?.[1]) model = m[1].trim();
  } catch {
    // lscpu is missing on some images; os.cpus() is good enough then.
  }
  return `cpu: ${model} x${os.cpus().length}`;
}

export function machineSummary(): { cpu: string; cores: number; ramGiB: number; node: string; platform: string } {
  return {
    cpu: cpuDevice().replace(/^cpu: /, ''),
    cores: os.cpus().length,
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

/** The Python that has numpy: $REWARD_LENS_PYTHON, else the repo's .venv. */
export function findPython(): string | null {
  const fromEnv = process.env.REWARD_LENS_PYTHON;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  const venv = path.join(REPO_ROOT, '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : null;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export function latencySummary(samplesMs: readonly number[]): { p50: number; p95: number; n: number } {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return { p50: round(percentile(sorted, 50), 3), p95: round(percentile(sorted, 95), 3), n: sorted.length };
}

export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * One measured figure beside its peer. `ratio` is ours / peer in the figure's own unit, and
 * `better` says which way is good, so a reader never has to guess whether 3.0 is a win.
 */
export interface Figure {
  benchmark: string;
  name: string;
  unit: string;
  value: number | null;
  peer: string | null;
  peerValue: number | null;
  ratio: number | null;
  better: 'higher' | 'lower';
  device: string;
  command: string;
  note?: string;
}

export function figure(f: Omit<Figure, 'ratio'> & { ratio?: number | null }): Figure {
  const ratio =
    f.ratio !== undefined
      ? f.ratio
      : f.value !== null && f.peerValue !== null && f.peerValue !== 0
        ? round(f.value / f.peerValue, 3)
        : null;
  return { ...f, ratio };
}

export function printTable(title: string, rows: readonly Figure[]): void {
  const header = ['figure', 'value', 'unit', 'peer', 'peer value', 'ours/peer', 'better'];
  const body = rows.map((r) => [
    r.name,
    fmt(r.value),
    r.unit,
    r.peer ?? '-',
    fmt(r.peerValue),
    fmt(r.ratio),
    r.better,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ');
  console.log(`\n## ${title}`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const row of body) console.log(line(row));
  for (const r of rows) if (r.note) console.log(`  note (${r.name}): ${r.note}`);
}

function fmt(x: number | null): string {
  if (x === null || x === undefined) return '-';
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a >= 1000 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : a >= 0.01 ? x.toFixed(3) : x.toExponential(2);
}

/** The last line of a child's stdout that parses as a JSON object, or null. */
export function lastJsonLine(stdout: string): Record<string, unknown> | null {
  const lines = stdout.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const s = (lines[i] as string).trim();
    if (!s.startsWith('{')) continue;
    try {
      const v = JSON.parse(s) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // not JSON: keep looking upwards
    }
  }
  return null;
}

/** Seeded PRNG (mulberry32): benchmarks regenerate byte-identical data from the same seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

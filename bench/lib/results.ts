// bench/RESULTS.md: the latest figures of every benchmark, each with the date, machine, device and
// command of the run that measured it. Runs may cover a subset (--only), so the latest result of
// each benchmark is kept in .cache/bench/results.json and the markdown is rendered from all of them,
// followed by the hand-written analysis in bench/results-notes.md.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CACHE_DIR, ensureCacheDir, REPO_ROOT, type Figure } from './common';

export interface StoredBenchmark {
  date: string;
  machine: { cpu: string; cores: number; ramGiB: number; node: string; platform: string };
  command: string;
  runCommand: string;
  status: string;
  seconds: number;
  reason: string | null;
  figures: Figure[];
  details: Record<string, unknown> | null;
}

const STORE = () => path.join(CACHE_DIR, 'results.json');

export function mergeResults(update: Record<string, StoredBenchmark>): Record<string, StoredBenchmark> {
  ensureCacheDir();
  let all: Record<string, StoredBenchmark> = {};
  if (existsSync(STORE())) {
    try {
      all = JSON.parse(readFileSync(STORE(), 'utf8')) as Record<string, StoredBenchmark>;
    } catch {
      all = {};
    }
  }
  for (const [name, r] of Object.entries(update)) {
    // A missing or failed run does not erase the last good figures; it is recorded beside them.
    const prev = all[name];
    if (r.status !== 'ok' && prev && prev.status === 'ok' && prev.figures.length) {
      all[name] = { ...prev, reason: `latest attempt ${r.date}: ${r.status}${r.reason ? ` (${r.reason})` : ''}; figures below are from ${prev.date}` };
    } else {
      all[name] = r;
    }
  }
  writeFileSync(STORE(), JSON.stringify(all, null, 1));
  return all;
}

function cell(x: number | null | undefined): string {
  if (x === null || x === undefined) return '–';
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a >= 1000 ? Math.round(x).toLocaleString('en-US') : a >= 10 ? x.toFixed(1) : a >= 0.01 ? x.toFixed(3) : x.toExponential(2);
}

const ORDER = ['ingest', 'rescore', 'queries', 'encoder', 'trainer', 'ui', 'reverify'];

/**
 * The benchmark sections of an existing RESULTS.md, by name, verbatim. The committed markdown is the
 * record: the JSON in .cache/ holds only what was measured in this checkout, so a subset run
 * (--only) in a fresh clone or another worktree must keep the sections it did not measure.
 */
export function benchmarkSections(markdown: string): Map<string, string> {
  const sections = new Map<string, string>();
  const body = markdown.split(/^## GPU$/m)[0] ?? '';
  const parts = body.split(/^## (\S+)$/m);
  for (let i = 1; i + 1 < parts.length; i += 2) sections.set(parts[i] as string, `## ${parts[i]}${(parts[i + 1] as string).trimEnd()}\n`);
  return sections;
}

export function renderResults(all: Record<string, StoredBenchmark>, kept: Map<string, string> = new Map()): string {
  const names = [...new Set([...Object.keys(all), ...kept.keys()])].sort((a, b) => (ORDER.indexOf(a) + 99 * +(ORDER.indexOf(a) < 0)) - (ORDER.indexOf(b) + 99 * +(ORDER.indexOf(b) < 0)) || a.localeCompare(b));
  const lines: string[] = [
    '# Benchmark results',
    '',
    'Written by `npm run bench` (bench/run.ts) from the latest run of each benchmark; do not edit the tables by hand.',
    'Every figure is measured in the same run as its peer, on the same data and machine; `ours/peer` is ours divided by the peer',
    'in the figure\'s unit, and `better` says which direction wins. The analysis of the figures that lose is at the end.',
    '',
  ];
  const gpuFigures = names.flatMap((n) => all[n]?.figures.filter((f) => !f.device.startsWith('cpu')) ?? []);
  for (const name of names) {
    const b = all[name];
    if (!b) {
      lines.push((kept.get(name) as string).trimEnd(), '');
      continue;
    }
    lines.push(`## ${name}`, '');
    lines.push(`- status: **${b.status}**${b.reason ? ` — ${b.reason}` : ''}`);
    lines.push(`- date: ${b.date}; took ${b.seconds} s`);
    lines.push(`- machine: ${b.machine.cpu}, ${b.machine.cores} cores, ${b.machine.ramGiB} GiB RAM, Node ${b.machine.node}, ${b.machine.platform}`);
    lines.push(`- command: \`${b.runCommand}\` (this benchmark: \`${b.command}\`)`);
    lines.push('');
    if (b.figures.length) {
      lines.push('| figure | value | unit | peer | peer value | ours/peer | better | device |', '|---|---:|---|---|---:|---:|---|---|');
      for (const f of b.figures) {
        lines.push(`| ${f.name} | ${cell(f.value)} | ${f.unit} | ${f.peer ?? '–'} | ${cell(f.peerValue)} | ${cell(f.ratio)} | ${f.better} | ${f.device} |`);
      }
      const notes = b.figures.filter((f) => f.note);
      if (notes.length) {
        lines.push('');
        for (const f of notes) lines.push(`- *${f.name}*: ${f.note}`);
      }
      lines.push('');
    }
  }
  lines.push('## GPU', '');
  if (gpuFigures.length) {
    for (const f of gpuFigures) lines.push(`- ${f.benchmark}: ${f.name} = ${cell(f.value)} ${f.unit} on ${f.device}`);
  } else {
    lines.push('Open: no benchmark has reported a figure measured on a GPU; every figure above is CPU.');
  }
  lines.push('');
  const notesFile = path.join(REPO_ROOT, 'bench', 'results-notes.md');
  if (existsSync(notesFile)) lines.push(readFileSync(notesFile, 'utf8').trim(), '');
  return lines.join('\n');
}

export function writeResultsMarkdown(all: Record<string, StoredBenchmark>): string {
  const file = path.join(REPO_ROOT, 'bench', 'RESULTS.md');
  const kept = existsSync(file) ? benchmarkSections(readFileSync(file, 'utf8')) : new Map<string, string>();
  writeFileSync(file, renderResults(all, kept));
  return file;
}

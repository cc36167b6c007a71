// Shared by the fault suite: temp dirs, small valid events, child processes that are always
// killed (their whole process group) when a test ends, and counting helpers over a store file.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { GroupEvent, RunStartEvent, StepEvent, TrajectoryEvent } from '../../src/core/protocol';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const TSX_IMPORT = ['--import', 'tsx'];

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), `rl-fault-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

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

export function runStartEvent(runId: string): RunStartEvent {
  return {
    v: 1,
    type: 'run_start',
    run_id: runId,
    variant: 'oger',
    config: { fault: true },
    model: 'fault/tiny',
    reward: { variant: 'oger', replace: 1, advantage: { std: 'sample', eps: 1e-6 } },
    encoder: { id: 'fault-encoder', strategy: 'truncate' },
    verifier: { id: 'fault-verifier', name: 'fault' },
  };
}

export function stepEventOf(runId: string, step: number): StepEvent {
  return { v: 1, type: 'step', run_id: runId, step, metrics: { 'actor/entropy': 0.5 + step / 1000, 'critic/score/mean': 0.25 } };
}

/** A valid group of 6 online + 2 offline members with short texts; ids are unique per (step, prompt). */
export function groupEventOf(runId: string, step: number, prompt: number, textChars = 300): GroupEvent {
  const trajectories: TrajectoryEvent[] = [];
  for (let i = 0; i < 8; i++) {
    const online = i < 6;
    const idx = online ? i : i - 6;
    const correct = (step + prompt + i) % 3 !== 0;
    trajectories.push({
      id: `s${step}-p${prompt}-${online ? 'on' : 'off'}${idx}`,
      source: online ? 'online' : 'offline',
      index: idx,
      teacher: online ? null : 'teacher-a',
      text: `<think>step ${step} prompt ${prompt} member ${i} ${'reasoning '.repeat(Math.ceil(textChars / 10))}</think> The answer is $\\boxed{${prompt}}$.`,
      tokens: 100,
      r_m: correct || !online ? 1 : 0,
      verdict: correct || !online ? 'correct' : 'wrong',
      divergence: online ? 0.1 + i / 20 : null,
      entropy_last: online ? 0.4 : null,
      r_oger: null,
      r_total: null,
      advantage: null,
      replaced: online && i === 0,
      inserted: online ? undefined : idx === 0,
    });
  }
  return { v: 1, type: 'group', run_id: runId, step, prompt_id: `p${prompt}`, prompt: `Prompt ${prompt}`, gold: String(prompt), trajectories };
}

const children = new Set<ChildProcess>();

/** Spawns a process leading its own group, so killing it also kills anything it started. */
export function spawnTracked(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  const child = spawn(cmd, args, { cwd: opts.cwd ?? REPO_ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

export function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

export function killAllChildren(): void {
  for (const c of children) killGroup(c);
}

process.on('exit', killAllChildren);

export function waitExit(child: ChildProcess, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    const timer = setTimeout(() => {
      killGroup(child);
      reject(new Error(`child ${child.pid} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** Collects a child's stdout lines as they come; `waitFor` resolves on the first line matching. */
export function lineReader(child: ChildProcess): { lines: string[]; stderr: () => string; waitFor: (re: RegExp, timeoutMs: number) => Promise<string> } {
  const lines: string[] = [];
  let buf = '';
  let err = '';
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      lines.push(l);
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i] as { re: RegExp; resolve: (l: string) => void };
        if (w.re.test(l)) {
          waiters.splice(i, 1);
          w.resolve(l);
        }
      }
    }
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.length > 1_000_000) err = err.slice(-500_000);
  });
  return {
    lines,
    stderr: () => err,
    waitFor: (re, timeoutMs) =>
      new Promise((resolve, reject) => {
        const hit = lines.find((l) => re.test(l));
        if (hit !== undefined) {
          resolve(hit);
          return;
        }
        const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${timeoutMs} ms; stderr: ${err.slice(-500)}`)), timeoutMs);
        waiters.push({
          re,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      }),
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Bundles a child script once per test process (esbuild, packages external) so each of the many
 * kill -9 cycles starts in ~0.1 s instead of paying tsx's compile on every start.
 */
const bundled = new Map<string, string>();
export async function bundleChild(name: string): Promise<string> {
  const hit = bundled.get(name);
  if (hit) return hit;
  const { build } = await import('esbuild');
  const out = path.join(REPO_ROOT, '.cache', 'faults', `${name}.${process.pid}.cjs`);
  await build({
    entryPoints: [path.join(REPO_ROOT, 'test', 'faults', 'children', `${name}.ts`)],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    packages: 'external',
    outfile: out,
    logLevel: 'warning',
  });
  bundled.set(name, out);
  process.on('exit', () => rmSync(out, { force: true }));
  return out;
}

export interface FileCounts {
  groups: number;
  trajectories: number;
  ids: Set<string>;
  malformed: number;
}

/** What the complete lines of file[0, end) hold, counted from the file itself. */
export function countLines(file: string, end: number): FileCounts {
  const buf = readFileSync(file).subarray(0, end);
  const out: FileCounts = { groups: 0, trajectories: 0, ids: new Set(), malformed: 0 };
  let start = 0;
  for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a, start)) {
    const line = buf.subarray(start, nl).toString('utf8');
    start = nl + 1;
    let ev: { type?: string; trajectories?: { id: string }[] };
    try {
      ev = JSON.parse(line) as typeof ev;
    } catch {
      out.malformed++;
      continue;
    }
    if (ev.type === 'group' && ev.trajectories) {
      out.groups++;
      out.trajectories += ev.trajectories.length;
      for (const t of ev.trajectories) out.ids.add(t.id);
    }
  }
  return out;
}


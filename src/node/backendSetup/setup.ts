// Sets up the Python training backend for the extension: find a Python >= 3.10, create a venv
// in the extension's storage, pip-install the backend bundled in the extension's python/ folder,
// with progress parsed from pip's output and cancellation that kills pip. A stamp in the venv
// records which backend sources were installed, so the next start knows whether to reinstall.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { LineSplitter } from '../supervisor/lineSplitter';
import { MIN_PYTHON, SetupError, mapFailure, pythonNotFound, pythonTooOld, venvMissing } from './errors';

export interface PythonInfo {
  /** what was asked for (a name on PATH or a path) */
  command: string;
  /** sys.executable as the interpreter reports it */
  executable: string;
  version: string;
  major: number;
  minor: number;
  hasVenv: boolean;
  hasEnsurepip: boolean;
  /** the reward_lens package is importable */
  hasBackend: boolean;
  /** torch is importable: with the bundled sources on PYTHONPATH this interpreter can train */
  hasTorch: boolean;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: string[];
}

export interface RunOptions {
  onLine?: (line: string) => void;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** lines of output kept for error mapping */
  keep?: number;
}

/** Runs a process to completion; output lines are streamed and the last ones kept. Abort kills it (and its children). */
export function runProcess(command: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new SetupError('cancelled', 'Cancelled.'));
      return;
    }
    const keep = opts.keep ?? 400;
    const lines: string[] = [];
    const child = spawn(command, [...args], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      aborted = true;
      const pid = child.pid;
      if (pid === undefined) return;
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      killTimer = setTimeout(() => {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 2000);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const push = (l: string) => {
      lines.push(l);
      if (lines.length > keep) lines.splice(0, lines.length - keep);
      opts.onLine?.(l);
    };
    for (const s of [child.stdout, child.stderr]) {
      const splitter = new LineSplitter(2000, push);
      s.on('data', (c: Buffer) => splitter.push(c));
      s.on('end', () => splitter.end());
    }
    let settled = false;
    child.on('error', (e) => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (aborted) reject(new SetupError('cancelled', 'Cancelled: the Python backend set-up was stopped; run "Reward Lens: Set Up Python Backend" again to finish it.', lines.slice(-40)));
      else resolve({ code, signal, lines });
    });
  });
}

const PROBE = [
  'import sys, json, importlib.util as u',
  'print("REWARD_LENS_PROBE " + json.dumps({"executable": sys.executable, "version": "%d.%d.%d" % sys.version_info[:3],',
  ' "venv": u.find_spec("venv") is not None, "ensurepip": u.find_spec("ensurepip") is not None,',
  ' "backend": u.find_spec("reward_lens") is not None, "torch": u.find_spec("torch") is not None}))',
].join('\n');

/** Asks an interpreter about itself. Throws SetupError('python-not-found') when it cannot run. */
export async function probePython(command: string, signal?: AbortSignal): Promise<PythonInfo> {
  let res: RunResult;
  try {
    res = await runProcess(command, ['-c', PROBE], { signal });
  } catch (e) {
    if (e instanceof SetupError) throw e;
    throw pythonNotFound([command]);
  }
  const line = res.lines.find((l) => l.startsWith('REWARD_LENS_PROBE '));
  if (res.code !== 0 || !line) throw pythonNotFound([command]);
  const j = JSON.parse(line.slice('REWARD_LENS_PROBE '.length)) as { executable: string; version: string; venv: boolean; ensurepip: boolean; backend: boolean; torch: boolean };
  const [major, minor] = j.version.split('.').map(Number) as [number, number];
  return { command, executable: j.executable, version: j.version, major, minor, hasVenv: j.venv, hasEnsurepip: j.ensurepip, hasBackend: j.backend, hasTorch: j.torch };
}

export function isSupported(p: PythonInfo): boolean {
  return p.major > MIN_PYTHON[0] || (p.major === MIN_PYTHON[0] && p.minor >= MIN_PYTHON[1]);
}

/**
 * The first candidate that runs and is new enough. When some run but all are too old, the error
 * names the newest one found, so the message is about the real problem rather than "not found".
 */
export async function findPython(candidates: readonly string[], signal?: AbortSignal): Promise<PythonInfo> {
  let tooOld: PythonInfo | undefined;
  for (const c of candidates) {
    let info: PythonInfo;
    try {
      info = await probePython(c, signal);
    } catch (e) {
      if (e instanceof SetupError && e.kind === 'cancelled') throw e;
      continue;
    }
    if (isSupported(info)) return info;
    if (!tooOld || info.major * 100 + info.minor > tooOld.major * 100 + tooOld.minor) tooOld = info;
  }
  if (tooOld) throw pythonTooOld(tooOld.executable, tooOld.version);
  throw pythonNotFound(candidates);
}

export function venvPython(venvDir: string): string {
  return process.platform === 'win32' ? join(venvDir, 'Scripts', 'python.exe') : join(venvDir, 'bin', 'python');
}

const SKIP = new Set(['tests', '__pycache__', '.pytest_cache', '.mypy_cache', 'build', 'dist']);

function skipped(name: string): boolean {
  return SKIP.has(name) || name.endsWith('.egg-info') || name.endsWith('.pyc');
}

/** sha256 over the backend sources' relative paths and contents: what the stamp compares. */
export async function sourceFingerprint(sourceDir: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (dir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      if (skipped(e.name)) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        h.update(relative(sourceDir, p));
        h.update('\0');
        h.update(await readFile(p));
        h.update('\0');
      }
    }
  };
  await walk(sourceDir);
  return h.digest('hex');
}

export type BackendState = { state: 'ready'; python: string } | { state: 'missing' } | { state: 'outdated'; python: string };

const STAMP = '.reward-lens-backend';

/** Whether the managed venv exists and holds the backend built from these sources. */
export async function backendState(venvDir: string, sourceDir: string): Promise<BackendState> {
  const py = venvPython(venvDir);
  try {
    await stat(py);
  } catch {
    return { state: 'missing' };
  }
  let stamp = '';
  try {
    stamp = (await readFile(join(venvDir, STAMP), 'utf8')).trim();
  } catch {
    return { state: 'outdated', python: py };
  }
  return stamp === (await sourceFingerprint(sourceDir)) ? { state: 'ready', python: py } : { state: 'outdated', python: py };
}

export interface SetupProgress {
  /** a short human message: "Downloading torch (906 MB)" */
  message: string;
  /** 0..100, monotone */
  percent: number;
}

/** Reads pip's progress from its output, one line at a time. */
export class PipProgress {
  private percent = 10;
  private collected = 0;

  /** Returns an update when the line moves things forward, else null. */
  update(line: string): SetupProgress | null {
    const l = line.trim();
    let m: RegExpMatchArray | null;
    if ((m = l.match(/^Collecting ([A-Za-z0-9_.\-]+)/))) {
      this.collected++;
      this.percent = Math.min(70, this.percent + Math.max(1, 8 / Math.sqrt(this.collected)));
      return this.at(`Resolving ${m[1]}`);
    }
    if ((m = l.match(/^Downloading (?:https?:\/\/\S*\/)?([^\s/]+?)(?:-\d[^\s]*)?(?:\.whl|\.tar\.gz|\.zip)?\s*\(([^)]+)\)/))) {
      return this.at(`Downloading ${m[1]} (${m[2]})`);
    }
    if ((m = l.match(/^Processing (\S+)/))) return this.at('Preparing the backend package');
    if (/^(Building wheels? for|Created wheel for)/.test(l)) {
      this.percent = Math.max(this.percent, 72);
      return this.at('Building the backend package');
    }
    if ((m = l.match(/^Installing collected packages: (.*)$/))) {
      const n = m[1]?.split(',').length ?? 0;
      this.percent = Math.max(this.percent, 80);
      return this.at(`Installing ${n} package${n === 1 ? '' : 's'}`);
    }
    if (/^Successfully installed/.test(l)) {
      this.percent = 98;
      return this.at('Installed');
    }
    return null;
  }

  private at(message: string): SetupProgress {
    return { message, percent: Math.round(this.percent) };
  }
}

export interface SetupOptions {
  /** interpreters to try for creating the venv, in order */
  candidates: readonly string[];
  /** the extension's bundled python/ folder (pyproject.toml + reward_lens/) */
  sourceDir: string;
  /** where the venv lives (the extension's global storage) */
  venvDir: string;
  /** extra arguments for pip install (e.g. an index URL, or --no-deps in tests) */
  pipArgs?: readonly string[];
  onLine?: (line: string) => void;
  onProgress?: (p: SetupProgress) => void;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

export interface SetupResult {
  python: string;
  baseInterpreter: PythonInfo;
  fingerprint: string;
}

export async function setUpBackend(o: SetupOptions): Promise<SetupResult> {
  const say = (message: string, percent: number) => o.onProgress?.({ message, percent });
  const log = (l: string) => o.onLine?.(l);

  say('Looking for Python', 2);
  const base = await findPython(o.candidates, o.signal);
  log(`Using ${base.executable} (Python ${base.version})`);
  if (!base.hasVenv || !base.hasEnsurepip) throw venvMissing(base.executable, base.version);

  const py = venvPython(o.venvDir);
  if (!(await venvWorks(py, o.signal))) {
    say('Creating the virtual environment', 5);
    await rm(o.venvDir, { recursive: true, force: true });
    await mkdir(o.venvDir, { recursive: true });
    log(`$ ${base.executable} -m venv ${o.venvDir}`);
    const res = await runProcess(base.executable, ['-m', 'venv', o.venvDir], { onLine: log, signal: o.signal, env: o.env });
    if (res.code !== 0) {
      await rm(o.venvDir, { recursive: true, force: true });
      const err = mapFailure('Creating the virtual environment', o.venvDir, res.code, res.lines);
      if (err.kind === 'pip-failed' && res.lines.some((l) => /ensurepip|venv/.test(l))) throw venvMissing(base.executable, base.version, res.lines);
      throw err;
    }
  }

  // pip builds in the source tree (egg-info), and the extension's folder may be read-only:
  // install from a private copy without tests or caches.
  const fingerprint = await sourceFingerprint(o.sourceDir);
  const copyParent = await mkdtemp(join(o.venvDir, '.src-'));
  const copy = join(copyParent, 'python');
  try {
    await cp(o.sourceDir, copy, { recursive: true, filter: (src) => !skipped(src.split(/[\\/]/).pop() ?? '') });
    say('Installing the backend with pip', 10);
    const args = ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--progress-bar', 'off', ...(o.pipArgs ?? []), copy];
    log(`$ ${py} ${args.join(' ')}`);
    const progress = new PipProgress();
    const res = await runProcess(py, args, {
      signal: o.signal,
      env: { ...(o.env ?? process.env), PIP_NO_INPUT: '1' },
      onLine: (l) => {
        log(l);
        const p = progress.update(l);
        if (p) o.onProgress?.(p);
      },
    });
    if (res.code !== 0) throw mapFailure('Installing the Python backend', o.venvDir, res.code, res.lines);
  } catch (e) {
    if (e instanceof SetupError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw mapFailure('Setting up the Python backend', o.venvDir, null, [`${err.code ?? ''} ${err.message}`]);
  } finally {
    await rm(copyParent, { recursive: true, force: true });
  }

  say('Checking the installation', 99);
  const check = await runProcess(py, ['-c', 'import reward_lens, sys; print("reward_lens", getattr(reward_lens, "__version__", "?"), "on Python", sys.version.split()[0])'], { signal: o.signal });
  check.lines.forEach(log);
  if (check.code !== 0) throw mapFailure('Importing the installed backend', o.venvDir, check.code, check.lines);
  await writeFile(join(o.venvDir, STAMP), `${fingerprint}\n`);
  say('The Python backend is ready', 100);
  return { python: py, baseInterpreter: base, fingerprint };
}

async function venvWorks(py: string, signal?: AbortSignal): Promise<boolean> {
  try {
    await stat(py);
    const r = await runProcess(py, ['-c', 'import pip'], { signal });
    return r.code === 0;
  } catch (e) {
    if (e instanceof SetupError && e.kind === 'cancelled') throw e;
    return false;
  }
}

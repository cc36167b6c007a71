// One `python -m reward_lens.verify` process, fed JSON Lines and read back in order.
// The Python side runs its own pool with a per-item timeout; this side guards the process itself:
// if it exits, every item it still held is answered `error: crashed (...)`; if it holds items and
// says nothing for longer than any item could take, it is killed and they are answered
// `error: timeout (...)`. The process runs in its own process group so that a kill also reaches
// its forkserver and workers (a worker stuck in a C extension would otherwise outlive us).
import { spawn, type ChildProcess } from 'node:child_process';
import { LineSplitter } from '../supervisor/lineSplitter';

export interface VerifyItem {
  id: string;
  response: string;
  gold: string;
}

export interface VerifyResult {
  id: string;
  correct: boolean | null;
  reason: string;
  extracted: string | null;
}

export interface VerifyProcessOptions {
  python: string;
  /** the folder that holds the reward_lens package (the repository's python/) */
  backendRoot: string;
  /** default | module:function | path to a .py file */
  verifier?: string;
  /** worker processes inside this Python process */
  workers?: number;
  /** wall-clock seconds per item, enforced by the Python pool */
  timeoutS?: number;
  /** extra silence (ms) tolerated beyond the per-item timeout before the whole process is presumed hung (default 60 s) */
  stallGraceMs?: number;
  env?: NodeJS.ProcessEnv;
  onStderr?: (line: string) => void;
}

interface Pending {
  id: string;
  resolve: (r: VerifyResult) => void;
}

interface ControlWaiter {
  resolve: (line: Record<string, unknown>) => void;
  reject: (e: Error) => void;
}

/** The longest line we accept back; results are small, anything longer is a broken stream. */
const MAX_RESULT_CHARS = 1 << 20;

export class VerifyProcess {
  private child: ChildProcess | null = null;
  private readonly pending: Array<Pending | ControlWaiter> = [];
  private lastOutput = Date.now();
  private watchdog: NodeJS.Timeout | null = null;
  private exitPromise: Promise<void> | null = null;
  private stderrTail: string[] = [];
  restarts = 0;
  private disposed = false;

  constructor(private readonly opts: VerifyProcessOptions) {}

  private args(): string[] {
    const args = ['-m', 'reward_lens.verify', '--timeout', String(this.opts.timeoutS ?? 5)];
    if (this.opts.verifier) args.push('--verifier', this.opts.verifier);
    if (this.opts.workers) args.push('--workers', String(this.opts.workers));
    return args;
  }

  private start(): ChildProcess {
    const sep = process.platform === 'win32' ? ';' : ':';
    const pythonPath = [this.opts.backendRoot, this.opts.env?.PYTHONPATH ?? process.env.PYTHONPATH].filter(Boolean).join(sep);
    const child = spawn(this.opts.python, this.args(), {
      cwd: this.opts.backendRoot,
      env: { ...process.env, ...this.opts.env, PYTHONPATH: pythonPath, PYTHONUNBUFFERED: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: process.platform !== 'win32',
    });
    const splitter = new LineSplitter(MAX_RESULT_CHARS, (line) => this.onLine(line));
    const errSplitter = new LineSplitter(2000, (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > 20) this.stderrTail.shift();
      this.opts.onStderr?.(line);
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      this.lastOutput = Date.now();
      splitter.push(chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => errSplitter.push(chunk));
    // EPIPE on a process that died mid-write is handled by the exit path.
    child.stdin?.on('error', () => undefined);
    this.exitPromise = new Promise((resolve) => {
      const onGone = (code: number | null, signal: NodeJS.Signals | null | Error) => {
        if (this.child !== child) return resolve();
        splitter.end();
        this.child = null;
        const how = signal instanceof Error ? `could not start: ${signal.message}` : signal ? `killed by ${signal}` : `exited with code ${code}`;
        const tail = this.stderrTail.slice(-3).join(' | ');
        this.failPending(`error: crashed (verifier process ${how}${tail ? `: ${tail}` : ''})`);
        resolve();
      };
      child.once('exit', (code, signal) => onGone(code, signal));
      child.once('error', (e) => onGone(null, e));
    });
    this.child = child;
    this.lastOutput = Date.now();
    if (!this.watchdog) {
      this.watchdog = setInterval(() => this.checkStall(), 500);
      this.watchdog.unref();
    }
    return child;
  }

  private stallLimitMs(): number {
    // The Python side bounds every item itself; this is the last resort for a hung interpreter.
    // The grace covers a worker restart after a timeout (an interpreter start plus the Math-Verify
    // import, tens of seconds on an oversubscribed machine), so a slow restart is never mistaken
    // for a hang.
    return (this.opts.timeoutS ?? 5) * 1000 + (this.opts.stallGraceMs ?? 60_000);
  }

  private checkStall(): void {
    if (!this.child || this.pending.length === 0) return;
    const silent = Date.now() - this.lastOutput;
    if (silent > this.stallLimitMs()) {
      const child = this.child;
      this.child = null;
      this.failPending(`error: timeout (verifier process silent for ${Math.round(silent / 1000)}s, restarted)`);
      killTree(child);
    }
  }

  private failPending(reason: string): void {
    const waiting = this.pending.splice(0);
    for (const p of waiting) {
      if ('id' in p) p.resolve({ id: p.id, correct: null, reason, extracted: null });
      else p.reject(new Error(reason));
    }
  }

  private onLine(line: string): void {
    if (!line.trim()) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      this.stderrTail.push(`unparseable output: ${line.slice(0, 200)}`);
      return;
    }
    if (typeof parsed !== 'object' || parsed === null) return;
    const obj = parsed as Record<string, unknown>;
    const head = this.pending.shift();
    if (!head) return;
    if ('control' in obj) {
      if ('id' in head) {
        // A control answer where a result was expected: the stream is out of step; fail safe.
        head.resolve({ id: head.id, correct: null, reason: 'error: crashed (verifier stream out of step)', extracted: null });
      } else head.resolve(obj);
      return;
    }
    if (!('id' in head)) {
      head.reject(new Error(`expected a control answer, got ${line.slice(0, 200)}`));
      return;
    }
    const correct = obj.correct === true ? true : obj.correct === false ? false : null;
    const reason = typeof obj.reason === 'string' ? obj.reason : correct === null ? 'error: verifier gave no reason' : '';
    const extracted = typeof obj.extracted === 'string' ? obj.extracted : null;
    head.resolve({ id: head.id, correct, reason, extracted });
  }

  private ensure(): ChildProcess {
    if (this.disposed) throw new Error('verifier process disposed');
    if (this.child && this.child.exitCode === null && !this.child.killed) return this.child;
    if (this.exitPromise) this.restarts++;
    return this.start();
  }

  /** Verifies items; every item gets a result, errors included (never throws for a bad item). */
  verify(items: readonly VerifyItem[]): Promise<VerifyResult[]> {
    if (items.length === 0) return Promise.resolve([]);
    let child: ChildProcess;
    try {
      child = this.ensure();
    } catch (e) {
      return Promise.resolve(items.map((it) => ({ id: it.id, correct: null, reason: `error: crashed (${(e as Error).message})`, extracted: null })));
    }
    const promises = items.map(
      (it) => new Promise<VerifyResult>((resolve) => this.pending.push({ id: it.id, resolve })),
    );
    const payload = items.map((it) => JSON.stringify({ id: it.id, response: it.response, gold: it.gold })).join('\n') + '\n';
    if (this.pending.length === items.length) this.lastOutput = Date.now();
    child.stdin?.write(payload);
    return Promise.all(promises);
  }

  /** Switches the verifier (same process, fresh workers); resolves with its identity. */
  async setVerifier(spec: string): Promise<{ id: string; name: string; path: string | null }> {
    const child = this.ensure();
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => this.pending.push({ resolve, reject }));
    child.stdin?.write(JSON.stringify({ control: 'verifier', spec }) + '\n');
    const line = await answer;
    if (line.control !== 'verifier') throw new Error(String(line.reason ?? 'the verifier could not be loaded'));
    this.opts.verifier = spec;
    const id = line.identity as { id: string; name: string; path: string | null };
    return id;
  }

  /** Kills the process group now; pending items are answered as errors. */
  async dispose(): Promise<void> {
    this.disposed = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    const child = this.child;
    this.child = null;
    this.failPending('error: cancelled');
    if (child) {
      killTree(child);
      await Promise.race([new Promise((r) => child.once('exit', r)), new Promise((r) => setTimeout(r, 1000))]);
    }
  }
}

export function killTree(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    if (process.platform !== 'win32') process.kill(-child.pid, 'SIGKILL');
    else child.kill('SIGKILL');
  } catch {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

// Supervises one training backend process: its whole output goes to a log file in the run
// directory (kept, never truncated) and, line by line, to a callback (the Output channel). The
// trainer writes straight into the file (its stdout and stderr are the file), and the supervisor
// tails it: so the trainer never blocks on, or dies of, a pipe to VS Code (a window reload would
// otherwise hand it a BrokenPipeError in the middle of its SIGTERM checkpoint). It
// notices the three ways a long run goes wrong without anyone watching: a crash (non-zero exit),
// a hang (no output and no new events for a while) and a log flood (more lines than a person or
// an Output channel can take). Stop sends SIGTERM to the trainer (it finishes its step, checkpoints
// and writes run_end) and SIGKILLs its whole process group if it is still alive after the grace.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, openSync, writeSync } from 'node:fs';
import { appendFile, open, stat, type FileHandle } from 'node:fs/promises';
import { LineSplitter } from './lineSplitter';
import { diagnoseExit } from './diagnose';

export type StreamName = 'stdout' | 'stderr';

export interface SuperviseOptions {
  command: string;
  args: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** every byte the process writes is appended here */
  logFile: string;
  /** growth of this file counts as activity (the trainer may compute silently for minutes) */
  eventsFile?: string;
  /** no output and no events growth for this long is reported as a hang; 0 disables */
  hangTimeoutMs: number;
  /** how long stop() waits after SIGTERM before SIGKILL */
  stopGraceMs: number;
  /** how often the events file is checked and the hang clock read */
  pollIntervalMs?: number;
  /** how often the log file is read for new lines */
  tailIntervalMs?: number;
  /** when the reader falls this far behind the file (a flood), it skips ahead; the file keeps everything */
  maxLagBytes?: number;
  /** lines kept in memory for crash reports */
  tailLines?: number;
  /** longer lines are cut in memory and in the callback (not in the file) */
  maxLineChars?: number;
  /** above this many lines in one second, lines stop being forwarded and a summary line replaces them */
  floodLinesPerSecond?: number;
  /** same, in bytes per second */
  floodBytesPerSecond?: number;
  onLine?: (line: string, stream: StreamName) => void;
  onIssue?: (issue: SupervisorIssue) => void;
}

export type SupervisorIssue =
  | { kind: 'hang'; silentForMs: number; message: string }
  | { kind: 'flood'; linesPerSecond: number; bytesPerSecond: number; message: string };

export type ExitOutcome = 'completed' | 'stopped' | 'killed' | 'crashed' | 'spawn-failed';

export interface SupervisorExit {
  outcome: ExitOutcome;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** what happened and what to do about it */
  message: string;
  /** the last lines of output (capped), for the error notification and the failed run's reason */
  lastLines: string[];
  logFile: string;
  durationMs: number;
  /** lines that were not forwarded to onLine because of a flood (they are in the log file) */
  suppressedLines: number;
}

const DEFAULTS = {
  pollIntervalMs: 1000,
  tailIntervalMs: 150,
  maxLagBytes: 8 * 1024 * 1024,
  tailLines: 200,
  maxLineChars: 4000,
  floodLinesPerSecond: 2000,
  floodBytesPerSecond: 2 * 1024 * 1024,
};

export class Supervisor {
  readonly exited: Promise<SupervisorExit>;
  private readonly child: ChildProcess;
  private readonly splitter: LineSplitter;
  private logHandle: FileHandle | undefined;
  private logOffset = 0;
  private reading: Promise<void> | undefined;
  private tailTimer: NodeJS.Timeout | undefined;
  /** bytes of our own notes appended to the log: they are not the trainer's activity */
  private ownBytes = 0;
  private readonly tail: string[] = [];
  private readonly startedAt = Date.now();
  private readonly opts: Required<Omit<SuperviseOptions, 'cwd' | 'env' | 'eventsFile' | 'onLine' | 'onIssue'>> & SuperviseOptions;
  private lastActivity = Date.now();
  private hangReported = false;
  private eventsSize = -1;
  private eventsMtime = -1;
  private pollTimer: NodeJS.Timeout | undefined;
  private windowTimer: NodeJS.Timeout | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private stopRequested = false;
  private killed = false;
  private done = false;
  private spawnError: Error | undefined;
  // flood accounting over one-second windows
  private windowLines = 0;
  private windowBytes = 0;
  private flooding = false;
  private windowSuppressed = 0;
  private suppressedTotal = 0;

  private constructor(opts: SuperviseOptions) {
    this.opts = { ...DEFAULTS, ...opts } as Supervisor['opts'];
    this.splitter = new LineSplitter(this.opts.maxLineChars, (line) => this.onLine(line, 'stdout'));
    // The child gets the file itself as stdout and stderr (O_APPEND, shared with our own notes).
    // Opening is synchronous but a single open(2) of a local file: it keeps start() synchronous.
    let fd: number | undefined;
    try {
      fd = openSync(opts.logFile, 'a');
      writeSync(fd, `[reward-lens] ${new Date().toISOString()} starting: ${[opts.command, ...opts.args].map(quoteArg).join(' ')}\n`);
      // a resumed run appends to its old log: only what comes after our header is news
      this.logOffset = fstatSync(fd).size;
    } catch (e) {
      this.forward(`[reward-lens] cannot write the log file ${opts.logFile}: ${(e as Error).message}; the trainer's output is not kept`, 'stderr');
    }
    // detached: the trainer and its workers (verifier pool, dataloaders) form one process group,
    // so the SIGKILL escalation leaves no orphan holding the GPU.
    this.child = spawn(opts.command, [...opts.args], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: fd === undefined ? 'ignore' : ['ignore', fd, fd],
      detached: true,
    });
    if (fd !== undefined) closeSync(fd);
    this.exited = new Promise((resolve) => {
      this.child.on('error', (e) => {
        this.spawnError = e;
        // no 'exit' follows a failed spawn
        if (this.child.pid === undefined) void this.finish(null, null, resolve);
      });
      this.child.on('exit', (code, signal) => void this.finish(code, signal, resolve));
    });
    this.tailTimer = setInterval(() => void this.readLog(), this.opts.tailIntervalMs);
    this.pollTimer = setInterval(() => void this.poll(), this.opts.pollIntervalMs);
    this.windowTimer = setInterval(() => this.closeWindow(), 1000);
  }

  static start(opts: SuperviseOptions): Supervisor {
    return new Supervisor(opts);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.done;
  }

  lastLines(n = this.opts.tailLines): string[] {
    return this.tail.slice(-n);
  }

  /** SIGTERM now, SIGKILL to the process group after the grace period. Resolves on exit. */
  stop(graceMs = this.opts.stopGraceMs): Promise<SupervisorExit> {
    if (this.done || this.stopRequested) return this.exited;
    this.stopRequested = true;
    this.writeLog(`[reward-lens] ${new Date().toISOString()} stop requested: SIGTERM, SIGKILL after ${Math.round(graceMs / 1000)} s\n`);
    this.signal('SIGTERM', false);
    this.killTimer = setTimeout(() => {
      if (this.done) return;
      this.killed = true;
      this.writeLog(`[reward-lens] ${new Date().toISOString()} still running ${Math.round(graceMs / 1000)} s after SIGTERM: SIGKILL\n`);
      this.signal('SIGKILL', true);
    }, graceMs);
    return this.exited;
  }

  /** Immediate SIGKILL of the whole group (extension shutdown when the grace cannot be waited for). */
  kill(): void {
    if (this.done) return;
    this.stopRequested = true;
    this.killed = true;
    this.signal('SIGKILL', true);
  }

  private signal(sig: NodeJS.Signals, group: boolean): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(group ? -pid : pid, sig);
    } catch {
      // already gone: 'close' will report it
    }
  }

  /** Reads what the trainer appended since the last call; never two reads at once. */
  private readLog(): Promise<void> {
    this.reading ??= this.readOnce().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  private async readOnce(): Promise<void> {
    try {
      this.logHandle ??= await open(this.opts.logFile, 'r');
      const size = (await this.logHandle.stat()).size;
      if (size <= this.logOffset) return;
      if (size - this.logOffset > this.ownBytes) {
        this.lastActivity = Date.now();
        this.hangReported = false;
      }
      this.ownBytes = 0;
      if (size - this.logOffset > this.opts.maxLagBytes) {
        // A flood outruns any reader: jump to the last part and say how much was not shown.
        const skipped = size - 1024 * 1024 - this.logOffset;
        this.logOffset += skipped;
        this.splitter.end();
        this.forward(`[reward-lens] ${formatBytes(skipped)} of log output not shown (log flood); the full log is in ${this.opts.logFile}`, 'stderr');
      }
      const buf = Buffer.alloc(Math.min(size - this.logOffset, 4 * 1024 * 1024));
      while (this.logOffset < size) {
        const { bytesRead } = await this.logHandle.read(buf, 0, Math.min(buf.length, size - this.logOffset), this.logOffset);
        if (bytesRead <= 0) break;
        this.logOffset += bytesRead;
        this.windowBytes += bytesRead;
        this.splitter.push(buf.subarray(0, bytesRead));
      }
    } catch {
      // the file is not there (yet) or was removed: the trainer's exit still gets reported
    }
  }

  private writeLog(text: string): void {
    this.ownBytes += Buffer.byteLength(text);
    appendFile(this.opts.logFile, text).catch(() => undefined);
  }

  private onLine(line: string, stream: StreamName): void {
    this.tail.push(line);
    if (this.tail.length > this.opts.tailLines) this.tail.splice(0, this.tail.length - this.opts.tailLines);
    this.windowLines++;
    if (!this.flooding && (this.windowLines > this.opts.floodLinesPerSecond || this.windowBytes > this.opts.floodBytesPerSecond)) {
      this.flooding = true;
      const message =
        `The trainer is flooding its log (over ${this.opts.floodLinesPerSecond} lines or ${formatBytes(this.opts.floodBytesPerSecond)} per second). ` +
        `Reward Lens shows a per-second summary instead of every line; the full log is in ${this.opts.logFile}. ` +
        `Lower the trainer's log verbosity (e.g. its logging level or print frequency) to get the lines back.`;
      this.opts.onIssue?.({ kind: 'flood', linesPerSecond: this.windowLines, bytesPerSecond: this.windowBytes, message });
    }
    if (this.flooding) {
      this.windowSuppressed++;
      this.suppressedTotal++;
      return;
    }
    this.forward(line, stream);
  }

  private forward(line: string, stream: StreamName): void {
    try {
      this.opts.onLine?.(line, stream);
    } catch {
      // a failing consumer must not break supervision
    }
  }

  private closeWindow(): void {
    if (this.windowSuppressed > 0) {
      this.forward(`[reward-lens] ${this.windowSuppressed} log lines not shown (log flood); the full log is in ${this.opts.logFile}`, 'stderr');
    }
    const stillFlooding = this.windowLines > this.opts.floodLinesPerSecond || this.windowBytes > this.opts.floodBytesPerSecond;
    if (!stillFlooding) this.flooding = false;
    this.windowLines = 0;
    this.windowBytes = 0;
    this.windowSuppressed = 0;
  }

  private async poll(): Promise<void> {
    if (this.done) return;
    if (this.opts.eventsFile) {
      try {
        const s = await stat(this.opts.eventsFile);
        if (s.size !== this.eventsSize || s.mtimeMs !== this.eventsMtime) {
          if (this.eventsSize !== -1) {
            this.lastActivity = Date.now();
            this.hangReported = false;
          }
          this.eventsSize = s.size;
          this.eventsMtime = s.mtimeMs;
        }
      } catch {
        // not written yet
      }
    }
    if (this.done || this.stopRequested || this.opts.hangTimeoutMs <= 0 || this.hangReported) return;
    const silent = Date.now() - this.lastActivity;
    if (silent >= this.opts.hangTimeoutMs) {
      this.hangReported = true;
      const secs = Math.round(silent / 1000);
      const message =
        `The trainer has written no output and no events for ${secs} s (pid ${this.child.pid}); it looks hung. ` +
        `Its log is in ${this.opts.logFile}. Stop the run, or raise the setting rewardLens.training.hangTimeoutSeconds if its steps are this slow.`;
      this.writeLog(`[reward-lens] ${new Date().toISOString()} no output for ${secs} s: reported as hung\n`);
      this.opts.onIssue?.({ kind: 'hang', silentForMs: silent, message });
    }
  }

  private async finish(code: number | null, signal: NodeJS.Signals | null, resolve: (e: SupervisorExit) => void): Promise<void> {
    if (this.done) return;
    this.done = true;
    clearInterval(this.tailTimer);
    clearInterval(this.pollTimer);
    clearInterval(this.windowTimer);
    clearTimeout(this.killTimer);
    // everything the trainer wrote before it exited, so the crash report has its last lines
    await this.readLog();
    this.splitter.end();
    this.closeWindow();
    let outcome: ExitOutcome;
    if (this.spawnError && this.child.pid === undefined) outcome = 'spawn-failed';
    else if (this.killed) outcome = 'killed';
    else if (this.stopRequested) outcome = 'stopped';
    else if (code === 0) outcome = 'completed';
    else outcome = 'crashed';
    const lastLines = this.lastLines(40);
    const message = diagnoseExit({
      outcome,
      code,
      signal,
      command: this.opts.command,
      spawnError: this.spawnError,
      lastLines,
      logFile: this.opts.logFile,
    });
    const exit: SupervisorExit = {
      outcome,
      code,
      signal,
      message,
      lastLines,
      logFile: this.opts.logFile,
      durationMs: Date.now() - this.startedAt,
      suppressedLines: this.suppressedTotal,
    };
    // Resolve only once the note is in the file: the caller may read it right away.
    await appendFile(this.opts.logFile, `[reward-lens] ${new Date().toISOString()} ${outcome}: exit code ${code ?? '-'}, signal ${signal ?? '-'}\n`).catch(() => undefined);
    await this.logHandle?.close().catch(() => undefined);
    resolve(exit);
  }
}

function quoteArg(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

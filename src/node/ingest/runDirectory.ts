// Following a run folder that another process writes (a verl job with +reward_lens.run_dir, or a
// Reward Lens trainer started elsewhere): which file to tail, and what the tailer's passes add up
// to (waiting for the file, following, ended with the runs' run_end). Free of VS Code: the
// "Watch Run Directory…" command shows this state in a progress notification.
import { EventEmitter } from 'node:events';
import { stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { MalformedLine, StoreChange } from '../store/types';
import type { IngestSummary } from './ingest';

export const EVENTS_FILE = 'events.jsonl';

export interface RunDirectory {
  dir: string;
  eventsFile: string;
}

/** A folder holding (or about to hold) events.jsonl, or the events file itself. Errors say what to pick instead. */
export async function resolveRunDirectory(path: string): Promise<RunDirectory> {
  const abs = resolve(path);
  const st = await stat(abs).catch(() => null);
  if (!st) throw new Error(`${abs} does not exist. Pick the run folder the trainer writes to (verl: +reward_lens.run_dir), or create it first.`);
  if (st.isDirectory()) return { dir: abs, eventsFile: join(abs, EVENTS_FILE) };
  if (st.isFile() && abs.endsWith('.jsonl')) return { dir: dirname(abs), eventsFile: abs };
  throw new Error(`${basename(abs)} is not a run folder or an events .jsonl file. Pick the folder that holds (or will hold) ${EVENTS_FILE}.`);
}

export interface RunWatchState {
  phase: 'waiting' | 'following' | 'ended';
  eventsFile: string;
  /** runs seen in the file (run_start or any event of theirs), in order of appearance */
  runs: string[];
  /** runs whose run_end arrived */
  ended: string[];
  lastStep: number | null;
  groups: number;
  trajectories: number;
  /** complete lines read so far */
  lines: number;
  malformed: MalformedLine[];
  lastError: string | null;
}

/** What IngestTailer gives (its events), so tests and other hosts can feed the same logic. */
export interface TailerEventsLike {
  on(event: 'pass', listener: (summary: IngestSummary) => void): unknown;
  on(event: 'change', listener: (changes: StoreChange[]) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  off(event: 'pass' | 'change' | 'error', listener: (...args: never[]) => void): unknown;
}

export class RunDirectoryWatch extends EventEmitter<{ update: [RunWatchState] }> {
  private readonly s: RunWatchState;
  private finish: (s: RunWatchState) => void = () => undefined;
  /** Resolves once every run seen has its run_end, or when the watch is disposed. */
  readonly done: Promise<RunWatchState>;
  private readonly onPass = (summary: IngestSummary) => {
    if (this.s.phase === 'waiting') this.s.phase = 'following';
    this.s.lines = summary.lines;
    this.s.malformed.push(...summary.malformed);
    this.s.lastError = null;
    this.update();
  };
  private readonly onChange = (changes: StoreChange[]) => {
    for (const c of changes) {
      if (!this.s.runs.includes(c.runId)) this.s.runs.push(c.runId);
      if (c.runEnded && !this.s.ended.includes(c.runId)) this.s.ended.push(c.runId);
      this.s.groups += c.groups;
      this.s.trajectories += c.trajectories;
      const last = c.steps[c.steps.length - 1];
      if (last !== undefined) this.s.lastStep = Math.max(this.s.lastStep ?? last, last);
    }
    if (this.s.runs.length > 0 && this.s.runs.every((r) => this.s.ended.includes(r))) this.s.phase = 'ended';
    this.update();
  };
  private readonly onError = (e: Error) => {
    this.s.lastError = e.message;
    this.update();
  };

  constructor(private readonly tailer: TailerEventsLike, eventsFile: string) {
    super();
    this.s = { phase: 'waiting', eventsFile, runs: [], ended: [], lastStep: null, groups: 0, trajectories: 0, lines: 0, malformed: [], lastError: null };
    this.done = new Promise((res) => (this.finish = res));
    tailer.on('pass', this.onPass);
    tailer.on('change', this.onChange);
    tailer.on('error', this.onError);
  }

  get state(): RunWatchState {
    return { ...this.s, runs: [...this.s.runs], ended: [...this.s.ended], malformed: [...this.s.malformed] };
  }

  private update(): void {
    const state = this.state;
    this.emit('update', state);
    if (state.phase === 'ended') this.dispose();
  }

  /** Stops listening (the tailer itself belongs to its owner) and settles `done`. */
  dispose(): void {
    this.tailer.off('pass', this.onPass);
    this.tailer.off('change', this.onChange);
    this.tailer.off('error', this.onError);
    this.finish(this.state);
  }
}

/** One line for a progress notification. */
export function describeRunWatch(s: RunWatchState): string {
  if (s.lastError) return `cannot read ${EVENTS_FILE}: ${s.lastError} (retrying)`;
  if (s.phase === 'waiting') return `waiting for ${EVENTS_FILE}: it appears when the trainer writes its first event`;
  const bad = s.malformed.length ? `, ${s.malformed.length} malformed line${s.malformed.length === 1 ? '' : 's'} skipped` : '';
  if (s.runs.length === 0) return `following ${EVENTS_FILE}: ${s.lines} lines, nothing new yet${bad}`;
  const run = s.runs.length === 1 ? `run ${s.runs[0]}` : `${s.runs.length} runs`;
  const step = s.lastStep === null ? 'no step yet' : `step ${s.lastStep}`;
  const verb = s.phase === 'ended' ? 'ended at' : 'at';
  return `${run} ${verb} ${step}: ${s.groups.toLocaleString()} groups, ${s.trajectories.toLocaleString()} trajectories${bad}`;
}

// Live ingest of a growing events.jsonl: fs.watch for prompt updates, plus a polling timer because
// fs.watch misses events on network filesystems, in some containers, and when the file is replaced.
// Passes never overlap; a trigger during a pass schedules exactly one more. Free of VS Code, so it
// can run in the extension host, a worker, or a child process.
import { EventEmitter } from 'node:events';
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { RunStore } from '../store/store';
import type { MalformedLine, StoreChange } from '../store/types';
import { ingestFile, type IngestOptions, type IngestSummary } from './ingest';

export interface TailerOptions extends Pick<IngestOptions, 'batchBytes' | 'batchLines' | 'maxLineBytes' | 'fileKey'> {
  /** polling period in ms (default 1000) */
  pollMs?: number;
  /** delay after a watch event before reading, to batch a burst of appends (default 50) */
  debounceMs?: number;
}

export interface TailerEvents {
  change: [StoreChange[]];
  malformed: [MalformedLine[]];
  pass: [IngestSummary];
  error: [Error];
}

export class IngestTailer extends EventEmitter<TailerEvents> {
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  private abort = new AbortController();

  constructor(private readonly store: RunStore, readonly path: string, private readonly options: TailerOptions = {}) {
    super();
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.abort = new AbortController();
    this.watchFile();
    this.timer = setInterval(() => {
      if (!this.watcher) this.watchFile();
      void this.trigger();
    }, this.options.pollMs ?? 1000);
    void this.trigger();
  }

  private watchFile(): void {
    // Watch the directory: it survives the file being created late or replaced by a rename.
    const dir = dirname(this.path);
    if (!existsSync(dir)) return;
    try {
      const name = basename(this.path);
      this.watcher = watch(dir, { persistent: false }, (_event, file) => {
        if (file === null || file === name) this.schedule();
      });
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = null; // polling carries on; the timer retries the watch
      });
    } catch {
      this.watcher = null;
    }
  }

  private schedule(): void {
    if (this.debounce || this.stopped) return;
    this.debounce = setTimeout(() => {
      this.debounce = null;
      void this.trigger();
    }, this.options.debounceMs ?? 50);
  }

  /** Runs an ingest pass now, or right after the one in progress. */
  trigger(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass();
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pass(): Promise<void> {
    if (!existsSync(this.path)) return;
    try {
      const summary = await ingestFile(this.store, this.path, { ...this.options, signal: this.abort.signal });
      this.emit('pass', summary);
      if (summary.malformed.length > 0) this.emit('malformed', summary.malformed);
      if (summary.changes.length > 0) this.emit('change', summary.changes);
    } catch (e) {
      if (this.listenerCount('error') > 0) this.emit('error', e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** Stops watching; resolves once a pass in progress has committed its current batch. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
    this.timer = null;
    this.debounce = null;
    this.watcher?.close();
    this.watcher = null;
    await this.running;
  }
}

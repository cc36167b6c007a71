// Owns the open run store and the live tailers that feed it. Everything in the UI reads the store
// through getStore() and listens to onDidChange; nothing else opens or closes it.
import * as vscode from 'vscode';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { RunStore, StoreVersionError, type StoreChange } from '../node/store';
import type { LabelRecord, NewLabel } from '../node/store/types';
import { IngestTailer } from '../node/ingest';

export interface StoreChangeEvent {
  runId?: string;
  step?: number;
}

export class StoreHost implements vscode.Disposable {
  private store: RunStore | undefined;
  private storePath: string | undefined;
  private readonly tailers = new Map<string, IngestTailer>();
  private readonly changed = new vscode.EventEmitter<StoreChangeEvent>();
  private readonly changes = new vscode.EventEmitter<StoreChange[]>();
  private readonly opened = new vscode.EventEmitter<string | undefined>();
  private readonly labelAdded = new vscode.EventEmitter<LabelRecord>();
  /** one event per run (and its last step) after an ingest pass, for panels */
  readonly onDidChange = this.changed.event;
  /** the raw changes of one ingest pass, for the tree and the status bar */
  readonly onDidIngest = this.changes.event;
  /** a store was opened (its path) or closed (undefined) */
  readonly onDidOpen = this.opened.event;
  /** a label was stored through addLabel (the inspector's relabels and notes) */
  readonly onDidAddLabel = this.labelAdded.event;

  constructor(private readonly output: vscode.OutputChannel) {}

  get(): RunStore | undefined {
    return this.store;
  }

  get path(): string | undefined {
    return this.storePath;
  }

  /** Opens (creating if needed) the store at path, replacing the open one. Errors say what to do. */
  async open(path: string): Promise<RunStore> {
    const abs = resolve(path);
    if (this.store && this.storePath === abs) return this.store;
    await mkdir(dirname(abs), { recursive: true });
    let store: RunStore;
    // An older store is upgraded on open; on millions of trajectories that takes a while (new
    // indexes), so it gets a notification for as long as it lasts. Opening a current store shows none.
    let opened = (): void => undefined;
    const finished = new Promise<void>((r) => (opened = r));
    const onMigrate = (from: number, to: number): void => {
      this.output.appendLine(`[store] upgrading ${abs} from schema ${from} to ${to}`);
      void vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Reward Lens: upgrading ${basename(abs)} to this version's format (once; indexes are built)…` }, () => finished);
    };
    try {
      store = await RunStore.open(abs, { onMigrate });
    } catch (e) {
      if (e instanceof StoreVersionError) {
        throw new Error(`${abs} was written by a newer Reward Lens (${e.message}). Update the extension, or open another store with "Reward Lens: Open Run Store…".`);
      }
      throw new Error(`Cannot open the run store ${abs}: ${(e as Error).message}. Check that the folder is writable, or pick another file with "Reward Lens: Open Run Store…".`);
    } finally {
      opened();
    }
    await this.closeStore();
    this.store = store;
    this.storePath = abs;
    this.output.appendLine(`[store] opened ${abs}`);
    await vscode.commands.executeCommand('setContext', 'rewardLens.storeOpen', true);
    this.opened.fire(abs);
    return store;
  }

  /** Stores a label in the open store and tells the listeners (the verifier re-runs its regression set). */
  async addLabel(label: NewLabel): Promise<LabelRecord> {
    const store = this.store;
    if (!store) throw new Error('no run store is open');
    const record = await store.addLabel(label);
    this.labelAdded.fire(record);
    return record;
  }

  /** Starts ingesting a (growing) events.jsonl into the open store. */
  tail(eventsFile: string, pollMs: number): IngestTailer {
    const store = this.store;
    if (!store) throw new Error('No run store is open: open one with "Reward Lens: Open Run Store…" first.');
    const key = resolve(eventsFile);
    const existing = this.tailers.get(key);
    if (existing) return existing;
    const tailer = new IngestTailer(store, key, { pollMs });
    tailer.on('change', (changes) => this.publish(changes));
    tailer.on('malformed', (bad) => {
      for (const m of bad.slice(0, 20)) this.output.appendLine(`[ingest] ${m.file}:${m.line}: ${m.reason}`);
      if (bad.length > 20) this.output.appendLine(`[ingest] … ${bad.length - 20} more malformed lines in this pass`);
    });
    tailer.on('error', (e) => this.output.appendLine(`[ingest] ${key}: ${e.message}`));
    this.tailers.set(key, tailer);
    tailer.start();
    return tailer;
  }

  /** One last pass (so a final run_end is in), then stop following the file. */
  async untail(eventsFile: string): Promise<void> {
    const key = resolve(eventsFile);
    const t = this.tailers.get(key);
    if (!t) return;
    await t.trigger();
    this.tailers.delete(key);
    await t.stop();
  }

  publish(changes: StoreChange[]): void {
    if (!changes.length) return;
    this.changes.fire(changes);
    for (const c of changes) this.changed.fire({ runId: c.runId, step: c.steps[c.steps.length - 1] });
  }

  private async closeStore(): Promise<void> {
    for (const t of this.tailers.values()) await t.stop();
    this.tailers.clear();
    const s = this.store;
    this.store = undefined;
    this.storePath = undefined;
    if (s) await s.close().catch((e: Error) => this.output.appendLine(`[store] close: ${e.message}`));
  }

  async close(): Promise<void> {
    await this.closeStore();
    await vscode.commands.executeCommand('setContext', 'rewardLens.storeOpen', false);
    this.opened.fire(undefined);
  }

  dispose(): void {
    void this.closeStore();
    this.changed.dispose();
    this.changes.dispose();
    this.opened.dispose();
    this.labelAdded.dispose();
  }
}

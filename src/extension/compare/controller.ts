// What the Compare Runs panel does with the store and with the page's messages, without the
// vscode API (the panel owns the WebviewPanel; this owns the decisions), so the reads, the table's
// sort and filter, and the refusals are unit-tested against a real store.
//
// Trust: the page renders prompts and model output, so each message it posts is validated
// (src/core/compareMessages.ts), and any id it names must be one this panel showed: a prompt of
// the current table, a group of the prompt it opened, a step one of the runs has.
import {
  buildRows, compareCurves, compareEntropyKey, DEFAULT_FILTER, DEFAULT_SORT, lastGroupStep, PROMPT_CHARS, tableView, toCompareMember,
  type CompareGroupView, type ComparePromptView, type CompareRunView, type PromptRow, type TableFilter, type TableScope, type TableSort,
} from '../../core/compare';
import { diffSettings } from '../../core/compareConfig';
import { validateCompareMessage, type HostToCompare } from '../../core/compareMessages';
import { describeRefusal, formatRenderedLog, type ViewStepSeriesPoint } from '../../core/messages';
import { storeGroupId, type GroupId } from '../../core/ids';
import { promptCellsAtStep } from '../../node/store/compareQueries';
import type { Db } from '../../node/store/sqlite';
import type { GroupDetail, RunStoreApi, RunSummary } from '../../node/store/types';
import { RefusalLog } from '../panels/controllers';

/** The store as Compare Runs reads it: the store API plus the database handle its own queries take. */
export type CompareStore = RunStoreApi & { readonly db: Db };

export interface CompareEnv {
  getStore(): CompareStore | undefined;
  /** posts to the page; resolves false when the page is gone */
  post(message: HostToCompare): PromiseLike<boolean> | boolean;
  log(line: string): void;
  /** monotonic milliseconds (performance.now in the host) */
  now(): number;
  /** opens a group in the inspector beside the panel */
  openGroup(groupId: GroupId, focusTrajectoryKey?: string): Promise<void>;
  setTitle(title: string): void;
}

const NO_STORE = 'No run store is open. Open one with "Reward Lens: Open Run Store…", then run "Reward Lens: Compare Runs…" again.';

export class CompareCancelled extends Error {
  constructor() {
    super('the read was cancelled');
    this.name = 'CompareCancelled';
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function titleFor(runIds: readonly string[]): string {
  const t = `Compare · ${runIds.join(' · ')}`;
  return t.length > 80 ? `${t.slice(0, 79)}…` : t;
}

interface Loaded {
  store: CompareStore;
  summaries: RunSummary[];
  series: ViewStepSeriesPoint[][];
  runs: CompareRunView[];
  /** every step of any run (the curves' x values): the steps the picker may select */
  steps: Set<number>;
  /** per run, the steps at which it logged groups */
  runGroupSteps: Array<Set<number>>;
}

export class CompareController {
  private readonly refusals: RefusalLog;
  private runIds: string[];
  private loaded: Loaded | null = null;
  private rows: PromptRow[] = [];
  private rowSteps: Array<number | null> = [];
  private scope: TableScope = { kind: 'last' };
  private sort: TableSort = DEFAULT_SORT;
  private filter: TableFilter = DEFAULT_FILTER;
  /** the groups of the prompt shown side by side: the only ones the page may open */
  private openable = new Set<number>();
  private seq = 0;
  private abort: AbortController | null = null;
  /** the first message of a read begun for a new page, and whether that page carries it in its HTML */
  private pending: Promise<HostToCompare> | null = null;
  private seeded = false;
  /** when the shown thing was asked for (0: not measuring), for the host's end-to-end perf lines */
  private openedAt = 0;
  private tableAskedAt = 0;
  private promptAskedAt = 0;
  private visible = true;
  private staleWhileHidden = false;

  constructor(private readonly env: CompareEnv, runIds: readonly string[]) {
    this.refusals = new RefusalLog((l) => env.log(l), () => env.now());
    this.runIds = [...runIds];
  }

  get currentRunIds(): readonly string[] {
    return this.runIds;
  }

  /** True while a read of the runs is under way (the panel offers to cancel it). */
  get reading(): boolean {
    return this.abort !== null;
  }

  /** Stops the read under way; the page says it was cancelled and how to start again. */
  cancel(): void {
    this.abort?.abort();
  }

  /**
   * Starts reading `runIds` for a page. `seed` then waits a little for the result so a new page
   * can carry it in its HTML; otherwise the page's `ready` (or `deliver`) posts it.
   */
  begin(runIds: readonly string[]): Promise<HostToCompare> {
    this.runIds = [...runIds];
    this.loaded = null;
    this.rows = [];
    this.rowSteps = [];
    this.scope = { kind: 'last' };
    this.sort = DEFAULT_SORT;
    this.filter = DEFAULT_FILTER;
    this.openable.clear();
    this.openedAt = this.env.now();
    this.seeded = false;
    this.env.setTitle(titleFor(this.runIds));
    const p = this.read();
    this.pending = p;
    return p;
  }

  /** For a new page: the first message if it is ready within `waitMs` (it then rides in the HTML), else null. */
  async seed(waitMs: number): Promise<HostToCompare | null> {
    const p = this.pending;
    if (!p) return null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), waitMs); });
    const got = await Promise.race([p, late]);
    clearTimeout(timer);
    if (got === null || this.pending !== p) return null;
    this.pending = null;
    this.seeded = true;
    return got;
  }

  /** For a live page (the panel reused for another selection): posts the read's result when it is done. */
  async deliver(): Promise<void> {
    const p = this.pending;
    if (!p) return;
    await this.env.post({ type: 'loading', runIds: this.runIds });
    const m = await p;
    if (this.pending !== p) return; // a newer selection took over
    this.pending = null;
    await this.env.post(m);
  }

  private async read(): Promise<HostToCompare> {
    const seq = ++this.seq;
    this.abort?.abort();
    const abort = new AbortController();
    this.abort = abort;
    const check = () => {
      if (abort.signal.aborted || seq !== this.seq) throw new CompareCancelled();
    };
    try {
      const store = this.env.getStore();
      if (!store) return { type: 'empty', reason: NO_STORE };
      const summaries = await Promise.all(this.runIds.map((r) => store.getRun(r)));
      check();
      const missing = this.runIds.filter((_, i) => !summaries[i]);
      if (missing.length) {
        return { type: 'empty', reason: `${missing.map((r) => `Run "${r}"`).join(', ')} ${missing.length === 1 ? 'is' : 'are'} not in the open store. Run "Reward Lens: Compare Runs…" again and pick runs of this store.` };
      }
      // The runs' reads are issued together: node-sqlite3 runs them on its thread pool, so one
      // run's rows are turned into objects while the next run's query runs (about a third less
      // time than one after another, measured on the compare benchmark's store).
      const series: ViewStepSeriesPoint[][] = await Promise.all(this.runIds.map((r) => store.stepSeries(r)));
      check();
      const runs: CompareRunView[] = (summaries as RunSummary[]).map((s, i) => {
        const points = series[i] as ViewStepSeriesPoint[];
        return {
          runId: s.runId, variant: s.variant, model: s.model, status: s.status, stepCount: points.length, lastStep: lastGroupStep(points),
          entropyKey: compareEntropyKey(points.flatMap((p) => Object.keys(p.metrics))),
        };
      });
      const runGroupSteps = series.map((s) => new Set(s.filter((p) => p.groupCount > 0).map((p) => p.step)));
      const allSteps = new Set<number>();
      for (const s of series) for (const p of s) allSteps.add(p.step);
      const loaded: Loaded = { store, summaries: summaries as RunSummary[], series, runs, steps: allSteps, runGroupSteps };
      await this.readTable(loaded, { kind: 'last' }, check);
      check();
      this.loaded = loaded;
      this.scope = { kind: 'last' };
      const config = diffSettings(loaded.summaries);
      const curves = compareCurves(series, runs.map((r) => r.entropyKey));
      return { type: 'compare', runs, curves, config, table: this.view(), selectedStep: null };
    } catch (e) {
      if (e instanceof CompareCancelled) {
        return { type: 'empty', reason: 'The read of the runs was cancelled. Run "Reward Lens: Compare Runs…" again to compare them.' };
      }
      this.env.log(`[compare] reading ${this.runIds.join(', ')} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      return { type: 'error', message: `Reading the runs failed: ${errorText(e)}` };
    } finally {
      if (this.abort === abort) this.abort = null;
    }
  }

  /** Reads the table's cells at a scope into this.rows (each run's own last step, or one step for all). */
  private async readTable(loaded: Loaded, scope: TableScope, check: () => void): Promise<void> {
    const steps = loaded.runs.map((r, i) => {
      if (scope.kind === 'last') return r.lastStep;
      return loaded.runGroupSteps[i]?.has(scope.step) ? scope.step : null;
    });
    // Together, as the series are (see read()).
    const perRun = await Promise.all(loaded.runs.map((r, i) => {
      const step = steps[i];
      return step === null || step === undefined ? [] : promptCellsAtStep(loaded.store.db, r.runId, step);
    }));
    check();
    this.rows = buildRows(perRun);
    this.rowSteps = steps.map((s) => s ?? null);
    this.scope = scope;
  }

  private view() {
    return tableView(this.rows, this.scope, this.rowSteps, this.sort, this.filter, this.runIds.length);
  }

  private selectedStep(): number | null {
    return this.scope.kind === 'step' ? this.scope.step : null;
  }

  private refuse(reason: string): void {
    this.refusals.write(describeRefusal('compare', reason));
  }

  /** A store change (a run still training): re-read in place, keeping the step, sort and filter. */
  async onStoreChange(e: { runId?: string }): Promise<void> {
    if (!this.loaded || (e.runId !== undefined && !this.runIds.includes(e.runId))) return;
    if (!this.visible) {
      this.staleWhileHidden = true;
      return;
    }
    await this.refresh();
  }

  async setVisible(visible: boolean): Promise<void> {
    this.visible = visible;
    if (!visible || !this.staleWhileHidden) return;
    this.staleWhileHidden = false;
    await this.refresh();
  }

  private async refresh(): Promise<void> {
    const scope = this.scope;
    const sort = this.sort;
    const filter = this.filter;
    const m = await this.read();
    if (m.type !== 'compare' || !this.loaded) {
      await this.env.post(m);
      return;
    }
    this.sort = sort;
    this.filter = filter;
    if (scope.kind === 'step' && this.loaded.steps.has(scope.step)) {
      await this.readTable(this.loaded, scope, () => undefined);
    }
    await this.env.post({ ...m, table: this.view(), selectedStep: this.selectedStep() });
  }

  /** Handles one raw page message. Resolves false when it was refused. */
  async handle(raw: unknown): Promise<boolean> {
    const v = validateCompareMessage(raw, this.runIds.length);
    if (!v.ok) {
      this.refuse(v.reason);
      return false;
    }
    const m = v.message;
    switch (m.type) {
      case 'ready':
        if (this.seeded) {
          this.seeded = false; // a page VS Code re-creates later asks again, and is answered
          return true;
        }
        if (this.pending) {
          await this.deliver();
          return true;
        }
        // A page re-created while the panel was hidden: everything again, as it was.
        if (this.loaded) await this.refresh();
        else {
          this.pending = this.read();
          await this.deliver();
        }
        return true;
      case 'rendered': {
        this.env.log(formatRenderedLog(m));
        const timed = m.what === 'runs' ? 'openedAt' : m.what === 'table' ? 'tableAskedAt' : 'promptAskedAt';
        const name = m.what === 'runs' ? 'compare-open' : m.what === 'table' ? 'compare-table' : 'compare-prompt';
        if (this[timed] > 0) {
          this.env.log(`[perf] host.${name} ${(this.env.now() - this[timed]).toFixed(1)} ms size=${m.size}`);
          this[timed] = 0;
        }
        return true;
      }
      case 'selectStep': {
        const loaded = this.loaded;
        if (!loaded) {
          this.refuse('selectStep before the runs were shown');
          return false;
        }
        if (m.step !== null && !loaded.steps.has(m.step)) {
          this.refuse(`selectStep names step ${m.step}, which none of the compared runs has`);
          return false;
        }
        this.tableAskedAt = this.env.now();
        const seq = this.seq;
        try {
          await this.readTable(loaded, m.step === null ? { kind: 'last' } : { kind: 'step', step: m.step }, () => {
            if (seq !== this.seq) throw new CompareCancelled();
          });
        } catch (e) {
          if (e instanceof CompareCancelled) return true;
          this.env.log(`[compare] reading step ${m.step} failed: ${errorText(e)}`);
          await this.env.post({ type: 'error', message: `Reading step ${m.step} failed: ${errorText(e)}` });
          return true;
        }
        await this.env.post({ type: 'table', table: this.view(), selectedStep: this.selectedStep() });
        return true;
      }
      case 'setTable':
        if (!this.loaded) {
          this.refuse('setTable before the runs were shown');
          return false;
        }
        this.sort = m.sort;
        this.filter = m.filter;
        this.tableAskedAt = this.env.now();
        await this.env.post({ type: 'table', table: this.view(), selectedStep: this.selectedStep() });
        return true;
      case 'openPrompt': {
        const row = this.rows.find((r) => r.promptId === m.promptId);
        const loaded = this.loaded;
        if (!row || !loaded) {
          this.refuse(`openPrompt names prompt "${m.promptId.slice(0, 80)}", which is not in the table this panel shows`);
          return false;
        }
        this.promptAskedAt = this.env.now();
        try {
          const details = await Promise.all(row.cells.map((c) => (c ? loaded.store.getGroup(c.groupId) : Promise.resolve(null))));
          const first = details.find((d): d is GroupDetail => d !== null);
          const groups: Array<CompareGroupView | null> = details.map((d) =>
            d ? { groupId: d.groupId, runId: d.runId, step: d.step, accuracy: d.accuracy, meanROger: d.meanROger, zeroStd: d.zeroStd, members: d.trajectories.map(toCompareMember) } : null,
          );
          this.openable = new Set(groups.filter((g): g is CompareGroupView => g !== null).map((g) => g.groupId));
          const prompt: ComparePromptView = {
            promptId: row.promptId,
            prompt: first ? (first.prompt.length > PROMPT_CHARS ? `${first.prompt.slice(0, PROMPT_CHARS - 1)}…` : first.prompt) : row.preview,
            gold: first?.gold ?? '',
            groups,
          };
          await this.env.post({ type: 'prompt', prompt });
        } catch (e) {
          this.env.log(`[compare] reading the groups of prompt ${row.promptId} failed: ${errorText(e)}`);
          await this.env.post({ type: 'promptFailed', promptId: row.promptId, message: errorText(e) });
        }
        return true;
      }
      case 'openGroup':
        if (!this.openable.has(m.groupId)) {
          this.refuse(`openGroup names group ${m.groupId}, which is not among the groups this panel shows side by side`);
          return false;
        }
        await this.env.openGroup(storeGroupId(m.groupId), m.focusTrajectoryKey === null ? undefined : String(m.focusTrajectoryKey));
        return true;
    }
  }
}

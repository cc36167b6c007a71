// What the inspector and dashboard panels do with the store and with webview messages, without
// the vscode API (the panels own the WebviewPanel; these own the decisions). That keeps the
// refusal rules unit-testable against a real store.
//
// Trust: a webview renders model output, so every message it posts is validated
// (src/core/messages.ts) and every id it names must belong to what this panel is showing: the
// inspector only relabels members of its own group, the dashboard only opens groups of the step
// it listed. Anything else is refused and logged.
import {
  describeRefusal, drawnMetricKeys, formatRenderedLog, toSeriesColumns, validateDashboardMessage, validateInspectorMessage,
  type HostToDashboard, type HostToInspector, type InspectorOptions, type ViewGroup, type ViewStepSeriesPoint,
} from '../../core/messages';
import { resolveFormat, type ReasoningFormat, type ReasoningSetting } from '../../core/reasoning';
import type { GroupDetail, LabelRecord, NewLabel, RunStoreApi, RunSummary, StoredTrajectory } from '../../node/store/types';
import { parseTrajectoryKey, storeGroupId, storeTrajectoryKey, type GroupId, type TrajectoryKey } from '../../core/ids';

export interface ControllerEnv<Out> {
  getStore(): RunStoreApi | undefined;
  /** posts to the webview; resolves false when the webview is gone */
  post(message: Out): PromiseLike<boolean> | boolean;
  log(line: string): void;
  /** monotonic milliseconds (performance.now in the host) */
  now(): number;
}

export interface InspectorEnv extends ControllerEnv<HostToInspector> {
  author(): string;
  /** stores a label through the store host, which tells the rest of the extension (the verifier) */
  addLabel(label: NewLabel): Promise<LabelRecord>;
  openTrajectoryDocument(trajectoryKey: TrajectoryKey): Promise<void>;
  /** the panel's title follows the group */
  setTitle(title: string): void;
  /** rewardLens.reasoning.format */
  reasoningSetting(): ReasoningSetting;
  /** rewardLens.inspector.renderMarkdown and the like */
  options(): InspectorOptions;
}

export interface DashboardEnv extends ControllerEnv<HostToDashboard> {
  openGroup(groupId: GroupId, focusTrajectoryKey?: string): Promise<void>;
  setTitle(title: string): void;
}

/**
 * Refusals are logged one per line, but a page that floods the host (its script compromised, or a
 * bug in a loop) must not flood the Output channel: past `burst` refusals in a window only a count
 * is kept, and one summary line is written when the next window opens.
 */
export class RefusalLog {
  private windowStart = -Infinity;
  private inWindow = 0;
  private suppressed = 0;

  constructor(private readonly log: (line: string) => void, private readonly now: () => number, private readonly burst = 20, private readonly windowMs = 10_000) {}

  write(line: string): void {
    const t = this.now();
    if (t - this.windowStart >= this.windowMs) {
      if (this.suppressed > 0) this.log(`${this.suppressed} more refused webview message(s) were not logged`);
      this.windowStart = t;
      this.inWindow = 0;
      this.suppressed = 0;
    }
    if (this.inWindow < this.burst) {
      this.inWindow++;
      this.log(line);
    } else this.suppressed++;
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * The view of a stored group: the store's GroupDetail already has the message's shape. The
 * reasoning format is the setting's, else the run's recorded one, else detected from the group.
 */
export function toViewGroup(g: GroupDetail, setting: ReasoningSetting = 'auto', recorded: ReasoningFormat | null = null): ViewGroup {
  return {
    groupId: g.groupId, runId: g.runId, step: g.step, promptId: g.promptId, prompt: g.prompt, gold: g.gold,
    reward: g.reward, variant: g.variant, lints: g.lints, zeroStd: g.zeroStd, accuracy: g.accuracy, meanROger: g.meanROger,
    trajectories: g.trajectories.map((t: StoredTrajectory) => ({ trajectoryKey: t.trajectoryKey, event: t.event, lints: t.lints, label: t.label, activeVerdict: t.activeVerdict })),
    reasoningFormat: resolveFormat(setting, recorded, () => g.trajectories.map((t) => (typeof t.event.text === 'string' ? t.event.text : ''))),
  };
}

/** One place in the inspector's history: a group and the member that was selected there. */
export interface HistoryEntry {
  groupId: GroupId;
  trajectoryKey: number | null;
}

/**
 * Back/forward over the groups (and members) the inspector showed, as a browser's: opening a
 * group drops what was ahead; selecting a member updates where the current entry returns to.
 */
export class InspectorHistoryStack {
  private entries: HistoryEntry[] = [];
  private at = -1;
  constructor(private readonly limit = 100) {}

  get current(): HistoryEntry | null {
    return this.entries[this.at] ?? null;
  }

  push(e: HistoryEntry): void {
    const cur = this.current;
    if (cur && cur.groupId === e.groupId && (e.trajectoryKey === null || cur.trajectoryKey === e.trajectoryKey)) return;
    this.entries = this.entries.slice(0, this.at + 1);
    this.entries.push({ ...e });
    if (this.entries.length > this.limit) this.entries.shift();
    this.at = this.entries.length - 1;
  }

  select(groupId: GroupId, trajectoryKey: number): void {
    const cur = this.current;
    if (cur && cur.groupId === groupId) cur.trajectoryKey = trajectoryKey;
  }

  canGo(direction: 'back' | 'forward'): boolean {
    return direction === 'back' ? this.at > 0 : this.at < this.entries.length - 1;
  }

  go(direction: 'back' | 'forward'): HistoryEntry | null {
    if (!this.canGo(direction)) return null;
    this.at += direction === 'back' ? -1 : 1;
    return this.current;
  }
}

export class InspectorController {
  private readonly refusals: RefusalLog;
  private group: GroupDetail | null = null;
  /** the run's reasoning format as ingest recorded it (null: detect from the group) */
  private recorded: ReasoningFormat | null = null;
  private focus: string | null = null;
  private openedAt = 0;
  private loadSeq = 0;
  readonly history = new InspectorHistoryStack();

  constructor(private readonly env: InspectorEnv, private groupId: GroupId) {
    this.refusals = new RefusalLog((l) => env.log(l), () => env.now());
  }

  get currentGroupId(): GroupId {
    return this.groupId;
  }

  /** Sets the group to show once the webview says `ready`; focus is a trajectory key or id. */
  prepare(groupId: GroupId, focus?: string | null, record = true): void {
    this.groupId = groupId;
    this.focus = focus ?? null;
    this.group = null;
    // Timed from here: for a new panel that includes the webview starting up.
    this.openedAt = this.env.now();
    if (record) {
      const asKey = focus ? parseTrajectoryKey(focus) : null;
      this.history.push({ groupId, trajectoryKey: asKey });
    }
  }

  /** Shows another group in a live webview (the panel is reused). */
  async show(groupId: GroupId, focus?: string | null): Promise<void> {
    this.prepare(groupId, focus);
    await this.load();
  }

  async load(): Promise<void> {
    const seq = ++this.loadSeq;
    // A webview that VS Code re-created (shown again after being hidden) reloads without an open.
    if (this.openedAt === 0) this.openedAt = this.env.now();
    const store = this.env.getStore();
    if (!store) {
      await this.env.post({ type: 'empty', reason: 'No run store is open. Open one with "Reward Lens: Open Run Store…" or start a training run.' });
      return;
    }
    await this.env.post({ type: 'loading', groupId: this.groupId });
    let g: GroupDetail | null;
    try {
      g = await store.getGroup(this.groupId);
    } catch (e) {
      this.env.log(`[inspector] reading group ${this.groupId} failed: ${errorText(e)}`);
      await this.env.post({ type: 'error', message: `Reading group ${this.groupId} failed: ${errorText(e)}` });
      return;
    }
    if (seq !== this.loadSeq) return; // a newer show() won
    if (!g) {
      await this.env.post({ type: 'empty', reason: `Group ${this.groupId} is not in the open store (it may belong to another store).` });
      return;
    }
    this.group = g;
    this.recorded = await store.runReasoningFormat(g.runId).catch(() => null);
    if (seq !== this.loadSeq) return;
    this.env.setTitle(`Group · step ${g.step} · ${g.promptId}`);
    await this.postGroup();
  }

  /** A store change: a group that was not there yet (a live run, a store opened later) may be now. */
  async onStoreChange(): Promise<void> {
    if (!this.group) await this.load();
  }

  private focusKey(): number | null {
    if (!this.group || this.focus === null) return null;
    const asKey = parseTrajectoryKey(this.focus);
    const hit = this.group.trajectories.find((t) => (asKey !== null && t.trajectoryKey === asKey) || t.event.id === this.focus);
    return hit ? hit.trajectoryKey : null;
  }

  private async postGroup(): Promise<void> {
    if (!this.group) return;
    const focus = this.focusKey();
    // a focus given by trajectory id resolves to a key once the group is read
    if (focus !== null) this.history.select(this.groupId, focus);
    await this.env.post({
      type: 'group',
      group: toViewGroup(this.group, this.env.reasoningSetting(), this.recorded),
      focusTrajectoryKey: focus,
      history: { back: this.history.canGo('back'), forward: this.history.canGo('forward') },
      options: this.env.options(),
    });
  }


  /** Settings changed: show the group again with them. */
  async onSettingsChange(): Promise<void> {
    if (this.group) await this.postGroup();
  }

  private member(trajectoryKey: number): StoredTrajectory | undefined {
    return this.group?.trajectories.find((t) => t.trajectoryKey === trajectoryKey);
  }

  private refuse(reason: string): void {
    this.refusals.write(describeRefusal('inspector', reason));
  }

  /** Handles one raw webview message. Returns false when it was refused. */
  async handle(raw: unknown): Promise<boolean> {
    const v = validateInspectorMessage(raw);
    if (!v.ok) {
      this.refuse(v.reason);
      return false;
    }
    const m = v.message;
    switch (m.type) {
      case 'ready':
        // A webview that was hidden and re-created asks again.
        if (this.group) await this.postGroup();
        else await this.load();
        return true;
      case 'rendered':
        this.env.log(formatRenderedLog(m));
        if (m.what === 'group' && this.openedAt > 0) {
          this.env.log(`[perf] host.group-open ${(this.env.now() - this.openedAt).toFixed(1)} ms size=${m.size}`);
          this.openedAt = 0;
        }
        return true;
      case 'openDocument': {
        if (!this.member(m.trajectoryKey)) {
          this.refuse(`openDocument names trajectory ${m.trajectoryKey}, which is not in group ${this.groupId}`);
          return false;
        }
        await this.env.openTrajectoryDocument(storeTrajectoryKey(m.trajectoryKey));
        return true;
      }
      case 'selected': {
        if (m.groupId !== this.groupId || !this.member(m.trajectoryKey)) {
          this.refuse(`selected names trajectory ${m.trajectoryKey} of group ${m.groupId}, which this inspector does not show`);
          return false;
        }
        this.history.select(this.groupId, m.trajectoryKey);
        this.focus = String(m.trajectoryKey);
        return true;
      }
      case 'navigate': {
        const to = this.history.go(m.direction);
        if (!to) return true; // nothing there: the buttons were stale
        this.prepare(to.groupId, to.trajectoryKey === null ? null : String(to.trajectoryKey), false);
        await this.load();
        return true;
      }
      case 'relabel':
      case 'note': {
        if (m.groupId !== this.groupId || !this.group) {
          this.refuse(`${m.type} names group ${m.groupId}, but this inspector shows group ${this.groupId}`);
          return false;
        }
        const t = this.member(m.trajectoryKey);
        if (!t) {
          this.refuse(`${m.type} names trajectory ${m.trajectoryKey}, which is not in group ${this.groupId}`);
          return false;
        }
        const store = this.env.getStore();
        try {
          if (!store) throw new Error('no run store is open');
          if (m.type === 'relabel') {
            await this.env.addLabel({ trajectoryKey: t.trajectoryKey, label: m.label, author: this.env.author(), supersedes: t.label.current?.id ?? null });
          } else {
            await this.env.addLabel({ trajectoryKey: t.trajectoryKey, label: 'note', note: m.text, author: this.env.author() });
          }
          const fresh = await store.getTrajectory(t.trajectoryKey);
          if (fresh) t.label = fresh.label;
          this.env.log(`[inspector] ${m.type === 'relabel' ? `labelled ${m.label}` : 'noted'} trajectory ${t.trajectoryKey} (${t.event.id}) of group ${this.groupId}`);
          await this.env.post({ type: 'labelSaved', trajectoryKey: t.trajectoryKey, label: t.label });
          return true;
        } catch (e) {
          this.env.log(`[inspector] storing a ${m.type} for trajectory ${t.trajectoryKey} failed: ${errorText(e)}`);
          await this.env.post({ type: 'labelFailed', trajectoryKey: t.trajectoryKey, message: errorText(e), label: t.label });
          return false;
        }
      }
    }
  }
}

interface SeriesRead {
  run: RunSummary | null;
  series: ViewStepSeriesPoint[];
}

async function readSeries(store: RunStoreApi, runId: string): Promise<SeriesRead> {
  const run = await store.getRun(runId);
  return { run, series: run ? await store.stepSeries(runId) : [] };
}

export class DashboardController {
  private readonly refusals: RefusalLog;
  private steps = new Set<number>();
  private selectedStep: number | null = null;
  /** groups the dashboard listed for the selected step: the only ones it may open */
  private openable = new Set<number>();
  private seriesSeq = 0;
  private stepSeq = 0;
  /** when the shown series / step was asked for (0: not measuring), for the end-to-end perf lines */
  private seriesAskedAt = 0;
  private stepAskedAt = 0;

  /** a series read begun for a new panel but not done in time for its HTML: its `ready` uses it */
  private prefetched: { store: RunStoreApi; runId: string; read: Promise<SeriesRead> } | null = null;
  /** a new panel's HTML carried its series: its first `ready` needs no answer */
  private seeded = false;
  /** hidden panels skip live refreshes; a refresh skipped while hidden is made when shown */
  private visible = true;
  private staleWhileHidden = false;

  constructor(private readonly env: DashboardEnv, private runId: string) {
    this.refusals = new RefusalLog((l) => env.log(l), () => env.now());
    // A new panel: its open is timed from here, the webview's start-up included.
    this.seriesAskedAt = env.now();
  }

  /**
   * For a new panel: reads the series to put in its HTML, so the page renders without a `ready`
   * round trip to the host. Waits at most `waitMs`; a slower read (or none) returns null, the page
   * starts with its loading state, and the read goes on, to be used by its `ready`.
   */
  async seed(waitMs: number): Promise<HostToDashboard | null> {
    const store = this.env.getStore();
    if (!store) return null;
    const read = readSeries(store, this.runId);
    read.catch(() => undefined); // a failure is reported when loadSeries awaits it
    this.prefetched = { store, runId: this.runId, read };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), waitMs); });
    const got = await Promise.race([read.catch(() => null), late]);
    clearTimeout(timer);
    if (!got || !got.run || this.env.getStore() !== store || this.prefetched?.read !== read) return null;
    this.prefetched = null;
    this.seeded = true;
    return this.seriesMessage(got.run, got.series);
  }

  /** The series message for what was read; the steps it lists become the ones a page may select. */
  private seriesMessage(run: RunSummary, series: ViewStepSeriesPoint[]): HostToDashboard {
    this.steps = new Set(series.map((p) => p.step));
    this.env.setTitle(`Dashboard · ${this.runId}`);
    return { type: 'series', runId: this.runId, variant: run.variant, series: toSeriesColumns(series, drawnMetricKeys(series)), selectedStep: this.selectedStep };
  }

  get currentRunId(): string {
    return this.runId;
  }

  async show(runId: string): Promise<void> {
    // The page still shows this run's curves (it is kept alive while hidden): refresh them in
    // place rather than blanking them behind a loading state.
    const refreshInPlace = runId === this.runId && this.steps.size > 0;
    if (runId !== this.runId) {
      this.runId = runId;
      this.selectedStep = null;
      this.openable.clear();
    }
    this.seriesAskedAt = this.env.now();
    this.staleWhileHidden = false; // this load is the catch-up
    await this.loadSeries(!refreshInPlace);
  }

  async loadSeries(showLoading: boolean): Promise<void> {
    const seq = ++this.seriesSeq;
    const store = this.env.getStore();
    if (!store) {
      await this.env.post({ type: 'empty', reason: 'No run store is open. Open one with "Reward Lens: Open Run Store…" or start a training run.' });
      return;
    }
    if (showLoading) {
      // Only user-visible opens are timed; live refreshes would drown them in the log.
      if (this.seriesAskedAt === 0) this.seriesAskedAt = this.env.now();
      await this.env.post({ type: 'loading', runId: this.runId });
    }
    const pre = this.prefetched;
    this.prefetched = null;
    try {
      // The prefetch counts only for the store and run it was read from (another may be open now).
      const { run, series } = pre && pre.store === store && pre.runId === this.runId ? await pre.read : await readSeries(store, this.runId);
      if (!run) {
        await this.env.post({ type: 'empty', reason: `Run "${this.runId}" is not in the open store.` });
        return;
      }
      if (seq !== this.seriesSeq) return;
      await this.env.post(this.seriesMessage(run, series));
      if (this.selectedStep !== null && this.steps.has(this.selectedStep)) await this.loadStep(this.selectedStep);
    } catch (e) {
      this.env.log(`[dashboard] reading run ${this.runId} failed: ${errorText(e)}`);
      await this.env.post({ type: 'error', message: `Reading run "${this.runId}" failed: ${errorText(e)}` });
    }
  }

  private async loadStep(step: number): Promise<void> {
    const seq = ++this.stepSeq;
    const store = this.env.getStore();
    if (!store) return;
    try {
      const [points, groups] = await Promise.all([store.stepPoints(this.runId, step), store.listGroups(this.runId, step)]);
      if (seq !== this.stepSeq) return;
      this.openable = new Set([...groups.map((g) => g.groupId), ...points.map((p) => p.groupId)]);
      await this.env.post({ type: 'step', runId: this.runId, step, points, groups });
    } catch (e) {
      this.env.log(`[dashboard] reading step ${step} of ${this.runId} failed: ${errorText(e)}`);
      await this.env.post({ type: 'error', message: `Reading step ${step} failed: ${errorText(e)}` });
    }
  }

  /** A store change: refresh when it touched this run (or when the change does not say which). */
  async onStoreChange(e: { runId?: string; step?: number }): Promise<void> {
    if (e.runId !== undefined && e.runId !== this.runId) return;
    // A hidden page is kept alive: redrawing its curves on every ingest of a live run would spend
    // CPU the trainer needs on curves nobody sees. It catches up once, when shown again.
    if (!this.visible) {
      this.staleWhileHidden = true;
      return;
    }
    await this.loadSeries(false);
  }

  /** The panel was shown or hidden. */
  async setVisible(visible: boolean): Promise<void> {
    this.visible = visible;
    if (!visible || !this.staleWhileHidden) return;
    this.staleWhileHidden = false;
    await this.loadSeries(false);
  }

  private refuse(reason: string): void {
    this.refusals.write(describeRefusal('dashboard', reason));
  }

  async handle(raw: unknown): Promise<boolean> {
    const v = validateDashboardMessage(raw);
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
        await this.loadSeries(true);
        return true;
      case 'rendered':
        this.env.log(formatRenderedLog(m));
        // Host-side end to end: store query + message transit + the webview's render to its frame.
        if (m.what === 'series' && this.seriesAskedAt > 0) {
          this.env.log(`[perf] host.dashboard-open ${(this.env.now() - this.seriesAskedAt).toFixed(1)} ms size=${m.size}`);
          this.seriesAskedAt = 0;
        } else if (m.what === 'step' && this.stepAskedAt > 0) {
          this.env.log(`[perf] host.dashboard-step ${(this.env.now() - this.stepAskedAt).toFixed(1)} ms size=${m.size}`);
          this.stepAskedAt = 0;
        }
        return true;
      case 'selectStep':
        if (m.runId !== this.runId) {
          this.refuse(`selectStep names run "${m.runId.slice(0, 80)}", but this dashboard shows "${this.runId}"`);
          return false;
        }
        if (!this.steps.has(m.step)) {
          this.refuse(`selectStep names step ${m.step}, which run "${this.runId}" does not have`);
          return false;
        }
        this.selectedStep = m.step;
        this.stepAskedAt = this.env.now();
        await this.loadStep(m.step);
        return true;
      case 'openGroup':
        if (!this.openable.has(m.groupId)) {
          this.refuse(`openGroup names group ${m.groupId}, which is not among the groups this dashboard listed`);
          return false;
        }
        await this.env.openGroup(storeGroupId(m.groupId), m.focusTrajectoryKey === null ? undefined : String(m.focusTrajectoryKey));
        return true;
    }
  }
}

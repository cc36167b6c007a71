// The typed message protocol between the extension host and the Reward Lens webviews.
// Host→webview messages are trusted (we build them). Webview→host messages are NOT: a webview
// renders model output, so every message it posts is validated here before the host acts on it.
// Validators never throw: they return a reason the host logs to the Output channel.
import type { Lint } from './rescore';
import type { RewardSettings, TrajectoryEvent, Verdict } from './protocol';
import type { Variant } from './reward';
import type { ReasoningFormat } from './reasoning';

// ---------------------------------------------------------------------------------------------
// Shapes the host sends. They mirror the store's GroupDetail/StepSeriesPoint/... structurally
// (core may not import the store), so a store object can be passed through as is.

export type LabelKind = 'correct' | 'wrong' | 'hack' | 'note';
export type RelabelKind = 'correct' | 'wrong' | 'hack';

export interface ViewLabel {
  id: number;
  label: LabelKind;
  note: string | null;
  author: string;
  createdAt: string;
  supersedes: number | null;
}

export interface ViewLabelState {
  current: ViewLabel | null;
  notes: ViewLabel[];
  history: ViewLabel[];
}

export interface ViewMember {
  trajectoryKey: number;
  event: TrajectoryEvent;
  lints: Lint[];
  label: ViewLabelState;
  activeVerdict: { verdict: Verdict; reason: string | null; extracted: string | null; verifierId: string } | null;
}

export interface ViewGroup {
  groupId: number;
  runId: string;
  step: number;
  promptId: string;
  prompt: string;
  gold: string;
  reward: RewardSettings;
  variant: Variant;
  lints: Lint[];
  zeroStd: boolean;
  accuracy: number | null;
  meanROger: number | null;
  trajectories: ViewMember[];
  /** the reasoning format to split traces by (the setting, else the run's detected one); detected from the texts when absent */
  reasoningFormat?: ReasoningFormat;
  /** the run's encoder and long-text strategy, for D's explanation */
  encoder?: string | null;
}

/** How the inspector shows a group, from the settings. */
export interface InspectorOptions {
  /** render traces as Markdown with LaTeX (rewardLens.inspector.renderMarkdown); the page's toggle overrides it */
  renderMarkdown: boolean;
}

/** Whether the inspector's back and forward have somewhere to go. */
export interface InspectorHistory {
  back: boolean;
  forward: boolean;
}

/** One point of the run dashboard's time series (the store's stepSeries returns these). */
export interface ViewStepSeriesPoint {
  step: number;
  metrics: Record<string, number | null>;
  groupCount: number;
  /** fraction of online members correct, by the logged verdicts */
  accuracy: number | null;
  /** mean and max of R_OGER over online members that logged one */
  rOgerMean: number | null;
  rOgerMax: number | null;
  /** fraction of online responses that failed: truncated or a verifier error */
  failedRatio: number | null;
  /** mean token count of online responses (null when no tokens were logged) */
  meanResponseTokens: number | null;
  /** mean character length of online responses */
  meanResponseChars: number | null;
  /** mean advantage of offline members inside the final group (inserted teachers) */
  meanOfflineAdvantage: number | null;
  lintCount: number;
  /** online responses caught in runaway repetition; null for a run stored before ingest counted them */
  runawayCount: number | null;
}

/** One online trajectory of a step, for the scatter and histogram (the store's stepPoints). */
export interface ViewStepPoint {
  trajectoryKey: number;
  trajectoryId: string;
  groupId: number;
  divergence: number | null;
  entropyLast: number | null;
  verdict: Verdict;
  rOger: number | null;
  rTotal: number | null;
  advantage: number | null;
  replaced: boolean;
}

export interface ViewGroupSummary {
  groupId: number;
  runId: string;
  step: number;
  promptId: string;
  promptPreview: string;
  trajectoryCount: number;
  accuracy: number | null;
  meanROger: number | null;
  lintCount: number;
  zeroStd: boolean;
  /** mean advantage of the group's inserted teachers; null when none was inserted */
  meanOfflineAdvantage: number | null;
  /** online responses truncated or with a verifier error */
  failedCount: number;
  /** online responses caught in runaway repetition; null for a run stored before ingest counted them */
  runawayCount: number | null;
}

export type HostToInspector =
  | { type: 'loading'; groupId: number }
  | { type: 'empty'; reason: string }
  | { type: 'error'; message: string }
  | { type: 'group'; group: ViewGroup; focusTrajectoryKey: number | null; history?: InspectorHistory; options?: InspectorOptions }
  /** a label was stored: the webview replaces that member's label state */
  | { type: 'labelSaved'; trajectoryKey: number; label: ViewLabelState }
  /** a label could not be stored: the webview rolls back its optimistic state */
  | { type: 'labelFailed'; trajectoryKey: number; message: string; label: ViewLabelState };

/**
 * A first message can ride in the webview's HTML, as a JSON data block with this id, so a new
 * panel renders without waiting for its `ready` round trip to the host.
 */
export const INITIAL_MESSAGE_ELEMENT_ID = 'reward-lens-initial-message';

/**
 * URLs of a page's optional assets (the inspector's Markdown/LaTeX renderer and its stylesheet),
 * carried as a JSON data block with this id: webview resource URLs differ between VS Code builds,
 * so the host, not the page, makes them.
 */
export const ASSETS_ELEMENT_ID = 'reward-lens-assets';

export interface WebviewAssets {
  renderScript?: string;
  katexCss?: string;
}

/**
 * JSON that is safe as the text of an HTML <script type="application/json"> element: every `<`
 * is escaped, so no `</script>` or `<!--` in model output can end or alter the element, and
 * U+2028/U+2029 are escaped for old JSON parsers.
 */
export function jsonForHtmlDataBlock(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** The per-step numbers of ViewStepSeriesPoint, in the order they travel. */
const SERIES_FIELDS = ['groupCount', 'accuracy', 'rOgerMean', 'rOgerMax', 'failedRatio', 'meanResponseTokens', 'meanResponseChars', 'meanOfflineAdvantage', 'lintCount', 'runawayCount'] as const;
type SeriesField = (typeof SERIES_FIELDS)[number];

/**
 * The dashboard's series as it travels to the webview: one array per field, so each field name
 * and metric name crosses once rather than once per step. As points, 2,000 steps were 883 KB of
 * JSON and the host-to-webview transit, not the query or the drawing, was most of the open time.
 * A metric a step did not log is null in its column; decoding leaves it out of that step.
 * Non-integers travel with SERIES_DIGITS significant digits, which roughly halves the bytes
 * again: far finer than a pixel of a curve or the 3–4 digits a readout prints.
 */
export interface StepSeriesColumns {
  step: number[];
  fields: Record<SeriesField, Array<number | null>>;
  metrics: Record<string, Array<number | null>>;
}

export const SERIES_DIGITS = 7;

function forDisplay(v: number | null): number | null {
  return v === null || Number.isInteger(v) || !Number.isFinite(v) ? v : Number(v.toPrecision(SERIES_DIGITS));
}

/** Names trainers give the policy entropy (verl/LUFFY's first), in order of preference. */
export const POLICY_ENTROPY_KEYS = ['actor/entropy', 'policy/entropy', 'actor/entropy_mean', 'entropy'] as const;

/**
 * Entropies measured on the policy's own tokens only. Preferred over POLICY_ENTROPY_KEYS: with
 * teacher tokens mixed in (`actor/entropy` under LUFFY or OGER) runs are not comparable, and the
 * warm start logs only this one (its probe samples the policy), so only it spans both phases.
 */
export const ON_POLICY_ENTROPY_KEYS = ['actor/entropy_on_policy'] as const;

/** The warm start's token entropies of its promote and suppress subsets (teacher-forced). */
export const WARM_START_ENTROPY_KEYS = ['sft/entropy_promote', 'sft/entropy_suppress'] as const;

/** The run's policy-entropy metric: an on-policy one, a known name, else any name ending in "entropy" that is not a reward's or H_last's. */
export function policyEntropyKey(metricNames: Iterable<string>): string | null {
  const seen = new Set(metricNames);
  for (const k of ON_POLICY_ENTROPY_KEYS) if (seen.has(k)) return k;
  for (const k of POLICY_ENTROPY_KEYS) if (seen.has(k)) return k;
  for (const k of seen) if (/entropy$/i.test(k) && !/oger|reward|last|promote|suppress/i.test(k)) return k;
  return null;
}

/**
 * The step metrics the dashboard draws: the policy entropy and, for a run with a warm start, its
 * promote/suppress entropies. A verl or LUFFY run logs dozens of metrics per step (timings,
 * losses, clip fractions); sending them all would grow every dashboard open by a column each, for
 * curves nobody draws.
 */
export function drawnMetricKeys(points: readonly ViewStepSeriesPoint[]): string[] {
  const names = new Set<string>();
  for (const p of points) for (const k of Object.keys(p.metrics)) names.add(k);
  const entropy = policyEntropyKey(names);
  return [...(entropy === null ? [] : [entropy]), ...WARM_START_ENTROPY_KEYS.filter((k) => names.has(k))];
}

/**
 * The warm start's optimizer steps, N, read off the step axis: the trainer streams the record after
 * k of N warm-start steps as step k − N − 1 (protocol `phase: "warm_start"`), so the warm start spans
 * −N−1 (before its first step) … −1 and RL's step 0 follows. 0 when the series has no negative step.
 */
export function warmStartSteps(points: readonly ViewStepSeriesPoint[]): number {
  let min = 0;
  for (const p of points) if (p.step < min) min = p.step;
  return min < 0 ? -min - 1 : 0;
}

/** How far into the warm start a negative step is: its k of warmStartSteps (0: before it began). */
export function warmStartProgress(step: number, warmSteps: number): number {
  return step + warmSteps + 1;
}

export function toSeriesColumns(points: readonly ViewStepSeriesPoint[], onlyMetrics?: readonly string[]): StepSeriesColumns {
  const fields = Object.fromEntries(SERIES_FIELDS.map((f) => [f, points.map((p) => forDisplay(p[f]))])) as StepSeriesColumns['fields'];
  const metrics: Record<string, Array<number | null>> = {};
  const keep = onlyMetrics === undefined ? null : new Set(onlyMetrics);
  points.forEach((p, i) => {
    for (const [k, v] of Object.entries(p.metrics)) {
      if (v === null || (keep !== null && !keep.has(k))) continue;
      (metrics[k] ??= new Array<number | null>(points.length).fill(null))[i] = forDisplay(v);
    }
  });
  return { step: points.map((p) => p.step), fields, metrics };
}

export function fromSeriesColumns(c: StepSeriesColumns): ViewStepSeriesPoint[] {
  const metricNames = Object.keys(c.metrics);
  return c.step.map((step, i) => {
    const metrics: Record<string, number | null> = {};
    for (const k of metricNames) {
      const v = c.metrics[k]?.[i];
      if (v !== null && v !== undefined) metrics[k] = v;
    }
    const at = (f: SeriesField): number | null => c.fields[f]?.[i] ?? null;
    return {
      step,
      metrics,
      groupCount: at('groupCount') ?? 0,
      accuracy: at('accuracy'),
      rOgerMean: at('rOgerMean'),
      rOgerMax: at('rOgerMax'),
      failedRatio: at('failedRatio'),
      meanResponseTokens: at('meanResponseTokens'),
      meanResponseChars: at('meanResponseChars'),
      meanOfflineAdvantage: at('meanOfflineAdvantage'),
      lintCount: at('lintCount') ?? 0,
      runawayCount: at('runawayCount'),
    };
  });
}

export type HostToDashboard =
  | { type: 'loading'; runId: string }
  | { type: 'empty'; reason: string }
  | { type: 'error'; message: string }
  | { type: 'series'; runId: string; variant: Variant; series: StepSeriesColumns; selectedStep: number | null }
  | { type: 'step'; runId: string; step: number; points: ViewStepPoint[]; groups: ViewGroupSummary[] };

// ---------------------------------------------------------------------------------------------
// Messages a webview sends.

export type RenderedView = 'inspector' | 'dashboard' | 'compare';
/** what a `rendered` message timed; the benchmark reads these names */
export type RenderedWhat = 'group' | 'trace' | 'heatmap' | 'diff' | 'traceComplete' | 'find' | 'series' | 'step' | 'runs' | 'table' | 'prompt';

export interface RenderedMessage {
  type: 'rendered';
  view: RenderedView;
  what: RenderedWhat;
  /**
   * milliseconds from receiving the data (or the click) to the first frame showing it; long
   * traces are built progressively, and `traceComplete` times the frame after the last chunk
   */
  ms: number;
  /** size of what was rendered (characters of trace, steps of series, points of a step) */
  size: number;
}

export type InspectorToHost =
  | { type: 'ready' }
  | { type: 'relabel'; groupId: number; trajectoryKey: number; label: RelabelKind }
  | { type: 'note'; groupId: number; trajectoryKey: number; text: string }
  | { type: 'openDocument'; trajectoryKey: number }
  /** the selected member changed (back/forward return to it) */
  | { type: 'selected'; groupId: number; trajectoryKey: number }
  | { type: 'navigate'; direction: 'back' | 'forward' }
  | RenderedMessage;

export type DashboardToHost =
  | { type: 'ready' }
  | { type: 'selectStep'; runId: string; step: number }
  | OpenGroupMessage
  | RenderedMessage;

// ---------------------------------------------------------------------------------------------
// Validation

export const MESSAGE_LIMITS = {
  /** a serialised webview message larger than this is refused before it is parsed further */
  maxMessageChars: 16_384,
  maxNoteChars: 4_000,
  maxIdChars: 256,
  /** a rendered timing above an hour is not a timing */
  maxRenderedMs: 3_600_000,
} as const;

export type Validated<T> = { ok: true; message: T } | { ok: false; reason: string };

export type Obj = Record<string, unknown>;

function isPlainObject(v: unknown): v is Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

export interface OpenGroupMessage {
  type: 'openGroup';
  groupId: number;
  focusTrajectoryKey: number | null;
}

export function fail<T>(reason: string): Validated<T> {
  return { ok: false, reason };
}

/** Size of a value as JSON, or -1 when it cannot be serialised (cycles, BigInt). */
function jsonSize(v: unknown): number {
  try {
    const s = JSON.stringify(v);
    return typeof s === 'string' ? s.length : -1;
  } catch {
    return -1;
  }
}

export function isRowId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export function onlyKeys(o: Obj, allowed: readonly string[]): string | null {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) return `unexpected field "${k.slice(0, 40)}"`;
  return null;
}

/** What each view's `rendered` messages may time. */
const RENDERED_WHATS: Record<RenderedView, readonly RenderedWhat[]> = {
  inspector: ['group', 'trace', 'heatmap', 'diff', 'traceComplete', 'find'],
  dashboard: ['series', 'step'],
  compare: ['runs', 'table', 'prompt'],
};

/** "Open this group" from any page (dashboard, compare): the same shape and checks everywhere. */
export function checkOpenGroup(o: Obj): Validated<OpenGroupMessage> {
  const extra = onlyKeys(o, ['type', 'groupId', 'focusTrajectoryKey']);
  if (extra) return fail(extra);
  if (!isRowId(o.groupId)) return fail('openGroup.groupId must be a row id');
  const focus = o.focusTrajectoryKey ?? null;
  if (focus !== null && !isRowId(focus)) return fail('openGroup.focusTrajectoryKey must be a row id or null');
  return { ok: true, message: { type: 'openGroup', groupId: o.groupId, focusTrajectoryKey: focus } };
}

export function checkRendered(o: Obj, view: RenderedView): Validated<RenderedMessage> {
  const extra = onlyKeys(o, ['type', 'view', 'what', 'ms', 'size']);
  if (extra) return fail(extra);
  const whats = RENDERED_WHATS[view];
  if (o.view !== view) return fail(`rendered.view must be "${view}"`);
  if (typeof o.what !== 'string' || !(whats as readonly string[]).includes(o.what)) return fail('rendered.what is not a known measurement');
  if (typeof o.ms !== 'number' || !Number.isFinite(o.ms) || o.ms < 0 || o.ms > MESSAGE_LIMITS.maxRenderedMs) return fail('rendered.ms must be a finite duration');
  if (!isRowId(o.size)) return fail('rendered.size must be a non-negative integer');
  return { ok: true, message: { type: 'rendered', view, what: o.what as RenderedWhat, ms: o.ms, size: o.size } };
}

export function precheck(raw: unknown): Validated<Obj> {
  if (!isPlainObject(raw)) return fail('message is not a plain object');
  const size = jsonSize(raw);
  if (size < 0) return fail('message cannot be serialised');
  if (size > MESSAGE_LIMITS.maxMessageChars) return fail(`message of ${size} characters exceeds ${MESSAGE_LIMITS.maxMessageChars}`);
  if (typeof raw.type !== 'string') return fail('message has no string "type"');
  return { ok: true, message: raw };
}

/** Validates a message posted by the inspector webview. */
export function validateInspectorMessage(raw: unknown): Validated<InspectorToHost> {
  const pre = precheck(raw);
  if (!pre.ok) return pre;
  const o = pre.message;
  switch (o.type) {
    case 'ready': {
      const extra = onlyKeys(o, ['type']);
      return extra ? fail(extra) : { ok: true, message: { type: 'ready' } };
    }
    case 'relabel': {
      const extra = onlyKeys(o, ['type', 'groupId', 'trajectoryKey', 'label']);
      if (extra) return fail(extra);
      if (!isRowId(o.groupId)) return fail('relabel.groupId must be a row id');
      if (!isRowId(o.trajectoryKey)) return fail('relabel.trajectoryKey must be a row id');
      if (o.label !== 'correct' && o.label !== 'wrong' && o.label !== 'hack') return fail('relabel.label must be correct, wrong or hack');
      return { ok: true, message: { type: 'relabel', groupId: o.groupId, trajectoryKey: o.trajectoryKey, label: o.label } };
    }
    case 'note': {
      const extra = onlyKeys(o, ['type', 'groupId', 'trajectoryKey', 'text']);
      if (extra) return fail(extra);
      if (!isRowId(o.groupId)) return fail('note.groupId must be a row id');
      if (!isRowId(o.trajectoryKey)) return fail('note.trajectoryKey must be a row id');
      if (typeof o.text !== 'string') return fail('note.text must be a string');
      const text = o.text.trim();
      if (text.length === 0) return fail('note.text is empty');
      if (text.length > MESSAGE_LIMITS.maxNoteChars) return fail(`note.text exceeds ${MESSAGE_LIMITS.maxNoteChars} characters`);
      return { ok: true, message: { type: 'note', groupId: o.groupId, trajectoryKey: o.trajectoryKey, text } };
    }
    case 'openDocument': {
      const extra = onlyKeys(o, ['type', 'trajectoryKey']);
      if (extra) return fail(extra);
      if (!isRowId(o.trajectoryKey)) return fail('openDocument.trajectoryKey must be a row id');
      return { ok: true, message: { type: 'openDocument', trajectoryKey: o.trajectoryKey } };
    }
    case 'selected': {
      const extra = onlyKeys(o, ['type', 'groupId', 'trajectoryKey']);
      if (extra) return fail(extra);
      if (!isRowId(o.groupId)) return fail('selected.groupId must be a row id');
      if (!isRowId(o.trajectoryKey)) return fail('selected.trajectoryKey must be a row id');
      return { ok: true, message: { type: 'selected', groupId: o.groupId, trajectoryKey: o.trajectoryKey } };
    }
    case 'navigate': {
      const extra = onlyKeys(o, ['type', 'direction']);
      if (extra) return fail(extra);
      if (o.direction !== 'back' && o.direction !== 'forward') return fail('navigate.direction must be back or forward');
      return { ok: true, message: { type: 'navigate', direction: o.direction } };
    }
    case 'rendered':
      return checkRendered(o, 'inspector');
    default:
      return fail(`unknown message type "${String(o.type).slice(0, 40)}"`);
  }
}

/** Validates a message posted by the dashboard webview. */
export function validateDashboardMessage(raw: unknown): Validated<DashboardToHost> {
  const pre = precheck(raw);
  if (!pre.ok) return pre;
  const o = pre.message;
  switch (o.type) {
    case 'ready': {
      const extra = onlyKeys(o, ['type']);
      return extra ? fail(extra) : { ok: true, message: { type: 'ready' } };
    }
    case 'selectStep': {
      const extra = onlyKeys(o, ['type', 'runId', 'step']);
      if (extra) return fail(extra);
      if (typeof o.runId !== 'string' || o.runId.length === 0 || o.runId.length > MESSAGE_LIMITS.maxIdChars) return fail('selectStep.runId must be a run id');
      if (!isRowId(o.step)) return fail('selectStep.step must be a non-negative integer');
      return { ok: true, message: { type: 'selectStep', runId: o.runId, step: o.step } };
    }
    case 'openGroup':
      return checkOpenGroup(o);
    case 'rendered':
      return checkRendered(o, 'dashboard');
    default:
      return fail(`unknown message type "${String(o.type).slice(0, 40)}"`);
  }
}

/** One line for the Output channel; the reason is ours, never the webview's raw payload. */
export function describeRefusal(view: RenderedView | 'diff', reason: string): string {
  return `[${view}] refused a webview message: ${reason}`;
}

/** One line for the Output channel per timing; test/kit/ui.ts parses this exact format. */
export function formatRenderedLog(m: RenderedMessage): string {
  return `[perf] ${m.view}.${m.what} ${m.ms.toFixed(1)} ms size=${m.size}`;
}

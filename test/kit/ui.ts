// Latency helpers and sample data for the webviews, shared by the benchmarks (bench/ui-preview.ts,
// bench/vscode-latency.ts) and the tests (test/kit/ is the one place bench/ and test/ share code).
// Two sources of timings, same numbers:
//  - in VS Code, the host logs every `rendered` message to the Reward Lens output channel as
//    "[perf] inspector.group 41.2 ms size=15000" (formatRenderedLog); parsePerfLine reads them;
//  - in a browser page, window.__rewardLensPerf holds the same entries; readPerf() collects them.
// The harness page (harnessHtml) serves the real bundle under the real CSP with a stand-in for
// the extension host that posts prepared messages, so rendering can be timed without VS Code.
import type { Frame, Page } from 'playwright-core';
import { rescoreGroup } from '../../src/core/rescore';
import type { ViewGroup, ViewMember, ViewStepPoint, ViewStepSeriesPoint, ViewGroupSummary, HostToDashboard, HostToInspector, RenderedWhat, WebviewAssets } from '../../src/core/messages';
import type { TrajectoryEvent, Verdict } from '../../src/core/protocol';
import { makeNonce, webviewHtml, type WebviewName } from '../../src/extension/panels/html';
import type { HostToCompare } from '../../src/core/compareMessages';

// --- log parsing and statistics --------------------------------------------------------------

export interface PerfSample {
  /**
   * host: end-to-end timings the extension host logs, from asking the store to the webview's
   * rendered frame (group-open: inspector; dashboard-open: all steps' curves; dashboard-step: one step)
   */
  view: 'inspector' | 'dashboard' | 'compare' | 'host';
  what: RenderedWhat | 'group-open' | 'dashboard-open' | 'dashboard-step' | 'whatif-run' | 'whatif-lag' | 'compare-open' | 'compare-table' | 'compare-prompt';
  ms: number;
  size: number;
}

const PERF_RE = /\[perf\] (inspector|dashboard|compare|host)\.([\w-]+) (\d+(?:\.\d+)?) ms size=(\d+)/;

export function parsePerfLine(line: string): PerfSample | null {
  const m = PERF_RE.exec(line);
  if (!m) return null;
  return { view: m[1] as PerfSample['view'], what: m[2] as PerfSample['what'], ms: Number(m[3]), size: Number(m[4]) };
}

/** Nearest-rank percentile (p in 0..100) of a non-empty sample. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of an empty sample');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export interface PerfSummary {
  n: number;
  p50: number;
  p95: number;
  max: number;
}

export function summarise(values: readonly number[]): PerfSummary {
  return { n: values.length, p50: percentile(values, 50), p95: percentile(values, 95), max: Math.max(...values) };
}

/** The page-side log (window.__rewardLensPerf) as a Playwright `evaluate` body. */
export const READ_PERF_JS = '() => (window.__rewardLensPerf || []).map((e) => ({ view: e.view, what: e.what, ms: e.ms, size: e.size }))';

/**
 * Clicks a dashboard line chart at `step` (charts of more than 200 steps have no per-step marker
 * elements; the chart picks the step nearest the click). Returns the steps one pixel spans there,
 * which is how far the picked step may sit from `step`.
 */
export async function clickChartStep(target: Page | Frame, chartId: string, step: number): Promise<number> {
  const svg = target.locator(`[data-testid="chart-${chartId}"] svg`);
  const at = await svg.evaluate((el, s) => {
    // Breakpoints of a piecewise linear step axis (two, or three when a warm start has its own scale).
    const ds = (el.getAttribute('data-step-domain') ?? '').split(' ').map(Number);
    const xs = (el.getAttribute('data-plot-x') ?? '').split(' ').map(Number);
    let i = 0;
    while (i < ds.length - 2 && s > (ds[i + 1] as number)) i++;
    const [d0, d1, left, right] = [ds[i] as number, ds[i + 1] as number, xs[i] as number, xs[i + 1] as number];
    const scale = el.getBoundingClientRect().width / Number(el.getAttribute('width'));
    const x = (left + ((s - d0) / (d1 - d0)) * (right - left)) * scale;
    return { x, y: el.getBoundingClientRect().height / 2, stepsPerPixel: (d1 - d0) / ((right - left) * scale) };
  }, step);
  await svg.click({ position: { x: at.x, y: at.y } });
  return Math.ceil(at.stepsPerPixel);
}

/** Picks the step at `index` of a dashboard line chart with its keyboard (Home, PageDown, arrows, Enter). */
export async function pickChartStepByKeyboard(target: Page | Frame, chartId: string, index: number): Promise<void> {
  const svg = target.locator(`[data-testid="chart-${chartId}"] svg`);
  await svg.focus();
  await svg.press('Home');
  for (let i = 0; i < Math.floor(index / 10); i++) await svg.press('PageDown');
  for (let i = 0; i < index % 10; i++) await svg.press('ArrowRight');
  await svg.press('Enter');
}

// --- deterministic sample data ---------------------------------------------------------------

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}

const WORDS = 'let the value of x be such that we compute sum over terms then simplify using identity hence it follows check substitute factor expand derivative integral bound case'.split(' ');

/** A reasoning-model response of about `chars` characters, with a <think> block and a boxed answer. */
export function sampleTrace(chars: number, answer: string, seed: number): string {
  const r = rng(seed);
  const lines: string[] = ['<think>'];
  let size = 8;
  while (size < chars - 80) {
    const n = 6 + Math.floor(r() * 14);
    const words: string[] = [];
    for (let i = 0; i < n; i++) words.push(WORDS[Math.floor(r() * WORDS.length)] as string);
    const line = `${words.join(' ')} ${Math.floor(r() * 100)}.`;
    lines.push(line);
    size += line.length + 1;
    if (r() < 0.08) { lines.push(''); size += 1; }
  }
  lines.push('</think>', `So the final answer is \\boxed{${answer}}.`);
  return lines.join('\n');
}

/** Token entropies for a text: a token every ~4 characters, mostly confident with bursts. */
export function sampleEntropies(text: string, seed: number): { offsets: number[]; values: number[] } {
  const r = rng(seed);
  const offsets: number[] = [];
  const values: number[] = [];
  for (let o = 0; o < text.length; o += 2 + Math.floor(r() * 5)) {
    offsets.push(o);
    const burst = r() < 0.1;
    values.push(burst ? 0.5 + r() * 4 : r() * 0.3);
  }
  return { offsets, values };
}

export interface SampleGroupOptions {
  groupId?: number;
  online?: number;
  offline?: number;
  /** characters of each trace */
  chars?: number;
  seed?: number;
  /** extra members with hostile text */
  hostile?: boolean;
}

/** Hostile response text: markup, handlers, links, CSS, LaTeX and bidi controls that must render as text. */
export const HOSTILE_TEXT = [
  '<think>I will now break out of the page.',
  '<script>window.__pwned = "script";</script>',
  '<img src=x onerror="window.__pwned=\'img\'">',
  '<a href="javascript:window.__pwned=\'link\'">click me</a>',
  '<style>body { display: none !important; }</style><div style="position:fixed;inset:0;background:red">overlay</div>',
  '$$\\href{javascript:alert(1)}{x}$$ \\(\\unicode{x1F4A9}\\) ![x](javascript:alert(1))',
  '"><svg onload="window.__pwned=\'svg\'">',
  'if (isAdmin\u202E } \u2066⁦// check later\u2069 {',
  '</think>',
  'The answer is \\boxed{<b>42</b>}',
].join('\n');

export function sampleGroup(o: SampleGroupOptions = {}): ViewGroup {
  const N = o.online ?? 8;
  const M = o.offline ?? 2;
  const chars = o.chars ?? 4000;
  const seed = o.seed ?? 1;
  const r = rng(seed);
  const gold = '42';
  const events: TrajectoryEvent[] = [];
  for (let i = 0; i < N; i++) {
    const correct = r() < 0.5;
    const answer = correct ? gold : String(Math.floor(r() * 100));
    const text = o.hostile && i === 1 ? HOSTILE_TEXT : sampleTrace(chars, answer, seed * 1000 + i);
    const verdict: Verdict = o.hostile && i === 1 ? 'wrong' : correct ? 'correct' : 'wrong';
    events.push({
      id: `t-${seed}-on-${i}`, source: 'online', index: i, text, tokens: Math.round(text.length / 4), truncated: false,
      r_m: verdict === 'correct' ? 1 : 0, verdict, verdict_reason: verdict === 'correct' ? 'math-verify: equal' : 'math-verify: not equal',
      extracted_answer: o.hostile && i === 1 ? '<b>42</b>' : answer, divergence: 0.2 + r() * 0.6, entropy_last: 0.1 + r() * 1.5,
      replaced: false, token_entropies: sampleEntropies(text, seed * 7 + i),
    });
  }
  for (let j = 0; j < M; j++) {
    const text = sampleTrace(chars, gold, seed * 2000 + j);
    events.push({ id: `t-${seed}-off-${j}`, source: 'offline', index: j, teacher: j === 0 ? 'deepseek-r1' : `teacher-${j}`, text, r_m: 1, verdict: 'correct', extracted_answer: gold, replaced: false, inserted: j === 0 });
  }
  const reward = { variant: 'oger' as const, replace: 1, advantage: { std: 'sample' as const, eps: 1e-6 } };
  // Logged values come from the reward core itself, so the sample is a consistent group.
  const scores = rescoreGroup(events, reward);
  for (const s of scores) {
    const e = events.find((x) => x.id === s.id) as TrajectoryEvent;
    if (e.source === 'online') { e.r_oger = s.rOger; e.replaced = s.replaced; }
    e.r_total = s.rTotal;
    e.advantage = s.advantage;
  }
  const trajectories: ViewMember[] = events.map((event, k) => ({
    trajectoryKey: (o.groupId ?? 1) * 100 + k,
    event,
    lints: [],
    label: { current: null, notes: [], history: [] },
    activeVerdict: null,
  }));
  const online = events.filter((e) => e.source === 'online');
  return {
    groupId: o.groupId ?? 1, runId: 'sample-run', step: 12, promptId: `prompt-${seed}`,
    prompt: 'Find the value of x such that the sum of the first x odd numbers equals 1764. Put the answer in \\boxed{}.',
    gold, reward, variant: 'oger', lints: [], zeroStd: false,
    accuracy: online.filter((e) => e.verdict === 'correct').length / online.length,
    meanROger: null, trajectories,
  };
}

export function sampleSeries(steps: number, seed = 3): ViewStepSeriesPoint[] {
  const r = rng(seed);
  const out: ViewStepSeriesPoint[] = [];
  for (let s = 0; s < steps; s++) {
    const t = s / Math.max(1, steps - 1);
    out.push({
      step: s,
      metrics: { 'actor/entropy': 1.2 * Math.exp(-2 * t) + 0.2 + r() * 0.05 },
      groupCount: 64,
      accuracy: Math.min(1, 0.25 + 0.5 * t + (r() - 0.5) * 0.08),
      rOgerMean: 0.15 + 0.1 * Math.sin(t * 6) + r() * 0.02,
      rOgerMax: 0.45 + 0.1 * Math.sin(t * 6) + r() * 0.05,
      failedRatio: Math.max(0, 0.2 - 0.15 * t + (r() - 0.5) * 0.03),
      meanResponseTokens: 800 + 1200 * t + r() * 100,
      meanResponseChars: 3200 + 4800 * t,
      meanOfflineAdvantage: 0.8 - 0.9 * t + (r() - 0.5) * 0.1,
      lintCount: Math.floor(r() * 4),
      runawayCount: Math.floor(r() * r() * 5),
    });
  }
  return out;
}

export function sampleStep(step: number, groups = 8, perGroup = 8, seed = 5): { points: ViewStepPoint[]; groups: ViewGroupSummary[] } {
  const r = rng(seed + step);
  const points: ViewStepPoint[] = [];
  const summaries: ViewGroupSummary[] = [];
  for (let g = 0; g < groups; g++) {
    const groupId = step * 1000 + g;
    summaries.push({ groupId, runId: 'sample-run', step, promptId: `prompt-${g}`, promptPreview: `Prompt ${g}: find x such that …`, trajectoryCount: perGroup + 2, accuracy: r(), meanROger: r() * 0.4, lintCount: Math.floor(r() * 3), zeroStd: r() < 0.1, meanOfflineAdvantage: r() < 0.2 ? null : (r() - 0.6) * 2, failedCount: Math.floor(r() * r() * 4), runawayCount: Math.floor(r() * r() * 3) });
    for (let i = 0; i < perGroup; i++) {
      const correct = r() < 0.5;
      const d = 0.1 + r() * 0.8;
      const hl = r() * 2;
      points.push({ trajectoryKey: groupId * 100 + i, trajectoryId: `t-${groupId}-${i}`, groupId, divergence: d, entropyLast: hl, verdict: correct ? 'correct' : r() < 0.1 ? 'error' : 'wrong', rOger: correct ? d * Math.exp(-hl) : 0, rTotal: correct ? 1 + d * Math.exp(-hl) : 0, advantage: (r() - 0.5) * 2, replaced: i === 0 });
    }
  }
  return { points, groups: summaries };
}

// --- the harness page ------------------------------------------------------------------------

/** The VS Code theme variables the webviews read, for a light and a dark page outside VS Code. */
export type HarnessTheme = 'light' | 'dark' | 'hc';

export const THEMES: Record<HarnessTheme, Record<string, string>> = {
  dark: {
    foreground: '#cccccc', 'editor-background': '#1e1e1e', descriptionForeground: '#9d9d9d', focusBorder: '#0078d4',
    'panel-border': '#3c3c3c', 'widget-border': '#303031', 'badge-background': '#616161', 'badge-foreground': '#f8f8f8',
    'charts-green': '#89d185', 'charts-red': '#f14c4c', 'charts-yellow': '#cca700', 'charts-blue': '#3794ff', 'charts-purple': '#b180d7', 'charts-orange': '#d18616', 'charts-foreground': '#cccccc', 'charts-lines': '#cccccc80',
    errorForeground: '#f85149', 'textLink-foreground': '#4daafc', 'textCodeBlock-background': '#2b2b2b',
    'list-hoverBackground': '#2a2d2e', 'list-inactiveSelectionBackground': '#37373d', 'sideBar-background': '#181818',
    'editor-findMatchHighlightBackground': '#ea5c0055', 'editor-findMatchHighlightBorder': '#ea5c00',
    'diffEditor-insertedTextBackground': '#9ccc2c33', 'diffEditor-removedTextBackground': '#ff000033',
    'editorWarning-foreground': '#cca700', 'button-background': '#0078d4', 'button-foreground': '#ffffff',
    'button-secondaryBackground': '#313131', 'button-secondaryForeground': '#cccccc', 'input-background': '#313131', 'input-foreground': '#cccccc',
    'font-family': 'system-ui, sans-serif', 'font-size': '13px', 'editor-font-family': 'monospace', 'editor-font-size': '13px',
  },
  hc: {
    foreground: '#ffffff', 'editor-background': '#000000', descriptionForeground: '#ffffff', focusBorder: '#f38518',
    contrastBorder: '#6fc3df', contrastActiveBorder: '#f38518', 'panel-border': '#6fc3df', 'widget-border': '#6fc3df',
    'badge-background': '#000000', 'badge-foreground': '#ffffff',
    'charts-green': '#89d185', 'charts-red': '#f48771', 'charts-yellow': '#ffd700', 'charts-blue': '#75beff', 'charts-purple': '#b180d7', 'charts-orange': '#d18616', 'charts-foreground': '#ffffff', 'charts-lines': '#ffffff80',
    errorForeground: '#f48771', 'textLink-foreground': '#21a6ff', 'textCodeBlock-background': '#000000',
    'list-hoverBackground': '#000000', 'list-inactiveSelectionBackground': '#000000', 'sideBar-background': '#000000',
    'editor-findMatchHighlightBackground': '#00000000', 'editor-findMatchHighlightBorder': '#f38518',
    'diffEditor-insertedTextBackground': '#00000000', 'diffEditor-removedTextBackground': '#00000000',
    'editorWarning-foreground': '#ffd700', 'button-background': '#000000', 'button-foreground': '#ffffff', 'button-border': '#6fc3df',
    'button-secondaryBackground': '#000000', 'button-secondaryForeground': '#ffffff', 'input-background': '#000000', 'input-foreground': '#ffffff',
    'font-family': 'system-ui, sans-serif', 'font-size': '13px', 'editor-font-family': 'monospace', 'editor-font-size': '13px',
  },
  light: {
    foreground: '#3b3b3b', 'editor-background': '#ffffff', descriptionForeground: '#717171', focusBorder: '#005fb8',
    'panel-border': '#e5e5e5', 'widget-border': '#e5e5e5', 'badge-background': '#cccccc', 'badge-foreground': '#3b3b3b',
    'charts-green': '#388a34', 'charts-red': '#e51400', 'charts-yellow': '#bf8803', 'charts-blue': '#1a85ff', 'charts-purple': '#652d90', 'charts-orange': '#d18616', 'charts-foreground': '#616161', 'charts-lines': '#61616180',
    errorForeground: '#f85149', 'textLink-foreground': '#005fb8', 'textCodeBlock-background': '#f2f2f2',
    'list-hoverBackground': '#f2f2f2', 'list-inactiveSelectionBackground': '#e4e6f1', 'sideBar-background': '#f8f8f8',
    'editor-findMatchHighlightBackground': '#ea5c0055', 'editor-findMatchHighlightBorder': '#ea5c00',
    'diffEditor-insertedTextBackground': '#9ccc2c40', 'diffEditor-removedTextBackground': '#ff000033',
    'editorWarning-foreground': '#bf8803', 'button-background': '#005fb8', 'button-foreground': '#ffffff',
    'button-secondaryBackground': '#e5e5e5', 'button-secondaryForeground': '#3b3b3b', 'input-background': '#ffffff', 'input-foreground': '#3b3b3b',
    'font-family': 'system-ui, sans-serif', 'font-size': '13px', 'editor-font-family': 'monospace', 'editor-font-size': '13px',
  },
};

export interface HarnessOptions {
  view: WebviewName;
  theme: HarnessTheme;
  /** origin serving the bundle (the CSP's source), e.g. http://127.0.0.1:8123 */
  origin: string;
  /** the bundle's URL */
  scriptUri: string;
  /** messages posted to the webview after it says `ready`, in order */
  messages: Array<HostToInspector | HostToDashboard | HostToCompare>;
  /** a first message carried in the page, as a new dashboard panel gets its series */
  initialMessage?: HostToInspector | HostToDashboard | HostToCompare;
  /** page scripts run before the host stand-in (a test's CSP recorder) */
  preludeScripts?: string[];
  /** URLs of the optional assets (the inspector's renderer bundle and KaTeX stylesheet) */
  assets?: WebviewAssets;
  /** what vscodeApi().getState() returns (a page re-created by VS Code) */
  savedState?: unknown;
}

/**
 * The webview page with a stand-in for the extension host: acquireVsCodeApi() records what the
 * page posts in window.__posted and answers `ready` with the prepared messages.
 */
/**
 * A page script standing in for the extension host: records what the page posts in
 * window.__posted and, when the page says `ready`, posts `messages` to it in order.
 */
export function hostStandInScript(messages: readonly unknown[], savedState?: unknown): string {
  return `
window.__posted = [];
window.__savedState = ${savedState === undefined ? 'undefined' : JSON.stringify(savedState).replace(/</g, '\\u003c')};
window.__hostMessages = ${JSON.stringify(messages).replace(/</g, '\\u003c')};
window.acquireVsCodeApi = function () {
  return {
    postMessage: function (m) {
      window.__posted.push(m);
      if (m && m.type === 'ready') for (const msg of window.__hostMessages) window.postMessage(msg, '*');
    },
    getState: function () { return window.__savedState; },
    setState: function (s) { window.__savedState = s; },
  };
};`;
}

export function harnessHtml(o: HarnessOptions): string {
  const vars = Object.entries(THEMES[o.theme]).map(([k, v]) => `--vscode-${k}: ${v};`).join(' ');
  const themeClass = `document.body.classList.add(${JSON.stringify(o.theme === 'dark' ? 'vscode-dark' : o.theme === 'hc' ? 'vscode-high-contrast' : 'vscode-light')});`;
  const preludeScripts = [...(o.preludeScripts ?? []), hostStandInScript(o.messages, o.savedState), themeClass];
  return webviewHtml({ view: o.view, title: `Reward Lens ${o.view}`, cspSource: o.origin, scriptUri: o.scriptUri, nonce: makeNonce(), preludeScripts, preludeCss: `html { ${vars} }`, initialMessage: o.initialMessage, assets: o.assets });
}

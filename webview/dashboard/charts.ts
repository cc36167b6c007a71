// Chart primitives for the dashboard. Built for 2,000+ steps inside a 300 ms budget: each series
// is ONE svg path; per-step markers exist only on the chart that carries the click targets, and
// only while the run is short enough for them to be seen (profiled: 2,000 marker circles were the
// largest single cost of the render); a dense chart picks the step nearest a click or moves with
// the keyboard instead. The per-step scatter is a canvas with its own hit test.
import { scaleLinear, type ScaleLinear } from 'd3-scale';
import { line } from 'd3-shape';
import { axisBottom, axisLeft } from 'd3-axis';
import { select } from 'd3-selection';
import { bin, bisector, extent, max } from 'd3-array';
import { fmtNum } from '../../src/core/format';
import { stepAxis, tickCountFor, valueAxis, type AxisKind } from './axes';
import { h } from '../shared/dom';

const SVG = 'http://www.w3.org/2000/svg';

export interface Series {
  name: string;
  /** a CSS class that picks a theme colour (.s-blue, .s-green, ...) */
  cls: string;
  values: Array<number | null>;
}

export interface LineChartSpec {
  id: string;
  title: string;
  /** one line saying what the curve is and how it is computed: the caption's tooltip */
  help?: string;
  steps: number[];
  series: Series[];
  /** draw markers with data-testid point-step-<n> (the click targets the e2e tests use) */
  markers: boolean;
  zeroLine?: boolean;
  /** what the values are: decides the valid range and the tick labels (default: real) */
  axis?: AxisKind;
  /** the values cannot be negative (entropy, R_OGER): the axis stays at or above 0 */
  nonNegative?: boolean;
  /** the hover readout's format (the axis labels come from the axis kind) */
  format?: (v: number) => string;
  selectedStep: number | null;
  onPick: (step: number) => void;
  /** steps below this one are the warm start (SFT or OXA) before RL: shaded and labelled */
  warmStartBefore?: number | null;
}

const M = { top: 8, right: 12, bottom: 22, left: 44 };

function svgEl<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function finite(values: Array<number | null>): number[] {
  return values.filter((v): v is number => v !== null && Number.isFinite(v));
}

/** Above this many steps a chart has no marker elements: they would paint a solid band. */
export const MAX_MARKER_STEPS = 200;

export interface LineChart {
  element: HTMLElement;
  /** moves the "picked step" rule without redrawing */
  setPicked(step: number | null): void;
}

/** The most of a chart's width a warm start takes; longer ones are drawn on their own, denser scale. */
export const WARM_START_MAX_SHARE = 0.3;

interface WarmStartPhases {
  /** the step between the last warm-start step and the first RL step, where the band ends */
  boundary: number;
  /** the warm start's share of the plot's width: its natural share, at most WARM_START_MAX_SHARE */
  share: number;
  natural: number;
  /** integer ticks of each phase, each spaced for its own width */
  ticks: number[];
}

/**
 * A warm start of 600 SFT steps before 20 RL steps would leave RL 3% of a linear axis. The x scale
 * becomes piecewise linear: the warm start keeps its natural share of the width up to
 * WARM_START_MAX_SHARE, RL the rest, and each phase gets its own ticks. Null without both phases.
 */
function warmStartPhases(steps: readonly number[], before: number | null, domain: [number, number], plotWidth: number): WarmStartPhases | null {
  if (before === null) return null;
  const firstRl = steps.find((st) => st >= before);
  const warm = steps.filter((st) => st < before);
  if (firstRl === undefined || warm.length === 0) return null;
  const lastWarm = Math.max(...warm);
  const boundary = (lastWarm + firstRl) / 2;
  const natural = (boundary - domain[0]) / (domain[1] - domain[0]);
  const share = Math.min(natural, WARM_START_MAX_SHARE);
  const fit = (from: number, to: number, px: number) => stepAxis(from, to, Math.max(1, Math.floor(px / 60))).ticks.filter((t) => t >= from && t <= to);
  const ticks = [...fit(domain[0], lastWarm, share * plotWidth), ...fit(firstRl, domain[1], (1 - share) * plotWidth)];
  return { boundary, share, natural, ticks };
}

export function lineChart(spec: LineChartSpec, width: number, height: number): LineChart {
  const fig = h('figure', { class: 'chart', 'data-testid': `chart-${spec.id}` });
  const cap = h('figcaption', spec.help ? { title: spec.help, 'data-testid': `help-${spec.id}` } : {}, spec.title);
  if (spec.help) cap.appendChild(h('span', { class: 'help-mark', 'aria-label': spec.help }, '?'));
  const readout = h('span', { class: 'readout muted', 'data-testid': `readout-${spec.id}` });
  cap.appendChild(readout);
  fig.appendChild(cap);
  const all = spec.series.flatMap((s) => finite(s.values));
  const w = Math.max(120, width);
  const svg = svgEl('svg', { width: w, height, viewBox: `0 0 ${w} ${height}`, role: 'img', 'aria-label': spec.title, tabindex: 0 });
  fig.appendChild(svg);
  if (spec.steps.length === 0 || all.length === 0) {
    fig.appendChild(h('p', { class: 'chart-empty muted', 'data-testid': `chart-empty-${spec.id}` }, 'Not logged for this run.'));
    svg.remove();
    return { element: fig, setPicked: () => undefined };
  }
  const [s0, s1] = extent(spec.steps) as [number, number];
  const xAxis = stepAxis(s0, s1, Math.floor((w - M.left - M.right) / 60));
  const yAxis = valueAxis(all, { kind: spec.axis ?? 'real', nonNegative: spec.nonNegative, includeZero: spec.zeroLine, maxTicks: Math.min(5, tickCountFor(height - M.top - M.bottom)) });
  const phases = warmStartPhases(spec.steps, spec.warmStartBefore ?? null, xAxis.domain, w - M.left - M.right);
  const x: ScaleLinear<number, number> = phases
    ? scaleLinear().domain([xAxis.domain[0], phases.boundary, xAxis.domain[1]]).range([M.left, M.left + phases.share * (w - M.left - M.right), w - M.right])
    : scaleLinear().domain(xAxis.domain).range([M.left, w - M.right]);
  if (phases) xAxis.ticks = phases.ticks;
  const y: ScaleLinear<number, number> = scaleLinear().domain(yAxis.domain).range([height - M.bottom, M.top]);
  const gx = svgEl('g', { class: 'axis', transform: `translate(0,${height - M.bottom})` });
  const gy = svgEl('g', { class: 'axis', transform: `translate(${M.left},0)` });
  svg.append(gx, gy);
  select(gx).call(axisBottom(x).tickValues(xAxis.ticks).tickFormat((d) => xAxis.format(Number(d))));
  select(gy).call(axisLeft(y).tickValues(yAxis.ticks).tickFormat((d) => yAxis.format(Number(d))));
  if (spec.warmStartBefore !== undefined && spec.warmStartBefore !== null && s0 < spec.warmStartBefore) {
    const edge = phases ? x(phases.boundary) : w - M.right;
    const band = svgEl('g', { class: 'phase-warm-start', 'data-testid': `warm-start-band-${spec.id}` });
    const title = svgEl('title');
    title.textContent = `Warm start (supervised fine-tuning on teacher traces, SFT or OXA) before the RL steps; its steps are numbered below 0${phases && phases.share < phases.natural ? ` and drawn on their own scale, in at most ${Math.round(WARM_START_MAX_SHARE * 100)}% of the width` : ''}`;
    band.append(title, svgEl('rect', { x: M.left, y: M.top, width: Math.max(0, edge - M.left), height: height - M.top - M.bottom }));
    band.appendChild(svgEl('line', { x1: edge, x2: edge, y1: M.top, y2: height - M.bottom }));
    if (edge - M.left > 64) {
      const label = svgEl('text', { x: M.left + 4, y: M.top + 11 });
      label.textContent = 'warm start';
      band.appendChild(label);
    }
    if (w - M.right - edge > 24) {
      const rl = svgEl('text', { x: edge + 4, y: M.top + 11 });
      rl.textContent = 'RL';
      band.appendChild(rl);
    }
    svg.appendChild(band);
  }
  if (spec.zeroLine) svg.appendChild(svgEl('line', { class: 'zero', x1: M.left, x2: w - M.right, y1: y(0), y2: y(0) }));
  const steps = spec.steps;
  for (const s of spec.series) {
    const gen = line<number>()
      .defined((i) => { const v = s.values[i]; return v !== null && v !== undefined && Number.isFinite(v); })
      .x((i) => x(steps[i] as number))
      .y((i) => y(s.values[i] as number));
    const d = gen(steps.map((_, i) => i));
    if (d) svg.appendChild(svgEl('path', { class: `series ${s.cls}`, d, 'data-series': s.name }));
    // A path through one point draws nothing: a one-step run would look unlogged.
    const defined = s.values.flatMap((v, i) => (v !== null && Number.isFinite(v) ? [i] : []));
    if (defined.length === 1) {
      const i = defined[0] as number;
      svg.appendChild(svgEl('circle', { class: `solo ${s.cls}`, cx: x(steps[i] as number), cy: y(s.values[i] as number), r: 2.5, 'data-series': s.name }));
    }
  }
  const sel = svgEl('line', { class: 'cursor', y1: M.top, y2: height - M.bottom, x1: 0, x2: 0, visibility: 'hidden' });
  const picked = svgEl('line', { class: 'picked', y1: M.top, y2: height - M.bottom, x1: 0, x2: 0, visibility: 'hidden' });
  svg.append(sel, picked);
  const setPicked = (step: number | null) => {
    picked.setAttribute('visibility', step === null ? 'hidden' : 'visible');
    if (step === null) return;
    picked.setAttribute('x1', String(x(step)));
    picked.setAttribute('x2', String(x(step)));
  };
  setPicked(spec.selectedStep);
  if (spec.markers && steps.length <= MAX_MARKER_STEPS) {
    const first = spec.series[0] as Series;
    const g = svgEl('g', { class: 'markers' });
    const frag = document.createDocumentFragment();
    for (let i = 0; i < steps.length; i++) {
      const v = first.values[i];
      if (v === null || v === undefined || !Number.isFinite(v)) continue;
      const step = steps[i] as number;
      const c = svgEl('circle', { cx: x(step), cy: y(v), r: 2.5, class: `marker ${first.cls}`, 'data-testid': `point-step-${step}`, 'data-step': step });
      frag.appendChild(c);
    }
    g.appendChild(frag);
    svg.appendChild(g);
    g.addEventListener('click', (e) => {
      const t = e.target as Element;
      const step = Number(t.getAttribute('data-step'));
      if (t.tagName === 'circle' && Number.isInteger(step)) { e.stopPropagation(); spec.onPick(step); }
    });
  }
  // Where each step sits horizontally, in the svg's own units: how a test or a benchmark clicks a
  // step on a chart too dense for markers.
  // Piecewise linear when a warm start has its own scale: the breakpoints in steps and in x.
  svg.setAttribute('data-step-domain', (phases ? [xAxis.domain[0], phases.boundary, xAxis.domain[1]] : xAxis.domain).join(' '));
  svg.setAttribute('data-plot-x', (phases ? [M.left, x(phases.boundary), w - M.right] : [M.left, w - M.right]).join(' '));
  const byStep = bisector((s: number) => s).center;
  const nearest = (clientX: number): number => {
    const rect = svg.getBoundingClientRect();
    const sx = ((clientX - rect.left) / rect.width) * w;
    return byStep(steps, x.invert(sx));
  };
  const showCursor = (i: number): void => {
    const step = steps[i] as number;
    sel.setAttribute('visibility', 'visible');
    sel.setAttribute('x1', String(x(step)));
    sel.setAttribute('x2', String(x(step)));
    readout.textContent = ` · step ${step}: ${spec.series.map((s) => `${s.name} ${s.values[i] === null || s.values[i] === undefined ? '—' : (spec.format ?? ((v: number) => fmtNum(v, 3)))(s.values[i] as number)}`).join(', ')}`;
  };
  svg.addEventListener('mousemove', (e) => showCursor(nearest(e.clientX)));
  svg.addEventListener('mouseleave', () => { sel.setAttribute('visibility', 'hidden'); readout.textContent = ''; });

  // Keyboard: arrows move the cursor a step (PageUp/PageDown ten), Home/End to the ends, Enter picks.
  // A click moves it too, so the keys fine-tune a click on a dense chart.
  let cursor = spec.selectedStep === null ? -1 : byStep(steps, spec.selectedStep);
  svg.addEventListener('click', (e) => {
    cursor = nearest(e.clientX);
    spec.onPick(steps[cursor] as number);
  });
  svg.addEventListener('keydown', (e) => {
    const last = steps.length - 1;
    const moves: Record<string, number> = { ArrowRight: 1, ArrowLeft: -1, PageDown: 10, PageUp: -10 };
    if (e.key in moves) cursor = Math.min(last, Math.max(0, (cursor < 0 ? 0 : cursor) + (moves[e.key] as number)));
    else if (e.key === 'Home') cursor = 0;
    else if (e.key === 'End') cursor = last;
    else if ((e.key === 'Enter' || e.key === ' ') && cursor >= 0) { e.preventDefault(); spec.onPick(steps[cursor] as number); return; }
    else return;
    e.preventDefault();
    e.stopPropagation(); // j/k and the like belong to the chart while it has focus
    showCursor(cursor);
  });
  svg.addEventListener('blur', () => { sel.setAttribute('visibility', 'hidden'); readout.textContent = ''; });
  if (spec.series.length > 1) {
    const legend = h('div', { class: 'legend' });
    for (const s of spec.series) legend.appendChild(h('span', { class: `key ${s.cls}` }, s.name));
    fig.appendChild(legend);
  }
  return { element: fig, setPicked };
}

// --- per-step scatter on canvas ----------------------------------------------------------------

export interface ScatterPoint {
  x: number | null;
  y: number | null;
  /** a theme CSS variable name for the colour */
  colorVar: string;
  label: string;
  payload: { groupId: number; trajectoryKey: number };
}

export function scatter(points: ScatterPoint[], width: number, height: number, xLabel: string, yLabel: string, onPick: (p: ScatterPoint) => void): HTMLElement {
  const fig = h('figure', { class: 'chart scatter', 'data-testid': 'scatter' });
  const readout = h('span', { class: 'readout muted', 'data-testid': 'scatter-readout' });
  fig.appendChild(h('figcaption', {}, `${yLabel} against ${xLabel}`, readout));
  const usable = points.filter((p) => p.x !== null && p.y !== null && Number.isFinite(p.x) && Number.isFinite(p.y));
  const missing = points.length - usable.length;
  const w = Math.max(160, width);
  const holder = h('div', { class: 'scatter-holder' });
  const svg = svgEl('svg', { width: w, height, viewBox: `0 0 ${w} ${height}`, class: 'scatter-axes' });
  const canvas = h('canvas', { width: w * devicePixelRatio, height: height * devicePixelRatio, 'data-testid': 'scatter-canvas', 'aria-label': `${usable.length} trajectories` });
  canvas.width = Math.round(w * devicePixelRatio);
  canvas.height = Math.round(height * devicePixelRatio);
  // Sizing through the CSSOM, not a style attribute (the CSP blocks those).
  canvas.style.width = `${w}px`;
  canvas.style.height = `${height}px`;
  holder.append(svg, canvas);
  fig.appendChild(holder);
  const xs = usable.map((p) => p.x as number);
  const ys = usable.map((p) => p.y as number);
  const [x0, x1] = xs.length ? (extent(xs) as [number, number]) : [0, 1];
  const [y0, y1] = ys.length ? (extent(ys) as [number, number]) : [0, 1];
  const x = scaleLinear().domain([Math.min(0, x0), x1 === x0 ? x0 + 1 : x1]).nice().range([M.left, w - M.right]);
  const y = scaleLinear().domain([Math.min(0, y0), y1 === y0 ? y0 + 1 : y1]).nice().range([height - M.bottom - 12, M.top]);
  const gx = svgEl('g', { class: 'axis', transform: `translate(0,${height - M.bottom - 12})` });
  const gy = svgEl('g', { class: 'axis', transform: `translate(${M.left},0)` });
  svg.append(gx, gy);
  select(gx).call(axisBottom(x).ticks(5));
  select(gy).call(axisLeft(y).ticks(4));
  const xl = svgEl('text', { x: w - M.right, y: height - 2, 'text-anchor': 'end', class: 'axis-label' });
  xl.textContent = xLabel;
  svg.appendChild(xl);
  const ctx = canvas.getContext('2d');
  if (ctx) {
    ctx.scale(devicePixelRatio, devicePixelRatio);
    const css = getComputedStyle(document.body);
    const colours = new Map<string, string>();
    for (const p of usable) {
      let c = colours.get(p.colorVar);
      if (c === undefined) { c = css.getPropertyValue(p.colorVar).trim() || css.color; colours.set(p.colorVar, c); }
      ctx.fillStyle = c;
      ctx.globalAlpha = 0.8;
      ctx.beginPath();
      ctx.arc(x(p.x as number), y(p.y as number), 3, 0, Math.PI * 2);
      ctx.fill();
    }
  }
  const hit = (e: MouseEvent): ScatterPoint | null => {
    const rect = canvas.getBoundingClientRect();
    const mx = ((e.clientX - rect.left) / rect.width) * w;
    const my = ((e.clientY - rect.top) / rect.height) * height;
    let best: ScatterPoint | null = null;
    let bd = 36; // within 6 px
    for (const p of usable) {
      const dx = x(p.x as number) - mx;
      const dy = y(p.y as number) - my;
      const d = dx * dx + dy * dy;
      if (d < bd) { bd = d; best = p; }
    }
    return best;
  };
  canvas.addEventListener('mousemove', (e) => {
    const p = hit(e);
    canvas.classList.toggle('pointing', p !== null);
    readout.textContent = p ? ` · ${p.label}` : '';
  });
  canvas.addEventListener('click', (e) => { const p = hit(e); if (p) onPick(p); });
  if (missing) fig.appendChild(h('p', { class: 'muted small' }, `${missing} trajectories without D or H_last are not plotted.`));
  return fig;
}

// --- histogram -----------------------------------------------------------------------------------

export function histogram(values: number[], width: number, height: number, title: string): HTMLElement {
  const fig = h('figure', { class: 'chart', 'data-testid': 'histogram' });
  fig.appendChild(h('figcaption', {}, title));
  const data = values.filter((v) => Number.isFinite(v));
  if (!data.length) {
    fig.appendChild(h('p', { class: 'chart-empty muted' }, 'No R_total logged at this step.'));
    return fig;
  }
  const w = Math.max(160, width);
  const [lo, hi] = extent(data) as [number, number];
  const x = scaleLinear().domain(lo === hi ? [lo - 0.5, hi + 0.5] : [lo, hi]).nice().range([M.left, w - M.right]);
  const bins = bin().domain(x.domain() as [number, number]).thresholds(x.ticks(20))(data);
  const y = scaleLinear().domain([0, max(bins, (b) => b.length) ?? 1]).nice().range([height - M.bottom, M.top]);
  const svg = svgEl('svg', { width: w, height, viewBox: `0 0 ${w} ${height}`, role: 'img', 'aria-label': title });
  const gx = svgEl('g', { class: 'axis', transform: `translate(0,${height - M.bottom})` });
  const gy = svgEl('g', { class: 'axis', transform: `translate(${M.left},0)` });
  svg.append(gx, gy);
  select(gx).call(axisBottom(x).ticks(6));
  select(gy).call(axisLeft(y).ticks(4));
  for (const b of bins) {
    const x0 = x(b.x0 as number);
    const x1 = x(b.x1 as number);
    const r = svgEl('rect', { class: 'bar', x: x0 + 0.5, y: y(b.length), width: Math.max(0, x1 - x0 - 1), height: y(0) - y(b.length), 'data-count': b.length });
    const t = svgEl('title');
    t.textContent = `${fmtNum(b.x0 as number, 2)} – ${fmtNum(b.x1 as number, 2)}: ${b.length}`;
    r.appendChild(t);
    svg.appendChild(r);
  }
  fig.appendChild(svg);
  return fig;
}

// Axis domains and tick labels for the dashboard curves. Pure (d3-scale/d3-array only), so the
// rules below are unit-tested without a browser. They exist because d3's defaults, given a flat or
// bounded series, draw nonsense: fractional training steps, 120% accuracy, negative failure
// ratios, and integer labels repeated six times ("22 22 22 21 21 21").
import { scaleLinear } from 'd3-scale';
import { tickStep } from 'd3-array';
import { fmtNum } from '../../src/core/format';

/**
 * ratio: a fraction in [0, 1], labelled as a percentage (accuracy, failed-response ratio).
 * integer: a count, labelled without decimals (response length).
 * real: anything else (entropy, R_OGER, advantage).
 */
export type AxisKind = 'ratio' | 'integer' | 'real';

export interface ValueAxisOptions {
  kind: AxisKind;
  /** the quantity cannot be negative (entropy, R_OGER, lengths): the domain never goes below 0 */
  nonNegative?: boolean;
  /** the domain always contains 0 (advantages, whose sign is the point) */
  includeZero?: boolean;
  /** the most ticks the axis has room for */
  maxTicks: number;
}

export interface Axis {
  domain: [number, number];
  ticks: number[];
  format: (v: number) => string;
}

/** Ticks that fit a plot of this many pixels with labels ~28 px apart (at least 2). */
export function tickCountFor(pixels: number, spacing = 28): number {
  return Math.max(2, Math.floor(pixels / spacing));
}

/** Decimal digits that tell ticks `step` apart (steps from d3 are 1, 2 or 5 × 10^k). */
export function digitsForStep(step: number): number {
  if (!Number.isFinite(step) || step <= 0) return 0;
  return Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
}

/**
 * The step axis: training steps are integers, so are its ticks. One step gets [s, s + 1] so the
 * point has an axis to sit on.
 */
export function stepAxis(s0: number, s1: number, maxTicks: number): Axis {
  const lo = Math.floor(Math.min(s0, s1));
  const hi = Math.max(Math.ceil(Math.max(s0, s1)), lo + 1);
  const ticks = scaleLinear().domain([lo, hi]).ticks(Math.max(2, maxTicks)).filter(Number.isInteger);
  return { domain: [lo, hi], ticks, format: (v) => String(v) };
}

/**
 * The value axis of a curve. A flat series is widened to a minimum span (10% of its magnitude, at
 * least 0.1 of a ratio, 2 units of a count, 1 of a real at zero) and then clamped to the
 * quantity's valid range, so it never shows −20% or 120%, and its labels never repeat.
 */
export function valueAxis(values: readonly number[], opts: ValueAxisOptions): Axis {
  const finite = values.filter((v) => Number.isFinite(v));
  const count = Math.max(2, opts.maxTicks);
  let lo = finite.length ? Math.min(...finite) : 0;
  let hi = finite.length ? Math.max(...finite) : 0;
  if (opts.includeZero) { lo = Math.min(lo, 0); hi = Math.max(hi, 0); }
  const floor = opts.kind === 'ratio' || opts.nonNegative ? 0 : -Infinity;
  const ceil = opts.kind === 'ratio' ? 1 : Infinity;
  lo = Math.max(lo, floor);
  hi = Math.min(hi, ceil);
  if (hi < lo) hi = lo;
  const magnitude = Math.max(Math.abs(lo), Math.abs(hi));
  const minSpan = opts.kind === 'ratio' ? 0.1 : opts.kind === 'integer' ? Math.max(2, magnitude * 0.1) : magnitude > 0 ? magnitude * 0.1 : 1;
  if (hi - lo < minSpan) {
    const mid = (lo + hi) / 2;
    lo = mid - minSpan / 2;
    hi = mid + minSpan / 2;
    // Slide the window back inside the valid range instead of cutting it, so the span is kept.
    if (lo < floor) { hi += floor - lo; lo = floor; }
    if (hi > ceil) { lo -= hi - ceil; hi = ceil; }
    lo = Math.max(lo, floor);
  }
  const scale = scaleLinear().domain([lo, hi]).nice(count);
  let [d0, d1] = scale.domain() as [number, number];
  // nice() may round past the valid range (0.97 → 1.2 for a ratio): clamp again.
  d0 = Math.max(d0, floor);
  d1 = Math.min(d1, ceil);
  const clamped = scaleLinear().domain([d0, d1]);
  // d3 treats the count as a hint and may return nearly twice as many: ask for fewer until they fit.
  let ticks = clamped.ticks(count);
  for (let c = count - 1; c >= 1 && ticks.length > count + 1; c--) ticks = clamped.ticks(c);
  if (opts.kind === 'integer') {
    ticks = ticks.filter(Number.isInteger);
    if (ticks.length < 2) ticks = [Math.ceil(d0), Math.floor(d1)].filter((t, i, a) => a.indexOf(t) === i);
  }
  const step = ticks.length > 1 ? Math.abs((ticks[1] as number) - (ticks[0] as number)) : tickStep(d0, d1, count);
  const format = axisFormat(opts.kind, step);
  return { domain: [d0, d1], ticks: dedupeByLabel(ticks, format), format };
}

function axisFormat(kind: AxisKind, step: number): (v: number) => string {
  if (kind === 'ratio') {
    const digits = digitsForStep(step * 100);
    return (v) => `${fmtNum(v * 100, digits)}%`;
  }
  if (kind === 'integer') return (v) => fmtNum(v, 0);
  const digits = digitsForStep(step);
  return (v) => fmtNum(v, digits);
}

/** Belt and braces: never two ticks with the same label. */
function dedupeByLabel(ticks: number[], format: (v: number) => string): number[] {
  const seen = new Set<string>();
  return ticks.filter((t) => {
    const label = format(t);
    if (seen.has(label)) return false;
    seen.add(label);
    return true;
  });
}

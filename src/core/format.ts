// The one number formatter: every number a person reads (webview badges and charts, the Runs
// tree, tooltips, the inline view, the status bar) goes through these, so one value reads the
// same everywhere. Rules: an em dash for a missing value, U+2212 for minus, no sign on a value
// that prints as zero, NaN and ∞ spelled out.

/** A number for a badge: em dash for missing, ∞ for infinities, fixed digits otherwise. */
export function fmtNum(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined) return '—';
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '∞';
  if (v === Number.NEGATIVE_INFINITY) return '−∞';
  const s = v.toFixed(digits);
  // -0.000 reads as a sign the value does not have
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s.replace(/^-/, '−');
}

/**
 * Like fmtNum, but a value too small or too large for `digits` fixed digits (a learning rate of
 * 1e-6, a token count of 2e6) is written in exponent form instead of as 0.000 or a long integer.
 */
export function fmtCompact(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return fmtNum(v, digits);
  const a = Math.abs(v);
  if (a !== 0 && (a < 10 ** -digits || a >= 1e5)) return v.toExponential(2).replace(/^-/, '−');
  return fmtNum(v, digits);
}

/** Like fmtNum but always with a sign, for advantages and deltas. */
export function fmtSigned(v: number | null | undefined, digits = 3): string {
  const s = fmtNum(v, digits);
  if (v === null || v === undefined || Number.isNaN(v) || s.startsWith('−') || /^0\.?0*$/.test(s)) return s;
  return `+${s}`;
}

export function fmtPercent(v: number | null | undefined, digits = 0): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return `${fmtNum(v * 100, digits)}%`;
}

/** -1, 0 or 1; values within 1e-12 of zero count as zero (advantages of a zero-std group). */
export function signOf(v: number | null | undefined): -1 | 0 | 1 {
  if (v === null || v === undefined || !Number.isFinite(v) || Math.abs(v) < 1e-12) return 0;
  return v > 0 ? 1 : -1;
}

/** Human size of a character count: 980, 12.3K, 1.5M. */
export function fmtCount(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}K`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

/**
 * Whether a re-scored value reads differently from the one before at display precision: a what-if
 * arrow for "+0.354 → +0.354" is noise. `fmt` is the formatter the badge uses.
 */
export function changedAtDisplay(before: number | null | undefined, after: number | null | undefined, fmt: (v: number | null | undefined) => string = fmtNum): boolean {
  return fmt(before ?? null) !== fmt(after ?? null);
}

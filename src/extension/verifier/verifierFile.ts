// Locating the workspace verifier and its `verify` function. No vscode import: unit-testable.
import { oneLine as flatten } from '../../core/formatText';

/** The 0-based line of `def verify(` (top level), or of the first `def` when there is none. */
export function verifyFunctionLine(source: string): { line: number; start: number; end: number } | null {
  const lines = source.split(/\r?\n/);
  let fallback: { line: number; start: number; end: number } | null = null;
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i] as string;
    const m = /^(async\s+)?def\s+(verify)\s*\(/.exec(text);
    if (m) {
      const start = text.indexOf('verify');
      return { line: i, start, end: start + 'verify'.length };
    }
    if (!fallback && /^def\s+\w+\s*\(/.test(text)) fallback = { line: i, start: 0, end: text.length };
  }
  return fallback;
}

/** Shortens untrusted text for a one-line message (Problems panel, CodeLens). */
export function oneLine(text: string | null | undefined, max = 80): string {
  if (text === null || text === undefined) return '(none)';
  return flatten(text, max) || '(empty)';
}

/** "1 relabel disagrees", "2 relabels disagree", "0 relabels disagree". */
export function disagreeCountText(n: number): string {
  return n === 1 ? '1 relabel disagrees' : `${n} relabels disagree`;
}

/**
 * The CodeLens title for the regression set, from the same state the diagnostics are published
 * from. While a re-run is under way the last published count stays, marked as re-running.
 */
export function disagreeLensTitle(state: { running: boolean; error: string | null; report: { disagreements: readonly unknown[] } | null }): string {
  if (state.error) return 'relabels: run failed (see output)';
  if (!state.report) return state.running ? 'running relabels…' : disagreeCountText(0);
  const text = disagreeCountText(state.report.disagreements.length);
  return state.running ? `${text} (re-running…)` : text;
}

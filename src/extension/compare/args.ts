// What "Compare Runs…" is asked to compare, from wherever it was run: the palette (nothing), the
// Runs tree's context menu (the clicked node and the whole selection), or code (run ids). The
// arguments are untrusted and parsed here once. No vscode import: unit-tested.
import { MAX_COMPARE_RUNS, MIN_COMPARE_RUNS } from '../../core/compare';

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A run id from a Runs-tree run node or a string; undefined for anything else (steps, groups, junk). */
function runIdOf(x: unknown): string | undefined {
  if (typeof x === 'string') return x.length > 0 && x.length <= 256 ? x : undefined;
  if (isRecord(x) && x.kind === 'run' && isRecord(x.run) && typeof x.run.runId === 'string') return x.run.runId;
  return undefined;
}

/**
 * The runs named by a command's arguments, in order, without repeats. A tree menu passes the
 * clicked node and then the selection (which holds the clicked node when it is selected, and not
 * when the user right-clicked outside the selection: then only the clicked node counts, as in VS
 * Code's own explorer).
 */
export function compareRunIdsArg(clicked: unknown, selection?: unknown): string[] {
  const out: string[] = [];
  const add = (x: unknown) => {
    const id = runIdOf(x);
    if (id !== undefined && !out.includes(id)) out.push(id);
  };
  if (Array.isArray(clicked)) {
    for (const x of clicked) add(x);
    return out;
  }
  const clickedId = runIdOf(clicked);
  if (Array.isArray(selection) && (clickedId === undefined || selection.some((x) => runIdOf(x) === clickedId))) {
    for (const x of selection) add(x);
    return out;
  }
  add(clicked);
  return out;
}

/** Why a selection of `count` runs cannot be compared, or null when it can. */
export function selectionProblem(count: number): string | null {
  if (count < MIN_COMPARE_RUNS) return `Pick at least ${MIN_COMPARE_RUNS} runs to compare (${count} picked).`;
  if (count > MAX_COMPARE_RUNS) return `Compare Runs shows at most ${MAX_COMPARE_RUNS} runs side by side; ${count} are picked. Unpick ${count - MAX_COMPARE_RUNS}.`;
  return null;
}

/**
 * The compared runs in one order however they were picked: by run_start time, oldest first (a
 * study's baseline, trained first, is the first column), then by id.
 */
export function compareOrder(runIds: readonly string[], runs: ReadonlyArray<{ runId: string; startedAt: string | null }>): string[] {
  const started = new Map(runs.map((r) => [r.runId, r.startedAt ?? '']));
  return [...runIds].sort((a, b) => (started.get(a) ?? '').localeCompare(started.get(b) ?? '') || (a < b ? -1 : a > b ? 1 : 0));
}

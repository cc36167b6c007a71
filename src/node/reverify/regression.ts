// The regression set: every relabel (correct/wrong, with its note) is a test case for the verifier.
// The runner keeps one Python process (and its worker pool) alive between saves, and only tells it
// to reload the verifier file, so re-running 1,000 cases costs the verification itself, not an
// interpreter start-up and a Math-Verify import each time.
import type { GroupDetail, LabelRecord, RunStoreApi, StoredTrajectory } from '../store/types';
import { VerifyProcess, type VerifyResult } from './verifyProcess';

export interface RegressionCase {
  /** the store's trajectory row id */
  trajectoryKey: number;
  trajectoryId: string;
  runId: string;
  step: number;
  groupId: number;
  response: string;
  gold: string;
  label: 'correct' | 'wrong';
  note: string | null;
  labelId: number;
}

export interface RegressionOutcome {
  case: RegressionCase;
  result: VerifyResult;
  /** the verifier's verdict differs from the label (an error always disagrees) */
  disagrees: boolean;
}

export interface RegressionReport {
  verifierId: string;
  total: number;
  disagreements: RegressionOutcome[];
  errors: number;
  durationMs: number;
}

/** The current correct/wrong label of each trajectory: the newest one, unless a later label superseded it. */
export function currentLabels(labels: readonly LabelRecord[]): LabelRecord[] {
  const superseded = new Set<number>();
  for (const l of labels) if (l.supersedes !== null) superseded.add(l.supersedes);
  const latest = new Map<number, LabelRecord>();
  for (const l of labels) {
    if (l.label === 'note' || superseded.has(l.id)) continue;
    const prev = latest.get(l.trajectoryKey);
    if (!prev || l.id > prev.id) latest.set(l.trajectoryKey, l);
  }
  // A "hack" label means "do not trust the verdict", not correct/wrong: it is no regression case.
  return [...latest.values()].filter((l) => l.label === 'correct' || l.label === 'wrong').sort((a, b) => a.id - b.id);
}

/**
 * The notes a researcher left on each trajectory: free-standing `note` labels (the inspector's n)
 * in the order written, after the correct/wrong label's own note. Exported with the label so the
 * reason for a relabel travels with it.
 */
function notesByTrajectory(labels: readonly LabelRecord[]): Map<number, string[]> {
  const superseded = new Set<number>();
  for (const l of labels) if (l.supersedes !== null) superseded.add(l.supersedes);
  const notes = new Map<number, string[]>();
  for (const l of [...labels].sort((a, b) => a.id - b.id)) {
    if (l.label !== 'note' || superseded.has(l.id) || !l.note?.trim()) continue;
    notes.set(l.trajectoryKey, [...(notes.get(l.trajectoryKey) ?? []), l.note.trim()]);
  }
  return notes;
}

/** Regression cases from the store's label log (of one run, or all runs). */
export async function regressionCases(store: RunStoreApi, runId?: string): Promise<RegressionCase[]> {
  const all = await store.labels(runId);
  const labels = currentLabels(all);
  const notes = notesByTrajectory(all);
  const groups = new Map<number, GroupDetail | null>();
  const cases: RegressionCase[] = [];
  for (const l of labels) {
    const t: StoredTrajectory | null = await store.getTrajectory(l.trajectoryKey);
    if (!t) continue;
    let g = groups.get(t.groupId);
    if (g === undefined) {
      g = await store.getGroup(t.groupId);
      groups.set(t.groupId, g);
    }
    if (!g) continue;
    cases.push({
      trajectoryKey: t.trajectoryKey,
      trajectoryId: t.event.id,
      runId: t.runId,
      step: t.step,
      groupId: t.groupId,
      response: t.event.text,
      gold: g.gold,
      label: l.label as 'correct' | 'wrong',
      note: [...new Set([l.note?.trim(), ...(notes.get(t.trajectoryKey) ?? [])].filter((n): n is string => !!n))].join('\n') || null,
      labelId: l.id,
    });
  }
  return cases;
}

/** JSON Lines for `python -m reward_lens.verify --test FILE` and for label overrides. */
/** The trajectory's own id when it already names its run (the trainer's and verl's do), else run/id. */
export function exportedId(c: Pick<RegressionCase, 'runId' | 'trajectoryId'>): string {
  return c.trajectoryId.startsWith(`${c.runId}/`) ? c.trajectoryId : `${c.runId}/${c.trajectoryId}`;
}

export function exportLabelsJsonl(cases: readonly RegressionCase[]): string {
  return cases
    .map((c) => JSON.stringify({ id: exportedId(c), response: c.response, gold: c.gold, label: c.label, note: c.note, step: c.step, trajectory_key: c.trajectoryKey }))
    .join('\n') + (cases.length ? '\n' : '');
}

export interface RegressionRunnerOptions {
  python: string;
  backendRoot: string;
  workers?: number;
  timeoutS?: number;
  onStderr?: (line: string) => void;
}

export class RegressionRunner {
  private proc: VerifyProcess | null = null;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: RegressionRunnerOptions) {}

  private process(): VerifyProcess {
    if (!this.proc) {
      this.proc = new VerifyProcess({
        python: this.opts.python,
        backendRoot: this.opts.backendRoot,
        workers: this.opts.workers,
        timeoutS: this.opts.timeoutS ?? 5,
        onStderr: this.opts.onStderr,
      });
    }
    return this.proc;
  }

  /** Runs the cases with the verifier file as it is on disk now. Calls are serialised. */
  run(verifierPath: string, cases: readonly RegressionCase[]): Promise<RegressionReport> {
    const next = this.chain.then(() => this.runNow(verifierPath, cases));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async runNow(verifierPath: string, cases: readonly RegressionCase[]): Promise<RegressionReport> {
    const started = Date.now();
    const proc = this.process();
    // Re-loading on every run is what makes a save take effect: workers re-import the file.
    const identity = await proc.setVerifier(verifierPath);
    const results = await proc.verify(cases.map((c, i) => ({ id: String(i), response: c.response, gold: c.gold })));
    const disagreements: RegressionOutcome[] = [];
    let errors = 0;
    results.forEach((result, i) => {
      const c = cases[i] as RegressionCase;
      if (result.correct === null) errors++;
      const expected = c.label === 'correct';
      if (result.correct !== expected) disagreements.push({ case: c, result, disagrees: true });
    });
    return { verifierId: identity.id, total: cases.length, disagreements, errors, durationMs: Date.now() - started };
  }

  async dispose(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (p) await p.dispose();
  }
}

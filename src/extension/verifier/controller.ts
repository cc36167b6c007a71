// The verifier feature's state and decisions, without the vscode API (register.ts wires it to
// diagnostics, the CodeLens and the commands): when the regression set re-runs, which run may
// publish, what the Problems panel and the CodeLens say. Unit-tested against a real store.
//
// The regression set is every correct/wrong relabel. It re-runs when the verifier is saved or
// created, when a label is added (the store host's event: no polling of the label log), and when
// another store is opened. Reading the cases costs two store reads per label, so they are kept
// until a label is added or the store changes, and a save pays for the verification alone.
import type { RunStoreApi } from '../../node/store/types';
import { regressionCases, type RegressionCase, type RegressionReport } from '../../node/reverify/regression';
import { disagreeLensTitle, oneLine, verifyFunctionLine } from './verifierFile';

export interface RegressionState {
  report: RegressionReport | null;
  running: boolean;
  error: string | null;
}

/** One Problems-panel entry: a relabel the verifier disagrees with. */
export interface DisagreementDiagnostic {
  message: string;
  /** a verifier error is a warning (the verdict is unknown), a contradiction an error */
  severity: 'error' | 'warning';
  /** the store row id of the trajectory, for the "open" link and quick fix */
  trajectoryKey: number;
  /** the link text after "open " */
  trajectoryLabel: string;
}

/** Where diagnostics go in the file: the `verify` name, or line 1 when the file cannot be read. */
export interface FileRange {
  line: number;
  start: number;
  end: number;
}

export interface VerifierControllerEnv {
  getStore(): RunStoreApi | undefined;
  /** the workspace verifier file, if any */
  verifierPath(): string | undefined;
  readFile(path: string): Promise<string>;
  /** runs the cases through the verifier at `path` (the Python regression runner in the extension) */
  verify(path: string, cases: RegressionCase[]): Promise<RegressionReport>;
  /** replaces the verifier file's diagnostics; called in the same step as the state it reflects */
  publish(path: string, at: FileRange, diagnostics: DisagreementDiagnostic[]): void;
  /** the state the CodeLens shows changed */
  changed(): void;
  log(line: string): void;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The Problems-panel entries for a report. Every field from the store or the verifier is untrusted text. */
export function disagreementDiagnostics(report: RegressionReport): DisagreementDiagnostic[] {
  return report.disagreements.map((d) => {
    const c = d.case;
    const verdict = d.result.correct === true ? 'correct' : d.result.correct === false ? 'wrong' : 'error';
    const message =
      `Relabel disagrees: trajectory ${oneLine(c.trajectoryId, 60)} (run ${oneLine(c.runId, 40)}, step ${c.step}) is labelled ${c.label}` +
      ` but the verifier says ${verdict}: prediction ${oneLine(d.result.extracted, 60)}, gold ${oneLine(c.gold, 60)}` +
      ` (${oneLine(d.result.reason, 100)})${c.note ? `; note: ${oneLine(c.note, 100)}` : ''}`;
    return { message, severity: d.result.correct === null ? 'warning' : 'error', trajectoryKey: c.trajectoryKey, trajectoryLabel: oneLine(c.trajectoryId, 40) };
  });
}

export class VerifierController {
  readonly state: RegressionState = { report: null, running: false, error: null };
  private cases: { store: RunStoreApi; cases: RegressionCase[] } | null = null;
  private timer: unknown;
  /** runs started so far: only the newest may publish, so a slow older run cannot bring back stale results */
  private runSeq = 0;
  private disposed = false;

  constructor(private readonly env: VerifierControllerEnv) {}

  /** The CodeLens title for the regression set. */
  get lensTitle(): string {
    return disagreeLensTitle(this.state);
  }

  /** A label was added: the cases changed. */
  onLabelAdded(): void {
    this.cases = null;
    this.schedule('labels changed', 0);
  }

  /** Another store was opened (or the store closed): its labels are other cases. */
  onStoreOpened(): void {
    this.cases = null;
    this.schedule('store opened', 0);
  }

  /** Re-runs the set soon; calls within `delayMs` of each other make one run. */
  schedule(reason: string, delayMs = 150): void {
    if (this.disposed) return;
    if (this.timer !== undefined) this.env.clearTimeout(this.timer);
    this.timer = this.env.setTimeout(() => {
      this.timer = undefined;
      void this.run(reason);
    }, delayMs);
  }

  /** Runs the regression set now. Null when there is no store or verifier, or the run failed (state.error says why). */
  async run(reason: string, opts: { freshCases?: boolean } = {}): Promise<RegressionReport | null> {
    const store = this.env.getStore();
    const path = this.env.verifierPath();
    if (!store || !path || this.disposed) return null;
    if (opts.freshCases) this.cases = null;
    const seq = ++this.runSeq;
    this.state.running = true;
    this.env.changed();
    try {
      if (!this.cases || this.cases.store !== store) this.cases = { store, cases: await regressionCases(store) };
      const report = await this.env.verify(path, this.cases.cases);
      this.env.log(`regression (${reason}): ${report.total} relabels, ${report.disagreements.length} disagree, ${report.errors} errors, ${report.durationMs} ms`);
      if (!(await this.publish(path, report, seq))) this.env.log(`regression (${reason}): superseded by a newer run, not shown`);
      return report;
    } catch (e) {
      if (seq === this.runSeq) this.state.error = e instanceof Error ? e.message : String(e);
      this.env.log(`regression failed: ${e instanceof Error ? e.message : String(e)}`);
      return null;
    } finally {
      if (seq === this.runSeq) this.state.running = false;
      this.env.changed();
    }
  }

  /** Diagnostics and the lens state change together, from the same report, in one synchronous step. */
  private async publish(path: string, report: RegressionReport, seq: number): Promise<boolean> {
    let at: FileRange = { line: 0, start: 0, end: 1 };
    try {
      at = verifyFunctionLine(await this.env.readFile(path)) ?? at;
    } catch {
      // the file vanished between the run and now: diagnostics go on line 1
    }
    const list = disagreementDiagnostics(report);
    if (seq !== this.runSeq || this.disposed) return false;
    this.state.report = report;
    this.state.error = null;
    this.env.publish(path, at, list);
    return true;
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer !== undefined) this.env.clearTimeout(this.timer);
    this.timer = undefined;
  }
}

// What the re-verify diff panel does with its webview's messages, without the vscode API (the
// panel owns the WebviewPanel; this owns the decisions), tested like the inspector's and the
// dashboard's controllers. The page renders trajectory text and verifier reasons (untrusted), so
// every message is validated, it may open only the members the diff lists, and it may accept only
// the verdict set it shows; anything else is refused and logged, with the same flood limit.
import { validateDiffMessage, type DiffViewModel, type HostToDiff } from '../../core/diffMessages';
import { describeRefusal } from '../../core/messages';
import { RefusalLog } from '../panels/controllers';

export interface DiffEnv {
  /** posts to the webview; resolves false when the webview is gone */
  post(message: HostToDiff): PromiseLike<boolean> | boolean;
  log(line: string): void;
  /** monotonic milliseconds */
  now(): number;
  openTrajectory(trajectoryKey: number): Promise<void>;
  accept(runId: string, verifierId: string): Promise<void>;
  browseSets(runId: string): Promise<void>;
  /** an error the user must see (a failed open or browse); accept failures go to the page */
  showError(message: string): void;
  setTitle(title: string): void;
}

/** Every member the diff lists: flip examples, error examples and sign-flip examples. */
export function listedTrajectoryKeys(model: DiffViewModel): Set<number> {
  const keys = new Set<number>();
  const d = model.diff;
  for (const list of Object.values(d.examples)) for (const e of list) keys.add(e.trajectoryKey);
  for (const e of d.errors.examples) keys.add(e.trajectoryKey);
  for (const e of d.signFlipExamples) keys.add(e.trajectoryKey);
  return keys;
}

export class DiffController {
  private readonly refusals: RefusalLog;
  private openable: Set<number>;

  constructor(private readonly env: DiffEnv, private model: DiffViewModel) {
    this.refusals = new RefusalLog((l) => env.log(l), () => env.now());
    this.openable = listedTrajectoryKeys(model);
  }

  get current(): DiffViewModel {
    return this.model;
  }

  /** Shows another diff in the live page (the panel is reused). */
  async show(model: DiffViewModel): Promise<void> {
    this.model = model;
    this.openable = listedTrajectoryKeys(model);
    this.env.setTitle(`Re-verify: ${model.runId}`);
    await this.env.post({ type: 'diff', model });
  }

  private refuse(reason: string): void {
    this.refusals.write(describeRefusal('diff', reason));
  }

  /** Handles one raw webview message. Returns false when it was refused or failed. */
  async handle(raw: unknown): Promise<boolean> {
    const checked = validateDiffMessage(raw);
    if (!checked.ok) {
      this.refuse(checked.reason);
      return false;
    }
    const m = checked.message;
    try {
      switch (m.type) {
        case 'ready':
          // A page VS Code reloads asks again.
          await this.env.post({ type: 'diff', model: this.model });
          return true;
        case 'openTrajectory':
          if (!this.openable.has(m.trajectoryKey)) {
            this.refuse(`openTrajectory names trajectory ${m.trajectoryKey}, which this diff does not list`);
            return false;
          }
          await this.env.openTrajectory(m.trajectoryKey);
          return true;
        case 'accept':
          if (m.verifierId !== this.model.verifier.id) {
            this.refuse(`accept names verdict set ${m.verifierId.slice(0, 12)}, but this diff shows ${this.model.verifier.id.slice(0, 12)}`);
            await this.env.post({ type: 'acceptFailed', message: 'this diff is not the latest one: re-open it' });
            return false;
          }
          await this.env.accept(this.model.runId, m.verifierId);
          this.model = { ...this.model, activeVerifierId: m.verifierId };
          await this.env.post({ type: 'accepted', verifierId: m.verifierId });
          return true;
        case 'browseSets':
          await this.env.browseSets(this.model.runId);
          return true;
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.env.log(`[diff] ${m.type} failed: ${message}`);
      if (m.type === 'accept') await this.env.post({ type: 'acceptFailed', message });
      else this.env.showError(message);
      return false;
    }
  }
}

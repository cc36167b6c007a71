// Every command id of the extension, and the one place they are registered. Each feature's
// activate function returns its commands as `{ id, execute }`; activate() hands them all to
// registerCommands, which wraps each in the same error report (Output channel + a notification
// with "Show Output") and checks that every id here is registered exactly once.
// No vscode import: test/unit/commands.test.ts holds these ids against package.json.
// How to add a command: src/extension/README.md.
import type { IDisposable } from './lifecycle';

export const COMMANDS = {
  startTraining: 'rewardLens.startTraining',
  stopRun: 'rewardLens.stopRun',
  openStore: 'rewardLens.openStore',
  importRollouts: 'rewardLens.importRollouts',
  watchRunDirectory: 'rewardLens.watchRunDirectory',
  findTrajectories: 'rewardLens.findTrajectories',
  openDashboard: 'rewardLens.openDashboard',
  exportLabels: 'rewardLens.exportLabels',
  setupBackend: 'rewardLens.setupBackend',
  openTrajectoryDocument: 'rewardLens.openTrajectoryDocument',
  refreshRuns: 'rewardLens.refreshRuns',
  showLog: 'rewardLens.showLog',
  openGroup: 'rewardLens.openGroup',
  showMoreSteps: 'rewardLens.showMoreSteps',
  createVerifier: 'rewardLens.createVerifier',
  reverifyRun: 'rewardLens.reverifyRun',
  runVerifierRegression: 'rewardLens.runVerifierRegression',
  selectVerdictSet: 'rewardLens.selectVerdictSet',
  auditDivergences: 'rewardLens.auditDivergences',
  encoderWhatIf: 'rewardLens.encoderWhatIf',
  compareRuns: 'rewardLens.compareRuns',
  whatIfOverRun: 'rewardLens.whatIfOverRun',
  trajectoriesTable: 'rewardLens.trajectoriesTable',
  /** internal: a verifier diagnostic's link and quick fix open the trajectory it names */
  verifierOpenTrajectory: 'rewardLens.verifier.openTrajectory',
} as const;

export type CommandId = (typeof COMMANDS)[keyof typeof COMMANDS];

/** Registered but not contributed in package.json: reached from links and code actions only. */
export const INTERNAL_COMMANDS: ReadonlySet<CommandId> = new Set<CommandId>([COMMANDS.verifierOpenTrajectory]);

export interface Command {
  readonly id: CommandId;
  /** Arguments come from menus, links and other extensions: untrusted, parsed where they arrive. */
  execute(...args: unknown[]): unknown;
}

export interface CommandHost {
  registerCommand(id: string, handler: (...args: unknown[]) => Promise<void>): IDisposable;
  /** Reports a command that threw: logged in full, shown briefly. */
  reportError(id: CommandId, error: unknown): Promise<void> | void;
  /** A registration problem (a duplicate, a missing id): a programming error, logged loudly. */
  log(line: string): void;
}

/**
 * Registers every command through one wrapper: a command that throws (or rejects) is reported the
 * same way wherever it lives, and never surfaces as VS Code's bare "command resulted in an error".
 */
export function registerCommands(commands: readonly Command[], host: CommandHost): IDisposable[] {
  const seen = new Set<string>();
  const out: IDisposable[] = [];
  for (const c of commands) {
    if (seen.has(c.id)) {
      host.log(`[commands] ${c.id} is registered twice; the second registration is ignored`);
      continue;
    }
    seen.add(c.id);
    out.push(
      host.registerCommand(c.id, async (...args: unknown[]) => {
        try {
          await c.execute(...args);
        } catch (e) {
          await host.reportError(c.id, e);
        }
      }),
    );
  }
  const missing = Object.values(COMMANDS).filter((id) => !seen.has(id));
  if (missing.length) host.log(`[commands] not registered: ${missing.join(', ')}`);
  return out;
}

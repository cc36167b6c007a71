// What the Training view says about this window's trainer. Pure (no vscode import) so the
// life-cycle → row mapping is unit-tested; trainingView.ts turns the spec into a TreeItem.
import type { ExitOutcome } from '../../node/supervisor';

export type FinalStatus = 'completed' | 'stopped' | 'failed';
export type TrainerPhase = 'starting' | 'running' | 'stopping' | FinalStatus;

/** How a trainer's exit reads as a run status (the same words run_end uses). */
export function finalStatusOfExit(outcome: ExitOutcome): FinalStatus {
  switch (outcome) {
    case 'completed':
      return 'completed';
    case 'stopped':
    case 'killed':
      return 'stopped';
    default:
      return 'failed';
  }
}

/**
 * The phase to show. A run_end in the event log ends the run even while the trainer process is
 * still writing its checkpoint; the exit decides when no run_end was read (a crash, a kill).
 */
export function trainerPhase(live: { state: 'starting' | 'running' | 'stopping'; ended?: FinalStatus } | undefined, exited: FinalStatus | undefined): TrainerPhase | null {
  if (live) return live.ended ?? live.state;
  return exited ?? null;
}

export interface TrainerRowSpec {
  label: string;
  description: string;
  icon: string;
  color: string | undefined;
  /** `trainer` carries the inline Stop button; a finished trainer has nothing to stop */
  contextValue: 'trainer' | 'trainer.stopping' | 'trainer.finished';
  finished: boolean;
}

const FINISHED: Record<FinalStatus, { icon: string; color: string | undefined }> = {
  completed: { icon: 'pass', color: 'testing.iconPassed' },
  stopped: { icon: 'debug-stop', color: 'charts.yellow' },
  failed: { icon: 'error', color: 'testing.iconFailed' },
};

export function trainerRow(runId: string | undefined, phase: TrainerPhase, lastStep: number | null): TrainerRowSpec {
  const step = lastStep !== null ? ` · step ${lastStep}` : '';
  const name = runId ?? 'the trainer';
  switch (phase) {
    case 'starting':
      return { label: runId ? `Training ${runId}` : 'Trainer starting', description: `starting${step}`, icon: 'loading~spin', color: 'charts.blue', contextValue: 'trainer', finished: false };
    case 'running':
      return { label: `Training ${name}`, description: `running${step}`, icon: 'pulse', color: 'charts.blue', contextValue: 'trainer', finished: false };
    case 'stopping':
      return { label: `Stopping ${name}`, description: `stopping${step}`, icon: 'loading~spin', color: 'charts.blue', contextValue: 'trainer.stopping', finished: false };
    default: {
      const look = FINISHED[phase];
      return { label: runId ? `Run ${runId}` : 'Trainer exited', description: `${phase}${step}`, icon: look.icon, color: look.color, contextValue: 'trainer.finished', finished: true };
    }
  }
}

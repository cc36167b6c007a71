export { Supervisor, formatBytes } from './supervisor';
export type { SuperviseOptions, SupervisorIssue, SupervisorExit, ExitOutcome, StreamName } from './supervisor';
export { diagnoseExit, lastMeaningfulLine } from './diagnose';
export { closeRunIfOpen, readRunId, hasRunEnd } from './runEnd';
export { LineSplitter } from './lineSplitter';

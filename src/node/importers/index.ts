export { importVerl, parseVerlStep, verlStepFiles, VERL_SETTINGS, type ImportOptions } from './verl';
export { importTrl, trlRows, trlStepFiles, TRL_SETTINGS } from './trl';
export type { ImportSummary } from './common';

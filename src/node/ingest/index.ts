export { ingestFile, type IngestOptions, type IngestProgress, type IngestSummary } from './ingest';
export { IngestTailer, type TailerOptions } from './tailer';
export { parseLine, MAX_LINE_BYTES } from './lines';

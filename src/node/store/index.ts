// The store's public surface: the API types, the store class, and the codec helpers callers need
// (text hashes for the embeddings cache).
export * from './types';
export { RunStore, BUSY_TIMEOUT_MS, SEARCH_RANK_LIMIT, SEARCH_SCAN_LIMIT, cutSnippet } from './store';
export { StoreVersionError, SCHEMA_VERSION } from './schema';
export { textHash, sha256Hex } from './codec';
export type { IngestBatch, IngestLine, MalformedInput, BatchResult } from './writer';

// Resumable ingest of one events.jsonl. The store remembers, per file, the byte offset after the
// last complete line it has consumed; that offset is committed in the same transaction as the rows
// of the lines before it, so killing the process at any moment neither loses nor duplicates data.
// A partial last line (no newline yet) is left for the next pass.
import { open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { RunStore } from '../store/store';
import type { MalformedLine, StoreChange } from '../store/types';
import { prepareGroup, type IngestLine, type MalformedInput } from '../store/writer';
import { excerptOf, MAX_LINE_BYTES, parseLine } from './lines';

export interface IngestOptions {
  signal?: AbortSignal;
  onProgress?: (p: IngestProgress) => void;
  /** commit after this many bytes of lines (default 8 MiB) */
  batchBytes?: number;
  /** commit after this many lines (default 2000) */
  batchLines?: number;
  /** refuse lines longer than this (default MAX_LINE_BYTES) */
  maxLineBytes?: number;
  /** the key the offset is stored under (default: the absolute path) */
  fileKey?: string;
}

export interface IngestProgress {
  file: string;
  byteOffset: number;
  fileSize: number;
  events: number;
  trajectories: number;
  malformed: number;
}

export interface IngestSummary {
  file: string;
  /** valid events consumed in this pass (replayed ones included) */
  events: number;
  groups: number;
  trajectories: number;
  /** events already in the store, skipped */
  duplicates: number;
  /** bad lines met in this pass, by line number */
  malformed: MalformedLine[];
  /** bytes consumed in this pass */
  bytes: number;
  startOffset: number;
  endOffset: number;
  /** complete lines consumed so far in the file */
  lines: number;
  /** bytes after the last newline, waiting for the rest of their line */
  pendingBytes: number;
  /** the file shrank below the stored offset (rewritten): it was read again from the start */
  restarted: boolean;
  aborted: boolean;
  changes: StoreChange[];
}

function mergeChanges(into: Map<string, StoreChange>, add: readonly StoreChange[]): void {
  for (const c of add) {
    const prev = into.get(c.runId);
    if (!prev) {
      into.set(c.runId, { ...c, steps: [...c.steps] });
      continue;
    }
    prev.steps = [...new Set([...prev.steps, ...c.steps])].sort((a, b) => a - b);
    prev.runStarted ||= c.runStarted;
    prev.runEnded ||= c.runEnded;
    prev.groups += c.groups;
    prev.trajectories += c.trajectories;
  }
}

const READ_CHUNK = 4 * 1024 * 1024;
/** Parsing yields to the write in flight this often (ms), so SQLite never waits long for its next statement. */
const YIELD_MS = 3;

export async function ingestFile(store: RunStore, path: string, options: IngestOptions = {}): Promise<IngestSummary> {
  const file = options.fileKey ?? resolve(path);
  const batchBytes = options.batchBytes ?? 8 * 1024 * 1024;
  const batchLines = options.batchLines ?? 2000;
  const maxLine = options.maxLineBytes ?? MAX_LINE_BYTES;
  const size = (await stat(path)).size;
  let { byteOffset: offset, line } = await store.ingestOffset(file);
  let restarted = false;
  if (size < offset) {
    // Rewritten or truncated in place: replaying from 0 is safe because every write is idempotent;
    // the old malformed lines described other content and go.
    await store.resetIngest(file);
    offset = 0;
    line = 0;
    restarted = true;
  }
  const summary: IngestSummary = {
    file, events: 0, groups: 0, trajectories: 0, duplicates: 0, malformed: [], bytes: 0, startOffset: offset,
    endOffset: offset, lines: line, pendingBytes: 0, restarted, aborted: false, changes: [],
  };
  const changes = new Map<string, StoreChange>();

  let events: IngestLine[] = [];
  let malformed: MalformedInput[] = [];
  let batchSize = 0;
  /** offset and line count after the last line handed to the batch */
  let consumedOffset = offset;
  let consumedLine = line;
  let inflight: Promise<void> | null = null;

  const flush = async () => {
    if (events.length === 0 && malformed.length === 0) return;
    const batch = { file, events, malformed, endOffset: consumedOffset, endLine: consumedLine };
    events = [];
    malformed = [];
    batchSize = 0;
    // Parse the next batch while this one is written; at most one write in flight keeps memory bounded.
    await settle();
    inflight = store.writeBatch(batch).then((r) => {
      summary.events += r.events;
      summary.groups += r.groups;
      summary.trajectories += r.trajectories;
      summary.duplicates += r.duplicates;
      summary.malformed.push(...r.malformed.map((m) => ({ file, ...m })));
      summary.endOffset = batch.endOffset;
      summary.lines = batch.endLine;
      mergeChanges(changes, r.changes);
      options.onProgress?.({
        file, byteOffset: batch.endOffset, fileSize: size, events: summary.events, trajectories: summary.trajectories,
        malformed: summary.malformed.length,
      });
    }).catch((e: unknown) => {
      // Kept and rethrown at the next await point: a rejected promise left waiting would crash the process.
      failure ??= e instanceof Error ? e : new Error(String(e));
    });
  };
  let failure: Error | null = null;
  const settle = async () => {
    if (inflight) await inflight;
    inflight = null;
    if (failure) throw failure;
  };

  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    let pos = offset; // file position of the next read
    let carry: Buffer[] = []; // bytes of the current, not yet complete, line
    let carryLen = 0;
    let lineStart = offset;
    let oversize = false; // the current line passed maxLine: its bytes are dropped until its newline
    let lastYield = performance.now();
    let oversizeHead: Buffer | null = null;

    const consume = (bytes: Uint8Array | null, lineEnd: number) => {
      line++;
      const lineNo = line;
      if (oversize) {
        malformed.push({
          line: lineNo, byteOffset: lineStart, reason: `line longer than ${maxLine} bytes (${lineEnd - lineStart} bytes)`,
          excerpt: oversizeHead ? excerptOf(oversizeHead) : '',
        });
      } else {
        const r = parseLine(bytes as Uint8Array);
        // A group's texts are compressed here, as it is parsed, while SQLite writes the batch before
        // it on its own thread; the write transaction then only inserts.
        if (r.ok) events.push({ line: lineNo, byteOffset: lineStart, event: r.event, prepared: r.event.type === 'group' ? prepareGroup(r.event) : undefined });
        else malformed.push({ line: lineNo, byteOffset: lineStart, reason: r.reason, excerpt: r.excerpt });
        batchSize += (bytes as Uint8Array).length;
      }
      consumedOffset = lineEnd + 1;
      consumedLine = lineNo;
      lineStart = lineEnd + 1;
      oversize = false;
      oversizeHead = null;
    };

    while (pos < size) {
      if (options.signal?.aborted) {
        summary.aborted = true;
        break;
      }
      const want = Math.min(READ_CHUNK, size - pos);
      const { bytesRead } = await fh.read(buf, 0, want, pos);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      let from = 0;
      while (from < chunk.length) {
        const nl = chunk.indexOf(0x0a, from);
        if (nl < 0) {
          if (!oversize) {
            const piece = Buffer.from(chunk.subarray(from));
            carry.push(piece);
            carryLen += piece.length;
            if (carryLen > maxLine) {
              oversize = true;
              oversizeHead = Buffer.concat(carry).subarray(0, 1024);
              carry = [];
              carryLen = 0;
            }
          }
          break;
        }
        const lineEnd = pos + nl;
        if (oversize || carryLen + (nl - from) > maxLine) {
          if (!oversize) oversizeHead = Buffer.concat([...carry, chunk.subarray(from, Math.min(nl, from + 1024))]).subarray(0, 1024);
          oversize = true;
          consume(null, lineEnd);
        } else if (carryLen > 0) {
          consume(Buffer.concat([...carry, chunk.subarray(from, nl)]), lineEnd);
        } else {
          consume(chunk.subarray(from, nl), lineEnd);
        }
        carry = [];
        carryLen = 0;
        from = nl + 1;
        if (batchSize >= batchBytes || events.length + malformed.length >= batchLines) {
          await flush();
          if (options.signal?.aborted) break;
        } else if (inflight && performance.now() - lastYield > YIELD_MS) {
          // Let the write in flight issue its next statement: SQLite works on the thread pool while
          // this thread parses and compresses, instead of waiting for a whole chunk to be parsed.
          await new Promise<void>((r) => setImmediate(r));
          lastYield = performance.now();
        }
      }
      if (options.signal?.aborted) {
        summary.aborted = true;
        break;
      }
      pos += bytesRead;
    }
    summary.pendingBytes = summary.aborted ? 0 : pos - lineStart;
    await flush();
    await settle();
  } finally {
    // On an early exit, let the write in flight finish before the handle and the caller move on.
    await (inflight as Promise<void> | null);
    await fh.close();
  }
  summary.bytes = summary.endOffset - summary.startOffset;
  summary.malformed.sort((a, b) => a.line - b.line);
  summary.changes = [...changes.values()];
  return summary;
}

// How values are packed into columns: text compressed when that pays, numeric arrays as
// little-endian Float32/Uint32 blobs, hashes as sha256 hex.
import { createHash } from 'node:crypto';
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';

/** Texts shorter than this stay plain: deflate's gain on them is small and reading them is hot. */
export const COMPRESS_MIN_BYTES = 1024;
/** Compressed text is kept only when it saves more than this fraction of the bytes. */
export const COMPRESS_MIN_SAVING = 0.2;
// Level 3: within 1% of the default level 6's size on reasoning-like text, at 10-15% less CPU
// (9.8 MB of fixture text: 129-154 CPU-ms at level 3 against 154-165 at level 6). Compression stays
// synchronous: node's async deflate (one zlib stream per call on the thread pool) doubled ingest CPU
// time per trajectory in bench/ingest.ts (1.5k against 3.1k trajectories per CPU-second).
const LEVEL = 3;
const OPTIONS = { level: LEVEL, strategy: constants.Z_DEFAULT_STRATEGY };

export interface PackedText {
  value: string | Buffer;
  compressed: 0 | 1;
  /** the text as UTF-8 bytes, when they were made for compressing: binding them costs a copy, a string an encode */
  utf8?: Buffer;
}

export function packText(text: string): PackedText {
  if (text.length < COMPRESS_MIN_BYTES / 4) return { value: text, compressed: 0 };
  const raw = Buffer.from(text, 'utf8');
  if (raw.length < COMPRESS_MIN_BYTES) return { value: text, compressed: 0, utf8: raw };
  const z = deflateRawSync(raw, OPTIONS);
  if (z.length > raw.length * (1 - COMPRESS_MIN_SAVING)) return { value: text, compressed: 0, utf8: raw };
  return { value: z, compressed: 1, utf8: raw };
}

export function unpackText(value: unknown, compressed: number): string {
  if (compressed === 1) {
    if (!Buffer.isBuffer(value)) throw new Error('store: compressed text column does not hold a blob');
    return inflateRawSync(value).toString('utf8');
  }
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return String(value ?? '');
}

/**
 * The text a compressed column starts with: the first `bytes` of the stream inflated as far as
 * they go. Its last few characters may be a UTF-8 sequence cut short (U+FFFD): callers use it
 * only well before its end.
 */
export function unpackTextPrefix(value: Buffer, bytes: number): string {
  return inflateRawSync(value.subarray(0, bytes), { finishFlush: constants.Z_SYNC_FLUSH }).toString('utf8');
}

export function float32Blob(values: ArrayLike<number>): Buffer {
  const buf = Buffer.allocUnsafe(values.length * 4);
  for (let i = 0; i < values.length; i++) buf.writeFloatLE(values[i] as number, i * 4);
  return buf;
}

export function float32FromBlob(buf: Buffer): Float32Array {
  const out = new Float32Array(buf.length >>> 2);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

export function uint32Blob(values: ArrayLike<number>): Buffer {
  const buf = Buffer.allocUnsafe(values.length * 4);
  for (let i = 0; i < values.length; i++) buf.writeUInt32LE(values[i] as number, i * 4);
  return buf;
}

export function uint32FromBlob(buf: Buffer): number[] {
  const out = new Array<number>(buf.length >>> 2);
  for (let i = 0; i < out.length; i++) out[i] = buf.readUInt32LE(i * 4);
  return out;
}

/** sha256 hex of a text's UTF-8 bytes: the embeddings cache key. */
export function textHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

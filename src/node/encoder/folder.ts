// An exported encoder folder (model.onnx + tokenizer.json + reward_lens_encoder.json), its settings
// and its fingerprint. The layout and every convention are pinned in docs/encoder.md and shared
// with python/reward_lens/encoder.py; the parity test holds the two languages together.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const STRATEGIES = ['truncate', 'chunk-mean'] as const;
export type Strategy = (typeof STRATEGIES)[number];
export const POOLINGS = ['cls', 'mean'] as const;
export type Pooling = (typeof POOLINGS)[number];

export const CONFIG_FILE = 'reward_lens_encoder.json';
export const REQUIRED_FILES = ['model.onnx', 'tokenizer.json', CONFIG_FILE] as const;
export const EXPORT_COMMAND = 'python -m reward_lens.export_encoder --model MODEL_PATH_OR_ID --out DIR';

/** What reward_lens_encoder.json holds (unknown keys are kept in `raw`). */
export interface FolderConfig {
  pooling: Pooling;
  maxLength: number;
  normalize: boolean;
  strategy: Strategy;
  dim: number | null;
  maxPositionEmbeddings: number | null;
  sourceModelId: string | null;
  /** sha256 of the PyTorch weights the folder was exported from: lets us recognise a run that used them */
  sourceWeightsSha256: string | null;
  raw: Record<string, unknown>;
}

/** The settings that change a vector; they are part of the fingerprint. */
export interface EmbedSettings {
  pooling: Pooling;
  maxLength: number;
  strategy: Strategy;
  normalize: boolean;
}

export class EncoderFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EncoderFolderError';
  }
}

function folderError(dir: string, what: string): EncoderFolderError {
  return new EncoderFolderError(`encoder folder ${dir}: ${what}; create it with: ${EXPORT_COMMAND}`);
}

/** Checks the folder and parses its config. Every error names the file and the command that makes it. */
export async function readEncoderFolder(dir: string): Promise<FolderConfig> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw folderError(dir, 'does not exist');
  for (const name of REQUIRED_FILES) {
    const p = join(dir, name);
    if (!existsSync(p)) throw folderError(dir, `${name} is missing`);
    if (statSync(p).size === 0) throw folderError(dir, `${name} is empty (corrupt)`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(dir, CONFIG_FILE), 'utf8'));
  } catch (e) {
    throw folderError(dir, `${CONFIG_FILE} is corrupt (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw folderError(dir, `${CONFIG_FILE} is corrupt (not a JSON object)`);
  const c = raw as Record<string, unknown>;
  const pooling = c.pooling ?? 'cls';
  const strategy = c.strategy ?? 'truncate';
  const maxLength = c.max_length ?? 512;
  if (!(POOLINGS as readonly unknown[]).includes(pooling)) throw folderError(dir, `${CONFIG_FILE} has pooling ${JSON.stringify(pooling)} (want cls or mean)`);
  if (!(STRATEGIES as readonly unknown[]).includes(strategy)) throw folderError(dir, `${CONFIG_FILE} has strategy ${JSON.stringify(strategy)} (want truncate or chunk-mean)`);
  if (typeof maxLength !== 'number' || !Number.isInteger(maxLength) || maxLength < 3) throw folderError(dir, `${CONFIG_FILE} has max_length ${JSON.stringify(maxLength)} (want an integer >= 3)`);
  const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  return {
    pooling: pooling as Pooling,
    strategy: strategy as Strategy,
    maxLength,
    normalize: c.normalize === undefined ? true : c.normalize === true,
    dim: num(c.dim),
    maxPositionEmbeddings: num(c.max_position_embeddings),
    sourceModelId: str(c.source_model_id),
    sourceWeightsSha256: str(c.source_weights_sha256),
    raw: c,
  };
}

/** Python's json.dumps(sort_keys=True, separators=(",", ":")) for the flat objects used here. */
export function canonicalJson(obj: Record<string, string | number | boolean>): string {
  const keys = Object.keys(obj).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(obj[k])}`).join(',')}}`;
}

export function settingsJson(s: EmbedSettings): string {
  return canonicalJson({ max_length: s.maxLength, normalize: s.normalize, pooling: s.pooling, strategy: s.strategy });
}

/** sha256(weights_digest + "\n" + canonical settings): see docs/encoder.md. */
export function fingerprintOf(weightsDigest: string, s: EmbedSettings): string {
  return createHash('sha256').update(`${weightsDigest}\n${settingsJson(s)}`, 'utf8').digest('hex');
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => h.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** Settings for one use of a folder: explicit choices over the folder's defaults, capped by the model. */
export function effectiveSettings(config: FolderConfig, overrides: Partial<EmbedSettings> = {}): EmbedSettings {
  const wanted = overrides.maxLength ?? config.maxLength;
  const maxLength = config.maxPositionEmbeddings ? Math.min(wanted, config.maxPositionEmbeddings) : wanted;
  if (!Number.isInteger(maxLength) || maxLength < 3) throw new EncoderFolderError(`max_length must be an integer >= 3, got ${maxLength}`);
  const pooling = overrides.pooling ?? config.pooling;
  const strategy = overrides.strategy ?? config.strategy;
  if (!(POOLINGS as readonly string[]).includes(pooling)) throw new EncoderFolderError(`pooling must be cls or mean, got ${pooling}`);
  if (!(STRATEGIES as readonly string[]).includes(strategy)) throw new EncoderFolderError(`strategy must be truncate or chunk-mean, got ${strategy}`);
  return { pooling, strategy, maxLength, normalize: overrides.normalize ?? config.normalize };
}

export function isStrategy(x: unknown): x is Strategy {
  return typeof x === 'string' && (STRATEGIES as readonly string[]).includes(x);
}

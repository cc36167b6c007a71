// The encoder itself: tokenise, window, batch by length, run the ONNX graph, pool, normalise.
// Runs on whatever thread calls it; the extension and the CLI go through the worker (client.ts)
// so a long embedding never blocks their event loop. Conventions: docs/encoder.md.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-node';
import {
  EXPORT_COMMAND,
  EncoderFolderError,
  effectiveSettings,
  fingerprintOf,
  readEncoderFolder,
  sha256File,
  type EmbedSettings,
  type FolderConfig,
} from './folder';

export type Device = 'cpu' | 'cuda';

export interface EncoderOptions extends Partial<EmbedSettings> {
  device?: Device;
  /** intra-op threads for onnxruntime; default: onnxruntime's own choice (all cores) */
  threads?: number;
}

export interface EncoderInfo {
  dir: string;
  settings: EmbedSettings;
  /** sha256(model.onnx digest + settings): the embeddings cache key */
  fingerprint: string;
  /** the fingerprint the PyTorch original has under the same settings (what a trainer logs), if known */
  sourceFingerprint: string | null;
  sourceModelId: string | null;
  dim: number;
  device: Device;
  /** e.g. the CUDA fallback message; shown to the user, never swallowed */
  warnings: string[];
}

export interface EmbedOutput {
  /** n × dim, row-major */
  vectors: Float32Array;
  dim: number;
  truncated: boolean[];
}

/** Batches are sized to about this much work, so a cancel waits at most one such batch. */
export const TARGET_BATCH_MS = 250;
/** Padded tokens per batch at most (see EmbedHooks.maxBatchTokens). */
export const MAX_BATCH_TOKENS = 2048;

export interface EmbedHooks {
  /** the most windows per batch (default 32); fewer when a batch would exceed targetBatchMs */
  batchSize?: number;
  /** time budget per batch in ms (default TARGET_BATCH_MS), measured as the work goes */
  targetBatchMs?: number;
  /**
   * padded tokens per batch at most (default MAX_BATCH_TOKENS): long windows go in small batches,
   * short ones in large. Attention's memory grows with rows x width^2; past a few thousand tokens a
   * batch runs slower per token on CPU (bench/encoder.ts measures it).
   */
  maxBatchTokens?: number;
  /** called after every batch with windows done / total windows */
  onProgress?: (done: number, total: number) => void;
  /** checked between batches; return true to stop (throws EmbedCancelled) */
  shouldStop?: () => boolean;
  /** awaited between batches, e.g. to let a worker read its messages */
  yieldBetweenBatches?: () => Promise<void>;
}

export class EmbedCancelled extends Error {
  constructor() {
    super('embedding cancelled');
    this.name = 'EmbedCancelled';
  }
}

interface Specials {
  cls: number;
  sep: number;
  pad: number;
}

type TokenizerJson = {
  model?: { vocab?: Record<string, number> };
  added_tokens?: { id: number; content: string }[];
  post_processor?: {
    type?: string;
    cls?: [string, number];
    sep?: [string, number];
    single?: { SpecialToken?: { id: string } }[];
    special_tokens?: Record<string, { ids: number[] }>;
  } | null;
  padding?: { pad_id?: number } | null;
};

/** [CLS]/[SEP]/[PAD] ids as the tokenizer defines them: the post-processor first, then the vocabulary. */
export function specialIds(tj: TokenizerJson): Specials {
  const vocab = new Map<string, number>(Object.entries(tj.model?.vocab ?? {}));
  for (const t of tj.added_tokens ?? []) vocab.set(t.content, t.id);
  let cls: number | undefined;
  let sep: number | undefined;
  const pp = tj.post_processor;
  if (pp && (pp.type === 'BertProcessing' || pp.type === 'RobertaProcessing') && pp.cls && pp.sep) {
    cls = pp.cls[1];
    sep = pp.sep[1];
  } else if (pp && pp.type === 'TemplateProcessing') {
    const single = (pp.single ?? []).flatMap((p) => (p.SpecialToken ? [p.SpecialToken.id] : []));
    const first = single[0];
    const last = single[single.length - 1];
    const st = pp.special_tokens ?? {};
    if (single.length >= 2 && first !== undefined && last !== undefined && st[first] && st[last]) {
      cls = st[first].ids[0];
      sep = st[last].ids[0];
    }
  }
  cls ??= vocab.get('[CLS]');
  sep ??= vocab.get('[SEP]');
  if (cls === undefined || sep === undefined) throw new EncoderFolderError('tokenizer.json defines no [CLS]/[SEP] tokens; only BERT-like encoders are supported');
  return { cls, sep, pad: tj.padding?.pad_id ?? vocab.get('[PAD]') ?? 0 };
}

/** Content-token windows (specials not yet added) and whether anything was cut off. */
export function planWindows(ids: readonly number[], maxLength: number, strategy: EmbedSettings['strategy']): { windows: number[][]; truncated: boolean } {
  const body = maxLength - 2;
  if (ids.length === 0) return { windows: [[]], truncated: false };
  if (strategy === 'truncate') return { windows: [ids.slice(0, body)], truncated: ids.length > body };
  const windows: number[][] = [];
  for (let i = 0; i < ids.length; i += body) windows.push(ids.slice(i, i + body));
  return { windows, truncated: false };
}

function cudaFallbackMessage(reason: string): string {
  return (
    `CUDA execution provider unavailable (${reason}); embedding on CPU. onnxruntime-node's CUDA ` +
    'libraries are not installed (the install skips them: ONNXRUNTIME_NODE_INSTALL=skip). To use the GPU, ' +
    'reinstall onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 on a machine with CUDA 12 and cuDNN 9.'
  );
}

export class TextEncoderOnnx {
  private constructor(
    readonly info: EncoderInfo,
    private readonly session: ort.InferenceSession,
    private readonly tokenizer: Tokenizer,
    private readonly specials: Specials,
  ) {}

  static async load(dir: string, options: EncoderOptions = {}): Promise<TextEncoderOnnx> {
    const config: FolderConfig = await readEncoderFolder(dir);
    const settings = effectiveSettings(config, options);
    let tj: TokenizerJson;
    try {
      tj = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8')) as TokenizerJson;
    } catch (e) {
      throw new EncoderFolderError(`encoder folder ${dir}: tokenizer.json is corrupt (${(e as Error).message}); create it with: ${EXPORT_COMMAND}`);
    }
    let tokenizer: Tokenizer;
    try {
      // The tokenizer's own truncation/padding would change the windows: both are ours to decide.
      tokenizer = new Tokenizer({ ...tj, truncation: null, padding: null }, {});
    } catch (e) {
      throw new EncoderFolderError(`encoder folder ${dir}: tokenizer.json cannot be loaded (${(e as Error).message}); create it with: ${EXPORT_COMMAND}`);
    }
    const specials = specialIds(tj);
    const device: Device = options.device ?? 'cpu';
    const warnings: string[] = [];
    const base: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all' };
    if (options.threads) base.intraOpNumThreads = options.threads;
    const modelPath = join(dir, 'model.onnx');
    let session: ort.InferenceSession | null = null;
    let usedDevice: Device = 'cpu';
    if (device === 'cuda') {
      const cuda = ort.listSupportedBackends().find((b) => b.name === 'cuda');
      try {
        session = await ort.InferenceSession.create(modelPath, { ...base, executionProviders: ['cuda'] });
        usedDevice = 'cuda';
      } catch (e) {
        warnings.push(cudaFallbackMessage(cuda?.bundled === false ? `not bundled: ${(e as Error).message.split('\n')[0]}` : (e as Error).message.split('\n')[0] ?? 'unknown error'));
      }
    }
    if (!session) {
      try {
        session = await ort.InferenceSession.create(modelPath, { ...base, executionProviders: ['cpu'] });
      } catch (e) {
        throw new EncoderFolderError(`encoder folder ${dir}: model.onnx cannot be loaded (${(e as Error).message.split('\n')[0]}); re-create it with: ${EXPORT_COMMAND}`);
      }
    }
    const onnxDigest = await sha256File(modelPath);
    const info: EncoderInfo = {
      dir,
      settings,
      fingerprint: fingerprintOf(onnxDigest, settings),
      sourceFingerprint: config.sourceWeightsSha256 ? fingerprintOf(config.sourceWeightsSha256, settings) : null,
      sourceModelId: config.sourceModelId,
      dim: config.dim ?? 0,
      device: usedDevice,
      warnings,
    };
    const enc = new TextEncoderOnnx(info, session, tokenizer, specials);
    if (!info.dim) info.dim = (await enc.forward([[]])).dim;
    return enc;
  }

  tokenIds(text: string): number[] {
    if (text.trim() === '') return [];
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /** Pooled, not yet normalised vectors for content windows (one padded batch). */
  async forward(batch: readonly (readonly number[])[]): Promise<{ pooled: Float32Array; dim: number }> {
    const { cls, sep, pad } = this.specials;
    const rows = batch.length;
    const width = Math.max(...batch.map((w) => w.length)) + 2;
    const ids = new BigInt64Array(rows * width).fill(BigInt(pad));
    const mask = new BigInt64Array(rows * width);
    batch.forEach((w, r) => {
      const at = r * width;
      ids[at] = BigInt(cls);
      for (let k = 0; k < w.length; k++) ids[at + 1 + k] = BigInt(w[k] as number);
      ids[at + 1 + w.length] = BigInt(sep);
      mask.fill(1n, at, at + w.length + 2);
    });
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', ids, [rows, width]),
      attention_mask: new ort.Tensor('int64', mask, [rows, width]),
    };
    if (this.session.inputNames.includes('token_type_ids')) feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(rows * width), [rows, width]);
    const out = await this.session.run(feeds);
    const hiddenTensor = out[this.session.outputNames[0] as string] as ort.Tensor;
    const hidden = hiddenTensor.data as Float32Array;
    const dim = hiddenTensor.dims[2] as number;
    const pooled = new Float32Array(rows * dim);
    for (let r = 0; r < rows; r++) {
      const base = r * width * dim;
      if (this.info.settings.pooling === 'cls') {
        pooled.set(hidden.subarray(base, base + dim), r * dim);
        continue;
      }
      const len = (batch[r] as readonly number[]).length + 2;
      const acc = new Float64Array(dim);
      for (let p = 0; p < len; p++) {
        const off = base + p * dim;
        for (let k = 0; k < dim; k++) acc[k] = (acc[k] as number) + (hidden[off + k] as number);
      }
      for (let k = 0; k < dim; k++) pooled[r * dim + k] = (acc[k] as number) / len;
    }
    return { pooled, dim };
  }

  async embed(texts: readonly string[], hooks: EmbedHooks = {}): Promise<EmbedOutput> {
    const { maxLength, strategy, normalize } = this.info.settings;
    const batchSize = Math.max(1, hooks.batchSize ?? 32);
    const windows: number[][] = [];
    const owner: number[] = [];
    const truncated: boolean[] = [];
    texts.forEach((t, i) => {
      if (typeof t !== 'string') throw new TypeError(`text ${i} is not a string`);
      const plan = planWindows(this.tokenIds(t), maxLength, strategy);
      truncated.push(plan.truncated);
      for (const w of plan.windows) {
        windows.push(w);
        owner.push(i);
      }
    });
    // Length-sorted batches: padding is per batch, so similar lengths waste little compute.
    const order = windows.map((_, k) => k).sort((a, b) => (windows[a] as number[]).length - (windows[b] as number[]).length || a - b);
    const dim = this.info.dim;
    const pooled = new Float32Array(windows.length * dim);
    const target = hooks.targetBatchMs ?? TARGET_BATCH_MS;
    const maxTokens = Math.max(1, hooks.maxBatchTokens ?? MAX_BATCH_TOKENS);
    const widthAt = (pos: number) => (windows[order[Math.min(pos, order.length - 1)] as number] as number[]).length + 2;
    // ms per padded token, measured on the batches already run; the first batch is small to calibrate.
    let msPerToken: number | null = null;
    let start = 0;
    while (start < order.length) {
      if (hooks.shouldStop?.()) throw new EmbedCancelled();
      let rows = Math.min(batchSize, 4);
      if (msPerToken !== null) {
        rows = Math.max(1, Math.min(batchSize, Math.floor(target / (msPerToken * widthAt(start)))));
        // Widths only grow along the sorted order: re-check with the widest row of the batch.
        rows = Math.max(1, Math.min(rows, Math.floor(target / (msPerToken * widthAt(start + rows - 1)))));
      }
      if (rows * widthAt(start + rows - 1) > maxTokens) {
        rows = Math.max(1, Math.min(rows, Math.floor(maxTokens / widthAt(start))));
        rows = Math.max(1, Math.min(rows, Math.floor(maxTokens / widthAt(start + rows - 1))));
      }
      const idx = order.slice(start, start + rows);
      const t0 = performance.now();
      const { pooled: part } = await this.forward(idx.map((k) => windows[k] as number[]));
      const perToken = (performance.now() - t0) / (idx.length * widthAt(start + idx.length - 1));
      msPerToken = msPerToken === null ? perToken : 0.5 * msPerToken + 0.5 * perToken;
      idx.forEach((k, r) => pooled.set(part.subarray(r * dim, (r + 1) * dim), k * dim));
      start += idx.length;
      hooks.onProgress?.(start, order.length);
      if (hooks.yieldBetweenBatches) await hooks.yieldBetweenBatches();
    }
    if (hooks.shouldStop?.()) throw new EmbedCancelled();
    const vectors = new Float32Array(texts.length * dim);
    if (strategy === 'truncate') {
      owner.forEach((i, k) => {
        const v = pooled.subarray(k * dim, (k + 1) * dim);
        vectors.set(normalize ? unit(v) : v, i * dim);
      });
      return { vectors, dim, truncated };
    }
    const acc = new Float64Array(texts.length * dim);
    owner.forEach((i, k) => {
      const u = unit(pooled.subarray(k * dim, (k + 1) * dim));
      const weight = Math.max(1, (windows[k] as number[]).length);
      for (let d = 0; d < dim; d++) acc[i * dim + d] = (acc[i * dim + d] as number) + weight * (u[d] as number);
    });
    for (let i = 0; i < texts.length; i++) vectors.set(unit(acc.subarray(i * dim, (i + 1) * dim)), i * dim);
    return { vectors, dim, truncated };
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/** L2-normalised copy as float32; a zero vector stays zero (cosine 0 by the reward core's convention). */
function unit(v: ArrayLike<number>): Float32Array {
  let sq = 0;
  for (let i = 0; i < v.length; i++) sq += (v[i] as number) * (v[i] as number);
  const norm = Math.sqrt(sq);
  const out = new Float32Array(v.length);
  if (!(norm > 0)) return out;
  for (let i = 0; i < v.length; i++) out[i] = (v[i] as number) / norm;
  return out;
}

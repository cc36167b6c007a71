// The main-thread face of the encoder: a worker thread that owns the ONNX session. Jobs run one
// at a time, report progress, and cancel within a bounded time: the worker is asked to stop
// between batches, and terminated when one batch takes longer than the grace period (it is then
// re-created on the next call).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { EncoderFolderError } from './folder';
import type { EmbedOutput, EncoderInfo, EncoderOptions } from './engine';
import type { FromWorker, ToWorker } from './messages';

export class EmbedCancelledError extends Error {
  constructor() {
    super('embedding cancelled');
    this.name = 'EmbedCancelledError';
  }
}

export interface EmbedRequest {
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface WorkerLocation {
  path: string;
  execArgv?: string[];
}

/**
 * dist/encoderWorker.js next to the bundle that runs this code (extension.js, cli.js); under tsx
 * (tests, `node --import tsx`), the TypeScript source next to this file, loaded through tsx.
 */
export function defaultWorkerLocation(): WorkerLocation {
  const env = process.env.REWARD_LENS_ENCODER_WORKER;
  if (env) return { path: env, execArgv: env.endsWith('.ts') ? ['--import', 'tsx'] : undefined };
  const bundled = join(__dirname, 'encoderWorker.js');
  if (existsSync(bundled)) return { path: bundled };
  const source = join(__dirname, 'worker.ts');
  if (existsSync(source)) return { path: source, execArgv: ['--import', 'tsx'] };
  throw new Error(`encoder worker not found next to ${__dirname} (expected encoderWorker.js): run npm run build`);
}

/** How long a cancelled batch may keep running before the worker is terminated. */
export const CANCEL_GRACE_MS = 300;

export class EncoderClient {
  private worker: Worker | null = null;
  private infoValue: EncoderInfo | null = null;
  private nextJob = 1;
  private chain: Promise<unknown> = Promise.resolve();
  private listeners = new Set<(m: FromWorker) => void>();
  private exitListeners = new Set<(code: number) => void>();

  private constructor(
    private readonly dir: string,
    private readonly options: EncoderOptions,
    private readonly location: WorkerLocation,
  ) {}

  /** Starts a worker and loads the folder; folder errors come back as EncoderFolderError. */
  static async start(dir: string, options: EncoderOptions = {}, location: WorkerLocation = defaultWorkerLocation()): Promise<EncoderClient> {
    const c = new EncoderClient(dir, options, location);
    await c.ensureWorker();
    return c;
  }

  get info(): EncoderInfo {
    if (!this.infoValue) throw new Error('encoder not loaded');
    return this.infoValue;
  }

  private spawn(): Worker {
    const w = new Worker(this.location.path, { execArgv: this.location.execArgv });
    w.on('message', (m: FromWorker) => {
      for (const l of [...this.listeners]) l(m);
    });
    w.on('error', (e) => {
      for (const l of [...this.listeners]) l({ kind: 'error', jobId: -1, message: e.message });
    });
    w.on('exit', (code) => {
      if (this.worker === w) this.worker = null;
      for (const l of [...this.exitListeners]) l(code);
    });
    return w;
  }

  private async ensureWorker(): Promise<Worker> {
    if (this.worker) return this.worker;
    const w = this.spawn();
    this.worker = w;
    const info = await new Promise<EncoderInfo>((resolve, reject) => {
      const onMsg = (m: FromWorker) => {
        if (m.kind === 'loaded') done(() => resolve(m.info));
        else if (m.kind === 'load-error') done(() => reject(m.name === 'EncoderFolderError' ? new EncoderFolderError(m.message) : new Error(m.message)));
        else if (m.kind === 'error' && m.jobId === -1) done(() => reject(new Error(`encoder worker failed to start: ${m.message}`)));
      };
      const onExit = (code: number) => done(() => reject(new Error(`encoder worker exited (code ${code}) while loading ${this.dir}`)));
      const done = (f: () => void) => {
        this.listeners.delete(onMsg);
        this.exitListeners.delete(onExit);
        f();
      };
      this.listeners.add(onMsg);
      this.exitListeners.add(onExit);
      w.postMessage({ kind: 'load', dir: this.dir, options: this.options } satisfies ToWorker);
    }).catch(async (e: unknown) => {
      this.worker = null;
      await w.terminate();
      throw e;
    });
    this.infoValue = info;
    // An idle worker must not keep a CLI process alive; runJob holds a reference while it works.
    w.unref();
    return w;
  }

  /** Embeds texts in the worker. Jobs are serialised; an aborted signal rejects with EmbedCancelledError. */
  embed(texts: readonly string[], req: EmbedRequest = {}): Promise<EmbedOutput> {
    const run = this.chain.then(
      () => this.runJob(texts, req),
      () => this.runJob(texts, req),
    );
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async runJob(texts: readonly string[], req: EmbedRequest): Promise<EmbedOutput> {
    if (req.signal?.aborted) throw new EmbedCancelledError();
    const w = await this.ensureWorker();
    const jobId = this.nextJob++;
    w.ref();
    return new Promise<EmbedOutput>((resolve, reject) => {
      let graceTimer: NodeJS.Timeout | null = null;
      const finish = (f: () => void) => {
        this.listeners.delete(onMsg);
        this.exitListeners.delete(onExit);
        req.signal?.removeEventListener('abort', onAbort);
        if (graceTimer) clearTimeout(graceTimer);
        w.unref();
        f();
      };
      const onMsg = (m: FromWorker) => {
        if (!('jobId' in m) || (m.jobId !== jobId && m.jobId !== -1)) return;
        if (m.kind === 'progress') req.onProgress?.(m.done, m.total);
        else if (m.kind === 'result') finish(() => resolve({ vectors: m.vectors, dim: m.dim, truncated: m.truncated }));
        else if (m.kind === 'cancelled') finish(() => reject(new EmbedCancelledError()));
        else if (m.kind === 'error') finish(() => reject(new Error(m.message)));
      };
      const onExit = (code: number) => {
        finish(() => (req.signal?.aborted ? reject(new EmbedCancelledError()) : reject(new Error(`encoder worker exited (code ${code})`))));
      };
      const onAbort = () => {
        w.postMessage({ kind: 'cancel', jobId } satisfies ToWorker);
        graceTimer = setTimeout(() => {
          // The current batch is still inside onnxruntime: stop the thread itself.
          if (this.worker === w) this.worker = null;
          void w.terminate();
        }, CANCEL_GRACE_MS);
      };
      this.listeners.add(onMsg);
      this.exitListeners.add(onExit);
      req.signal?.addEventListener('abort', onAbort, { once: true });
      w.postMessage({ kind: 'embed', jobId, texts: [...texts], batchSize: req.batchSize } satisfies ToWorker);
    });
  }

  async dispose(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}

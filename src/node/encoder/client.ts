// The main-thread face of the encoder: a worker thread that owns the ONNX session. Jobs run one
// at a time and report progress. Cancelling rejects the job at once; the worker stops after the
// batch in flight, and batches are sized to about TARGET_BATCH_MS of work, so it is idle again
// well within a second.
//
// Why not Worker.terminate() on cancel: terminating a worker while onnxruntime-node is inside a
// (synchronous) run aborts the whole process ("terminate called after throwing an instance of
// 'Napi::Error'"), which in VS Code would take the extension host down. The worker is only ever
// stopped between runs.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
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
  /** the most windows per batch; batches are also capped by time (see TARGET_BATCH_MS) */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface WorkerLocation {
  path: string;
  /** a TypeScript source: started through tsx's CommonJS hook (tests and `node --import tsx`) */
  typescript?: boolean;
}

/**
 * dist/encoderWorker.js next to the bundle that runs this code (extension.js, cli.js); under tsx
 * (tests, `node --import tsx`), the TypeScript source next to this file.
 */
export function defaultWorkerLocation(): WorkerLocation {
  const env = process.env.REWARD_LENS_ENCODER_WORKER;
  if (env) return { path: env, typescript: env.endsWith('.ts') };
  const bundled = join(__dirname, 'encoderWorker.js');
  if (existsSync(bundled)) return { path: bundled };
  const source = join(__dirname, 'worker.ts');
  if (existsSync(source)) return { path: source, typescript: true };
  throw new Error(`encoder worker not found next to ${__dirname} (expected encoderWorker.js): run npm run build`);
}

/** How long a clean shutdown may wait for the batch in flight before the worker is abandoned. */
const SHUTDOWN_WAIT_MS = 10_000;

export class EncoderClient {
  private worker: Worker | null = null;
  private infoValue: EncoderInfo | null = null;
  private nextJob = 1;
  private chain: Promise<unknown> = Promise.resolve();
  private listeners = new Set<(m: FromWorker) => void>();
  private exitListeners = new Set<(code: number) => void>();
  /** jobs the worker has not finished yet, cancelled ones included */
  private inWorker = new Set<number>();
  private idleWaiters: (() => void)[] = [];

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
    // Node 20 workers ignore an inherited `--import tsx` for their entry file, so a TypeScript
    // entry is required from a tiny CommonJS bootstrap after registering tsx's require hook.
    const w = this.location.typescript
      ? new Worker(`require(${JSON.stringify(createRequire(__filename).resolve('tsx/cjs'))}); require(${JSON.stringify(this.location.path)});`, { eval: true })
      : new Worker(this.location.path);
    w.on('message', (m: FromWorker) => {
      if ((m.kind === 'result' || m.kind === 'cancelled' || m.kind === 'error') && this.inWorker.delete(m.jobId)) this.checkIdle();
      for (const l of [...this.listeners]) l(m);
    });
    w.on('error', (e) => {
      for (const l of [...this.listeners]) l({ kind: 'error', jobId: -1, message: e.message });
    });
    w.on('exit', (code) => {
      if (this.worker === w) this.worker = null;
      this.inWorker.clear();
      this.checkIdle();
      for (const l of [...this.exitListeners]) l(code);
    });
    return w;
  }

  private checkIdle(): void {
    if (this.inWorker.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when the worker has no job left, cancelled ones included (i.e. it has really stopped). */
  whenIdle(): Promise<void> {
    if (this.inWorker.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
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
      await w.terminate(); // safe: loading failed, so no run is in flight
      throw e;
    });
    this.infoValue = info;
    // An idle worker must not keep a CLI process alive; a job holds a reference while it runs.
    w.unref();
    return w;
  }

  /** Embeds texts in the worker. Jobs are serialised; an aborted signal rejects with EmbedCancelledError at once. */
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
    this.inWorker.add(jobId);
    return new Promise<EmbedOutput>((resolve, reject) => {
      const finish = (f: () => void) => {
        this.listeners.delete(onMsg);
        this.exitListeners.delete(onExit);
        req.signal?.removeEventListener('abort', onAbort);
        // Keep the thread referenced until it has really finished the job (cancelled ones too).
        void this.whenIdle().then(() => w.unref());
        f();
      };
      const onMsg = (m: FromWorker) => {
        if (!('jobId' in m) || (m.jobId !== jobId && m.jobId !== -1)) return;
        if (m.kind === 'progress') req.onProgress?.(m.done, m.total);
        else if (m.kind === 'result') finish(() => resolve({ vectors: m.vectors, dim: m.dim, truncated: m.truncated }));
        else if (m.kind === 'cancelled') finish(() => reject(new EmbedCancelledError()));
        else if (m.kind === 'error') finish(() => reject(new Error(m.message)));
      };
      const onExit = (code: number) => finish(() => reject(new Error(`encoder worker exited (code ${code})`)));
      const onAbort = () => {
        w.postMessage({ kind: 'cancel', jobId } satisfies ToWorker);
        finish(() => reject(new EmbedCancelledError()));
      };
      this.listeners.add(onMsg);
      this.exitListeners.add(onExit);
      req.signal?.addEventListener('abort', onAbort, { once: true });
      w.postMessage({ kind: 'embed', jobId, texts: [...texts], batchSize: req.batchSize } satisfies ToWorker);
    });
  }

  /** Cancels what runs, lets the batch in flight finish, then ends the worker. */
  async dispose(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (!w) return;
    for (const id of this.inWorker) w.postMessage({ kind: 'cancel', jobId: id } satisfies ToWorker);
    w.ref(); // the caller awaits the exit: keep the loop alive until it comes
    let timer: NodeJS.Timeout | undefined;
    const exited = new Promise<boolean>((resolve) => w.once('exit', () => resolve(true)));
    const gaveUp = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), SHUTDOWN_WAIT_MS)));
    w.postMessage({ kind: 'shutdown' } satisfies ToWorker);
    const clean = await Promise.race([exited, gaveUp]);
    clearTimeout(timer);
    if (!clean) w.unref();
  }
}

// Worker-thread entry (bundled to dist/encoderWorker.js): owns one TextEncoderOnnx and embeds on
// request, so the extension host's event loop never waits on onnxruntime.
import { parentPort } from 'node:worker_threads';
import { EmbedCancelled, TextEncoderOnnx } from './engine';
import type { FromWorker, ToWorker } from './messages';

const port = parentPort;
if (!port) throw new Error('encoder worker must run in a worker thread');

let encoder: TextEncoderOnnx | null = null;
const cancelled = new Set<number>();
let queue: Promise<void> = Promise.resolve();

function post(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}

// onnxruntime's run() is synchronous on this thread; a macrotask turn between batches is what lets
// a 'cancel' message in.
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function embedJob(jobId: number, texts: string[], batchSize: number | undefined): Promise<void> {
  if (!encoder) {
    post({ kind: 'error', jobId, message: 'encoder not loaded' });
    return;
  }
  try {
    const out = await encoder.embed(texts, {
      batchSize,
      onProgress: (done, total) => post({ kind: 'progress', jobId, done, total }),
      shouldStop: () => cancelled.has(jobId),
      yieldBetweenBatches: turn,
    });
    post({ kind: 'result', jobId, vectors: out.vectors, dim: out.dim, truncated: out.truncated }, [out.vectors.buffer as ArrayBuffer]);
  } catch (e) {
    if (e instanceof EmbedCancelled) post({ kind: 'cancelled', jobId });
    else post({ kind: 'error', jobId, message: (e as Error).message });
  } finally {
    cancelled.delete(jobId);
  }
}

port.on('message', (msg: ToWorker) => {
  if (msg.kind === 'cancel') {
    cancelled.add(msg.jobId);
    return;
  }
  if (msg.kind === 'shutdown') {
    queue = queue.then(async () => {
      await encoder?.dispose();
      process.exit(0);
    });
    return;
  }
  if (msg.kind === 'load') {
    queue = queue.then(async () => {
      try {
        encoder = await TextEncoderOnnx.load(msg.dir, msg.options);
        post({ kind: 'loaded', info: encoder.info });
      } catch (e) {
        post({ kind: 'load-error', message: (e as Error).message, name: (e as Error).name });
      }
    });
    return;
  }
  queue = queue.then(() => embedJob(msg.jobId, msg.texts, msg.batchSize));
});

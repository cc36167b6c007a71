// Messages between EncoderClient (main thread) and the encoder worker.
import type { EncoderInfo, EncoderOptions } from './engine';

export type ToWorker =
  | { kind: 'load'; dir: string; options: EncoderOptions }
  | { kind: 'embed'; jobId: number; texts: string[]; batchSize?: number }
  | { kind: 'cancel'; jobId: number }
  /** finish the queue (cancelled jobs stop after their batch in flight), then exit the thread */
  | { kind: 'shutdown' };

export type FromWorker =
  | { kind: 'loaded'; info: EncoderInfo }
  | { kind: 'load-error'; message: string; name: string }
  | { kind: 'progress'; jobId: number; done: number; total: number }
  | { kind: 'result'; jobId: number; vectors: Float32Array; dim: number; truncated: boolean[] }
  | { kind: 'cancelled'; jobId: number }
  | { kind: 'error'; jobId: number; message: string };

// Re-verifying a whole stored run with a (possibly edited) verifier.
// Groups are read from the store one at a time and their trajectories streamed, in batches, to
// several `python -m reward_lens.verify` processes (each with its own worker pool and per-item
// timeouts). The verdicts are written as a new verdict set under the verifier's identity (the
// sha256 of its file): earlier sets are never overwritten, and the run's active set only changes
// when the user accepts. The diff against the active set is built as the results come in.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, resolve as resolvePath } from 'node:path';
import { VerdictDiffBuilder, verdictOfResult, type DiffGroupInput, type VerdictDiff, type VerdictLike } from '../../core/verdictDiff';
import type { GroupDetail, RunStoreApi, VerdictInput, VerifierVersion } from '../store/types';
import { VerifyProcess, type VerifyItem, type VerifyResult } from './verifyProcess';

export interface ReverifyProgress {
  done: number;
  total: number;
  errors: number;
  timeouts: number;
  crashed: number;
}

export interface ReverifyOptions {
  python: string;
  backendRoot: string;
  /** path to the verifier .py file; undefined = the backend's default verifier */
  verifierPath?: string;
  /** Python processes run side by side */
  processes?: number;
  /** worker processes inside each Python process */
  workersPerProcess?: number;
  /** wall-clock seconds per item */
  timeoutS?: number;
  /** items per batch sent to one process */
  batchSize?: number;
  signal?: AbortSignal;
  onProgress?: (p: ReverifyProgress) => void;
  onStderr?: (line: string) => void;
}

export interface ReverifyResult {
  runId: string;
  verifier: VerifierVersion;
  /** the set that was active before (null: the logged verdicts) */
  previousVerifierId: string | null;
  written: number;
  diff: VerdictDiff;
  cancelled: boolean;
  durationMs: number;
  processRestarts: number;
}

export class ReverifyCancelled extends Error {
  constructor() {
    super('re-verify cancelled');
  }
}

/** The identity a verifier file is stored under: sha256 of its bytes (what the backend computes too). */
export async function verifierFileIdentity(path: string): Promise<{ id: string; name: string; path: string }> {
  const bytes = await readFile(path);
  return { id: createHash('sha256').update(bytes).digest('hex'), name: basename(path), path: resolvePath(path) };
}

/** Every group of a run, in step order, read one at a time. */
export async function* runGroups(store: RunStoreApi, runId: string): AsyncGenerator<GroupDetail> {
  for (const step of await store.listSteps(runId)) {
    for (const summary of await store.listGroups(runId, step.step)) {
      const group = await store.getGroup(summary.groupId);
      if (group) yield group;
    }
  }
}

function toVerdictInput(key: number, r: VerifyResult): VerdictInput {
  return { trajectoryKey: key, verdict: verdictOfResult(r.correct), reason: r.reason || null, extracted: r.extracted };
}

export async function reverifyRun(store: RunStoreApi, runId: string, opts: ReverifyOptions): Promise<ReverifyResult> {
  const started = Date.now();
  const run = await store.getRun(runId);
  if (!run) throw new Error(`no run ${runId} in the store`);
  const identity = opts.verifierPath
    ? await verifierFileIdentity(opts.verifierPath)
    : await defaultIdentity(opts);
  const verifier = await store.addVerifierVersion({ id: identity.id, name: identity.name, path: identity.path });
  const previous = await store.activeVerifier(runId);
  const oldVerdicts = new Map<number, VerdictLike>();
  if (previous) for (const v of await store.verdicts(previous.id, runId)) oldVerdicts.set(v.trajectoryKey, v);

  const processes = Math.max(1, opts.processes ?? 2);
  const batchSize = Math.max(1, opts.batchSize ?? 64);
  const workers = new Array(processes).fill(0).map(
    () =>
      new VerifyProcess({
        python: opts.python,
        backendRoot: opts.backendRoot,
        verifier: opts.verifierPath,
        workers: opts.workersPerProcess ?? 1,
        timeoutS: opts.timeoutS ?? 5,
        onStderr: opts.onStderr,
      }),
  );
  const progress: ReverifyProgress = { done: 0, total: run.trajectoryCount, errors: 0, timeouts: 0, crashed: 0 };
  const diff = new VerdictDiffBuilder();
  let written = 0;
  let cancelled = false;
  const onAbort = () => {
    cancelled = true;
    for (const w of workers) void w.dispose();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();

  // Groups wait here until all their members have results, so the diff sees whole groups.
  interface Job {
    group: GroupDetail;
    items: VerifyItem[];
    results: Map<number, VerifyResult>;
  }
  const queue: Array<{ job: Job; items: VerifyItem[] }> = [];
  let producerDone = false;
  let producerError: unknown = null;
  // Writes go through one chain: the store runs one transaction at a time on its connection.
  const WRITE_BATCH = 2000;
  let writeBuffer: VerdictInput[] = [];
  let writeChain: Promise<void> = Promise.resolve();
  const flushWrites = () => {
    const chunk = writeBuffer;
    writeBuffer = [];
    if (chunk.length === 0) return;
    writeChain = writeChain.then(async () => {
      written += await store.writeVerdicts(verifier.id, chunk);
    });
  };
  const finishJob = (job: Job) => {
    const newVerdicts = new Map<number, VerdictLike>();
    const inputs: VerdictInput[] = [];
    for (const [key, r] of job.results) {
      const v = toVerdictInput(key, r);
      inputs.push(v);
      newVerdicts.set(key, v);
      if (v.verdict === 'error') {
        progress.errors++;
        if (r.reason.startsWith('error: timeout')) progress.timeouts++;
        if (r.reason.startsWith('error: crashed')) progress.crashed++;
      }
    }
    // A cancelled run writes nothing more: its "errors" are our own kills, not the verifier's.
    if (cancelled) return;
    writeBuffer.push(...inputs);
    if (writeBuffer.length >= WRITE_BATCH) flushWrites();
    const g = job.group;
    const input: DiffGroupInput = {
      groupId: g.groupId,
      step: g.step,
      promptId: g.promptId,
      gold: g.gold,
      reward: g.reward,
      trajectories: g.trajectories.map((t) => ({ ...t.event, trajectoryKey: t.trajectoryKey })),
      oldVerdicts: new Map(g.trajectories.flatMap((t) => {
        const v = oldVerdicts.get(t.trajectoryKey);
        return v ? [[t.trajectoryKey, v] as const] : [];
      })),
      newVerdicts,
    };
    diff.addGroup(input);
  };

  const pendingJobs = new Set<Job>();
  const producer = (async () => {
    try {
      for await (const group of runGroups(store, runId)) {
        if (cancelled) break;
        const items: VerifyItem[] = group.trajectories.map((t) => ({ id: String(t.trajectoryKey), response: t.event.text, gold: group.gold }));
        const job: Job = { group, items, results: new Map() };
        pendingJobs.add(job);
        for (let i = 0; i < items.length; i += batchSize) queue.push({ job, items: items.slice(i, i + batchSize) });
        // Back-pressure: keep a few batches per process in memory, not the whole run.
        while (queue.length > processes * 4 && !cancelled) await new Promise((r) => setTimeout(r, 5));
      }
    } catch (e) {
      producerError = e;
    } finally {
      producerDone = true;
    }
  })();

  // Results are merged per job; a job completes when all its items are in.
  const lane = async (worker: VerifyProcess) => {
    for (;;) {
      if (cancelled) return;
      const next = queue.shift();
      if (!next) {
        if (producerDone) return;
        await new Promise((r) => setTimeout(r, 2));
        continue;
      }
      const results = await worker.verify(next.items);
      for (const r of results) next.job.results.set(Number(r.id), r);
      progress.done += results.length;
      opts.onProgress?.({ ...progress });
      if (next.job.results.size === next.job.items.length && pendingJobs.delete(next.job)) {
        finishJob(next.job);
      }
    }
  };
  try {
    await Promise.all(workers.map(lane));
    await producer;
    if (producerError) throw producerError;
    if (!cancelled) flushWrites();
    await writeChain;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await Promise.all(workers.map((w) => w.dispose()));
  }
  const processRestarts = workers.reduce((n, w) => n + w.restarts, 0);
  if (cancelled) throw new ReverifyCancelled();
  return {
    runId,
    verifier,
    previousVerifierId: previous?.id ?? null,
    written,
    diff: diff.result(),
    cancelled,
    durationMs: Date.now() - started,
    processRestarts,
  };
}

async function defaultIdentity(opts: ReverifyOptions): Promise<{ id: string; name: string; path: string }> {
  const path = resolvePath(opts.backendRoot, 'reward_lens', 'verifier', 'default.py');
  const id = await verifierFileIdentity(path);
  return { ...id, name: 'default' };
}

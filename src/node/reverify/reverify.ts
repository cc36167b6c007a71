// Re-verifying a whole stored run with a (possibly edited) verifier.
// Groups are read from the store in batches and their trajectories streamed, in batches, to
// several `python -m reward_lens.verify` processes (each with its own worker pool and per-item
// timeouts), each holding several batches at once. A verifier that declares it reads only the
// answer part (answerPartDeclaration) is called once per distinct (answer part, gold). The verdicts are written as a new verdict set under the verifier's identity (the
// sha256 of its file): earlier sets are never overwritten, and the run's active set only changes
// when the user accepts. The diff against the active set is built as the results come in.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, resolve as resolvePath } from 'node:path';
import { cpus } from 'node:os';
import { VerdictDiffBuilder, verdictOfResult, type DiffGroupInput, type VerdictDiff, type VerdictLike } from '../../core/verdictDiff';
import type { RunStoreApi, VerdictInput, VerifierVersion, VerifyGroup, VerifyMember } from '../store/types';
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
  /**
   * Python processes run side by side. Default: the cores, at least 2 and at most 4. Each returns
   * its results in order, so an item that hangs until its timeout holds up its own process's
   * results only: 2 processes of 1 worker re-verify the fault scenario about twice as fast as 1 of 2.
   */
  processes?: number;
  /** worker processes inside each Python process (default: the cores shared out, so every core verifies) */
  workersPerProcess?: number;
  /** wall-clock seconds per item */
  timeoutS?: number;
  /** items per batch sent to one process */
  batchSize?: number;
  /** batches each process holds at once (default 8): it verifies the next while the last results travel back */
  depth?: number;
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
  /** what the verifier declares it reads (see answerPartDeclaration): null = the whole response */
  readsAfter: string | null;
  /** calls actually made to the verifier: fewer than the trajectories when answers repeat */
  verifierCalls: number;
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

/**
 * A verifier file may declare, at module level, `REWARD_LENS_READS_AFTER = "</think>"`: its verdict
 * depends only on the gold answer and on the text after the first occurrence of that marker (a
 * response without the marker may be read whole). Re-verifying then calls it once per distinct
 * (that text, gold) pair. Read from the source, not by importing it: nothing of the user's runs here.
 */
export function answerPartDeclaration(source: string): string | null {
  const m = /^REWARD_LENS_READS_AFTER\s*(?::\s*str\s*)?=\s*("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')\s*(?:#.*)?$/m.exec(source);
  if (!m) return null;
  const lit = m[1] as string;
  const body = lit.slice(1, -1);
  // Only plain literals: an escape sequence would need Python's rules to read right.
  if (body.includes('\\') || body.length === 0) return null;
  return body;
}

/** The key results are shared under: equal keys, equal verdicts, by the verifier's declaration. */
function answerKey(marker: string, text: string, gold: string): string {
  const at = text.indexOf(marker);
  const part = at < 0 ? `T${text}` : `A${text.slice(at + marker.length)}`;
  // Hashed: millions of answer parts as map keys would hold their text twice over.
  return createHash('sha1').update(gold).update('\u0000').update(part).digest('base64');
}

function toVerdictInput(key: number, r: VerifyResult): VerdictInput {
  return { trajectoryKey: key, verdict: verdictOfResult(r.correct), reason: r.reason || null, extracted: r.extracted };
}

/** A distinct piece of work: one verifier call whose result goes to every trajectory waiting on it. */
interface Unit {
  key: string | null;
  item: VerifyItem;
  waiters: Array<(r: VerifyResult) => void>;
}

/** A wake-up for loops waiting on each other (instead of polling with timers). */
class Signal {
  private waiting: Array<() => void> = [];
  wait(): Promise<void> {
    return new Promise((r) => this.waiting.push(r));
  }
  notify(): void {
    const w = this.waiting;
    this.waiting = [];
    for (const r of w) r();
  }
}

/** Results kept for deduplication; beyond this many distinct answers the oldest are forgotten. */
const DEDUPE_KEEP = 500_000;

export async function reverifyRun(store: RunStoreApi, runId: string, opts: ReverifyOptions): Promise<ReverifyResult> {
  const started = Date.now();
  const run = await store.getRun(runId);
  if (!run) throw new Error(`no run ${runId} in the store`);
  const source = opts.verifierPath ?? resolvePath(opts.backendRoot, 'reward_lens', 'verifier', 'default.py');
  const identity = opts.verifierPath ? await verifierFileIdentity(opts.verifierPath) : await defaultIdentity(opts);
  const readsAfter = answerPartDeclaration(await readFile(source, 'utf8'));
  const verifier = await store.addVerifierVersion({ id: identity.id, name: identity.name, path: identity.path });
  const previous = await store.activeVerifier(runId);
  const oldVerdicts = new Map<number, VerdictLike>();
  if (previous) for (const v of await store.verdicts(previous.id, runId)) oldVerdicts.set(v.trajectoryKey, v);

  const cores = Math.max(1, cpus().length);
  const processes = Math.max(1, opts.processes ?? Math.min(4, Math.max(2, cores)));
  const batchSize = Math.max(1, opts.batchSize ?? 64);
  const depth = Math.max(1, opts.depth ?? 8);
  // Every core by default: the cores shared out between the processes, at least one worker each.
  const workersPerProcess = Math.max(1, opts.workersPerProcess ?? Math.ceil(cores / processes));
  const workers = new Array(processes).fill(0).map(
    () =>
      new VerifyProcess({
        python: opts.python,
        backendRoot: opts.backendRoot,
        verifier: opts.verifierPath,
        workers: workersPerProcess,
        timeoutS: opts.timeoutS ?? 5,
        onStderr: opts.onStderr,
      }),
  );
  const progress: ReverifyProgress = { done: 0, total: run.trajectoryCount, errors: 0, timeouts: 0, crashed: 0 };
  const diff = new VerdictDiffBuilder();
  let written = 0;
  let cancelled = false;
  let verifierCalls = 0;
  const wake = new Signal();
  const onAbort = () => {
    cancelled = true;
    for (const w of workers) void w.dispose();
    wake.notify();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();

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
  const finishGroup = (group: VerifyGroup, results: Map<number, VerifyResult>) => {
    const newVerdicts = new Map<number, VerdictLike>();
    for (const [key, r] of results) {
      const v = toVerdictInput(key, r);
      writeBuffer.push(v);
      newVerdicts.set(key, v);
      if (v.verdict === 'error') {
        progress.errors++;
        if (r.reason.startsWith('error: timeout')) progress.timeouts++;
        if (r.reason.startsWith('error: crashed')) progress.crashed++;
      }
    }
    if (writeBuffer.length >= WRITE_BATCH) flushWrites();
    const input: DiffGroupInput = {
      groupId: group.groupId,
      step: group.step,
      promptId: group.promptId,
      gold: group.gold,
      reward: group.reward,
      trajectories: group.members,
      oldVerdicts: new Map(group.members.flatMap((t) => {
        const v = oldVerdicts.get(t.trajectoryKey);
        return v ? [[t.trajectoryKey, v] as const] : [];
      })),
      newVerdicts,
    };
    diff.addGroup(input);
  };

  // Distinct work waits in `queue`; results are shared by key (when the verifier declared what it
  // reads) with every trajectory asking for the same key, in flight or later.
  const queue: Unit[] = [];
  const inFlight = new Map<string, Unit>();
  const known = new Map<string, VerifyResult>();
  let pendingGroups = 0;
  let producerDone = false;
  let producerError: unknown = null;
  const highWater = processes * depth * batchSize * 2;

  const producer = (async () => {
    try {
      let after = 0;
      for (;;) {
        if (cancelled) break;
        const groups = await store.verifyGroups(runId, after, 256);
        if (groups.length === 0) break;
        after = (groups[groups.length - 1] as VerifyGroup).groupId;
        for (const group of groups) {
          if (cancelled) break;
          const results = new Map<number, VerifyResult>();
          let missing = group.members.length;
          pendingGroups++;
          const settle = (m: VerifyMember, r: VerifyResult) => {
            results.set(m.trajectoryKey, r);
            progress.done++;
            if (--missing === 0) {
              pendingGroups--;
              // A cancelled run writes nothing more: its "errors" are our own kills, not the verifier's.
              if (!cancelled) finishGroup(group, results);
              wake.notify();
            }
          };
          for (const m of group.members) {
            const key = readsAfter === null ? null : answerKey(readsAfter, m.text, group.gold);
            if (key !== null) {
              const hit = known.get(key);
              if (hit) {
                settle(m, hit);
                continue;
              }
              const unit = inFlight.get(key);
              if (unit) {
                unit.waiters.push((r) => settle(m, r));
                continue;
              }
            }
            const unit: Unit = { key, item: { id: String(m.trajectoryKey), response: m.text, gold: group.gold }, waiters: [(r) => settle(m, r)] };
            if (key !== null) inFlight.set(key, unit);
            queue.push(unit);
          }
          if (group.members.length === 0) {
            pendingGroups--;
            if (!cancelled) finishGroup(group, results);
          }
        }
        opts.onProgress?.({ ...progress });
        wake.notify();
        // Back-pressure: a few batches per process in memory, not the whole run.
        while (queue.length > highWater && !cancelled) await wake.wait();
      }
    } catch (e) {
      producerError = e;
    } finally {
      producerDone = true;
      wake.notify();
    }
  })();

  const complete = (unit: Unit, r: VerifyResult) => {
    if (unit.key !== null) {
      inFlight.delete(unit.key);
      known.set(unit.key, r);
      if (known.size > DEDUPE_KEEP) known.delete(known.keys().next().value as string);
    }
    for (const w of unit.waiters) w(r);
  };

  // Each process keeps up to `depth` batches: the next is verified while earlier results travel back.
  const lane = async (worker: VerifyProcess) => {
    const held = new Set<Promise<void>>();
    for (;;) {
      if (cancelled) break;
      if (queue.length === 0 || held.size >= depth) {
        if (queue.length === 0 && producerDone && held.size === 0) break;
        await Promise.race([wake.wait(), ...held]);
        continue;
      }
      const batch = queue.splice(0, batchSize);
      verifierCalls += batch.length;
      const p: Promise<void> = worker.verify(batch.map((u) => u.item)).then((results) => {
        results.forEach((r, i) => complete(batch[i] as Unit, r));
        opts.onProgress?.({ ...progress });
      });
      held.add(p);
      void p.finally(() => {
        held.delete(p);
        wake.notify();
      });
      wake.notify(); // the producer may be waiting for the queue to shrink
    }
    await Promise.all(held);
  };
  try {
    await Promise.all(workers.map(lane));
    await producer;
    if (producerError) throw producerError;
    if (!cancelled && pendingGroups !== 0) throw new Error(`internal: ${pendingGroups} groups left without every verdict`);
    if (!cancelled) flushWrites();
    await writeChain;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await Promise.all(workers.map((w) => w.dispose()));
  }
  const processRestarts = workers.reduce((n, w) => n + w.restarts, 0);
  if (cancelled) throw new ReverifyCancelled();
  opts.onProgress?.({ ...progress });
  return {
    runId,
    verifier,
    previousVerifierId: previous?.id ?? null,
    written,
    diff: diff.result(),
    cancelled,
    durationMs: Date.now() - started,
    processRestarts,
    readsAfter,
    verifierCalls,
  };
}

async function defaultIdentity(opts: ReverifyOptions): Promise<{ id: string; name: string; path: string }> {
  const path = resolvePath(opts.backendRoot, 'reward_lens', 'verifier', 'default.py');
  const id = await verifierFileIdentity(path);
  return { ...id, name: 'default' };
}

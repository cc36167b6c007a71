// The verifier-faults scenario of issue 6, shared by the fault suite (5,000 trajectories) and the
// benchmark (100,000): a stored run re-verified with a verifier that raises on 1% of inputs and
// hangs on 0.1%, through src/node/reverify (Python processes, per-item timeouts, cancel).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { RunStore } from '../../src/node/store';
import { ingestFile } from '../../src/node/ingest/ingest';
import { reverifyRun, ReverifyCancelled, type ReverifyResult } from '../../src/node/reverify/reverify';
import type { GroupEvent, RunStartEvent, TrajectoryEvent } from '../../src/core/protocol';

/** Raises on texts marked FAULT_RAISE, sleeps an hour on FAULT_HANG, else checks the boxed answer. */
export const FAULTY_VERIFIER = `"""A verifier with injected faults, for Reward Lens's fault suite."""
import time


def verify(response, gold):
    if "FAULT_RAISE" in response:
        raise ValueError("injected verifier failure")
    if "FAULT_HANG" in response:
        time.sleep(3600)
    tail = response.rsplit("</think>", 1)[-1]
    ok = ("\\\\boxed{%s}" % gold) in tail
    return {"correct": ok, "reason": "boxed answer matches" if ok else "boxed answer differs", "extracted": gold if ok else None}
`;

/**
 * The same faults in a verifier that declares it reads only the answer part: the markers sit after
 * </think>, so equal answers (same gold, same boxed value, same marker) are verified once.
 */
export const FAULTY_ANSWER_VERIFIER = `"""A verifier with injected faults that reads only the answer part, for Reward Lens's benchmark."""
import time

REWARD_LENS_READS_AFTER = "</think>"


def verify(response, gold):
    tail = response.split("</think>", 1)[-1]
    if "FAULT_RAISE" in tail:
        raise ValueError("injected verifier failure")
    if "FAULT_HANG" in tail:
        time.sleep(3600)
    ok = ("\\\\boxed{%s}" % gold) in tail
    return {"correct": ok, "reason": "boxed answer matches" if ok else "boxed answer differs", "extracted": gold if ok else None}
`;

export const RAISE_EVERY = 100; // 1%
export const HANG_EVERY = 1000; // 0.1%

export interface ReverifyFixture {
  db: string;
  runId: string;
  verifierPath: string;
  trajectories: number;
  expectedRaise: number;
  expectedHang: number;
  ingestSeconds: number;
}

export interface FixtureOptions {
  /** the faults after </think> and a verifier that declares it reads only that part */
  answerOnly?: boolean;
  /** store and ingest modules of another checkout (a baseline measured in the same run) */
  modules?: { RunStore: typeof RunStore; ingestFile: typeof ingestFile };
}

export async function buildReverifyFixture(dir: string, trajectories: number, o: FixtureOptions = {}): Promise<ReverifyFixture> {
  const runId = 'reverify-faults';
  const groups = Math.ceil(trajectories / 8);
  const file = path.join(dir, 'events.jsonl');
  const start: RunStartEvent = {
    v: 1,
    type: 'run_start',
    run_id: runId,
    variant: 'oger',
    config: {},
    model: 'fault/tiny',
    reward: { variant: 'oger', replace: 1, advantage: { std: 'sample', eps: 1e-6 } },
    encoder: { id: 'fault-encoder', strategy: 'truncate' },
    verifier: { id: 'fault-verifier', name: 'fault' },
  };
  const lines: string[] = [JSON.stringify(start)];
  let serial = 0;
  let expectedRaise = 0;
  let expectedHang = 0;
  for (let g = 0; g < groups; g++) {
    const gold = String(g % 997);
    const members: TrajectoryEvent[] = [];
    for (let i = 0; i < 8; i++) {
      const online = i < 6;
      const n = serial++;
      let marker = '';
      if (n % RAISE_EVERY === 37) {
        marker = ' FAULT_RAISE';
        expectedRaise++;
      } else if (n % HANG_EVERY === 501) {
        marker = ' FAULT_HANG';
        expectedHang++;
      }
      const correct = (g + i) % 3 !== 0;
      members.push({
        id: `g${g}-m${i}`,
        source: online ? 'online' : 'offline',
        index: online ? i : i - 6,
        text: o.answerOnly
          ? `<think>working on item ${n}</think> so the answer is $\\boxed{${correct ? gold : 'x'}}$${marker}`
          : `<think>working on it${marker}</think> so the answer is $\\boxed{${correct ? gold : 'x'}}$`,
        r_m: (n + 1) % 5 === 0 ? (correct ? 0 : 1) : correct ? 1 : 0, // some logged verdicts disagree, so flips exist
        verdict: (n + 1) % 5 === 0 ? (correct ? 'wrong' : 'correct') : correct ? 'correct' : 'wrong',
        divergence: online ? 0.1 + i / 10 : null,
        entropy_last: online ? 0.5 : null,
        replaced: online && i === 0,
        inserted: online ? undefined : i === 6,
      });
    }
    const ev: GroupEvent = { v: 1, type: 'group', run_id: runId, step: Math.floor(g / 64), prompt_id: `p${g}`, prompt: `Prompt ${g}`, gold, trajectories: members };
    lines.push(JSON.stringify(ev));
  }
  writeFileSync(file, lines.join('\n') + '\n');
  const verifierPath = path.join(dir, o.answerOnly ? 'faulty_answer_verifier.py' : 'faulty_verifier.py');
  writeFileSync(verifierPath, o.answerOnly ? FAULTY_ANSWER_VERIFIER : FAULTY_VERIFIER);
  const db = path.join(dir, 'store.db');
  const t0 = performance.now();
  const m = o.modules ?? { RunStore, ingestFile };
  const store = await m.RunStore.open(db);
  try {
    await m.ingestFile(store, file);
  } finally {
    await store.close();
  }
  return { db, runId, verifierPath, trajectories: groups * 8, expectedRaise, expectedHang, ingestSeconds: (performance.now() - t0) / 1000 };
}

export interface FaultyRunOutcome {
  result: ReverifyResult;
  seconds: number;
  maxEventLoopLagMs: number;
}

export interface ReverifyRunOptions {
  python: string;
  backendRoot: string;
  /** default: reverifyRun's own (every core) */
  processes?: number;
  workersPerProcess?: number;
  timeoutS?: number;
  /** store and reverifyRun of another checkout (a baseline measured in the same run) */
  impl?: { RunStore: typeof RunStore; reverifyRun: typeof reverifyRun };
}

/** Re-verifies the whole run with the faulty verifier, watching the event loop for freezes. */
export async function runFaulty(f: ReverifyFixture, o: ReverifyRunOptions): Promise<FaultyRunOutcome> {
  const impl = o.impl ?? { RunStore, reverifyRun };
  const store = await impl.RunStore.open(f.db);
  let maxLag = 0;
  let last = performance.now();
  const lagTimer = setInterval(() => {
    const now = performance.now();
    maxLag = Math.max(maxLag, now - last - 50);
    last = now;
  }, 50);
  const t0 = performance.now();
  try {
    const result = await impl.reverifyRun(store, f.runId, {
      python: o.python,
      backendRoot: o.backendRoot,
      verifierPath: f.verifierPath,
      processes: o.processes,
      workersPerProcess: o.workersPerProcess,
      timeoutS: o.timeoutS ?? 1,
      batchSize: 64,
    });
    return { result, seconds: (performance.now() - t0) / 1000, maxEventLoopLagMs: Math.round(maxLag) };
  } finally {
    clearInterval(lagTimer);
    await store.close();
  }
}

export interface CancelOutcome {
  doneAtCancel: number;
  settleMs: number;
  error: unknown;
}

/** Starts a re-verify, aborts it once `after` items are done, and times how long cancel takes. */
export async function runAndCancel(f: ReverifyFixture, o: ReverifyRunOptions, after: number): Promise<CancelOutcome> {
  const store = await RunStore.open(f.db);
  const ac = new AbortController();
  let doneAtCancel = -1;
  let cancelledAt = 0;
  try {
    const run = reverifyRun(store, f.runId, {
      python: o.python,
      backendRoot: o.backendRoot,
      verifierPath: f.verifierPath,
      processes: o.processes,
      workersPerProcess: o.workersPerProcess,
      timeoutS: o.timeoutS ?? 1,
      batchSize: 64,
      signal: ac.signal,
      onProgress: (p) => {
        if (doneAtCancel < 0 && p.done >= after) {
          doneAtCancel = p.done;
          cancelledAt = performance.now();
          ac.abort();
        }
      },
    });
    let error: unknown = null;
    try {
      await run;
    } catch (e) {
      error = e;
    }
    return { doneAtCancel, settleMs: Math.round(performance.now() - cancelledAt), error };
  } finally {
    await store.close();
  }
}

export { ReverifyCancelled };

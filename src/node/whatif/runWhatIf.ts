// "What if over the whole run": every group re-scored as logged and with each member's effective
// verdict (the researcher's label, else the active verifier's, else the logged one), compared, and
// the most changed groups listed. Reads the run column-wise in batches (store/columns.ts), scores in
// slices that yield to the event loop (core/columnar.ts), and can be cancelled between any two.
import { WhatIfPass } from '../../core/columnar';
import { WHATIF_ROWS, type WhatIfViewModel } from '../../core/whatIfMessages';
import { ReadCancelled } from '../store/columns';
import type { RunStore } from '../store/store';

export interface WhatIfProgress {
  phase: 'read' | 'score';
  done: number;
  total: number;
}

export interface WhatIfOptions {
  signal?: AbortSignal;
  onProgress?: (p: WhatIfProgress) => void;
  /** groups scored between two yields to the event loop */
  slice?: number;
  rows?: number;
}

export class WhatIfCancelled extends Error {
  constructor() {
    super('what-if cancelled');
    this.name = 'WhatIfCancelled';
  }
}

export async function whatIfOverRun(store: RunStore, runId: string, opts: WhatIfOptions = {}): Promise<WhatIfViewModel> {
  const run = await store.getRun(runId);
  if (!run) throw new Error(`no run ${runId} in the store`);
  const t0 = performance.now();
  let read;
  try {
    read = await store.runColumns(runId, { signal: opts.signal, onProgress: (done, total) => opts.onProgress?.({ phase: 'read', done, total }) });
  } catch (e) {
    if (e instanceof ReadCancelled) throw new WhatIfCancelled();
    throw e;
  }
  const t1 = performance.now();
  const { cols } = read;
  const pass = new WhatIfPass(cols, read.settings);
  const slice = Math.max(1, opts.slice ?? 20_000);
  for (let g = 0; g < cols.groupCount; g += slice) {
    if (opts.signal?.aborted) throw new WhatIfCancelled();
    pass.add(g, Math.min(cols.groupCount, g + slice));
    opts.onProgress?.({ phase: 'score', done: Math.min(cols.groupCount, g + slice), total: cols.groupCount });
    await new Promise<void>((r) => setImmediate(r));
  }
  const keep = opts.rows ?? WHATIF_ROWS;
  const res = pass.finish(keep);
  const top = res.changed;
  const heads = await store.groupHeads(top.map((c) => read.groupIds[c.group] as number));
  const active = read.activeVerifier ? (await store.verifierVersions()).find((v) => v.id === read.activeVerifier) : undefined;
  const t2 = performance.now();
  return {
    runId,
    variant: run.variant,
    groups: res.groups,
    trajectories: res.trajectories,
    verdictChanges: res.verdictChanges,
    fromLabels: read.fromLabels,
    fromVerifier: read.fromVerifier,
    activeVerifier: read.activeVerifier ? { id: read.activeVerifier, name: active?.name ?? read.activeVerifier.slice(0, 12) } : null,
    groupsChanged: res.groupsChanged,
    signFlips: res.signFlips,
    replacementChanged: res.replacementChanged,
    deltaRTotal: res.deltaRTotal,
    sumAbsDeltaRTotal: res.sumAbsDeltaRTotal,
    sumAbsDeltaAdvantage: res.sumAbsDeltaAdvantage,
    failures: res.failures,
    legacyGroups: read.legacyGroups,
    rows: top.map((c) => {
      const id = read.groupIds[c.group] as number;
      const head = heads.get(id);
      return {
        groupId: id, step: head?.step ?? (read.steps[c.group] as number), promptId: head?.promptId ?? '', verdictChanges: c.verdictChanges,
        signFlips: c.signFlips, replacementChanged: c.replacementChanged, deltaRTotal: c.deltaRTotal, absDeltaAdvantage: c.absDeltaAdvantage,
      };
    }),
    changedGroups: res.changedGroups,
    readMs: t1 - t0,
    computeMs: t2 - t1,
  };
}

// Divergence audit and encoder what-if over stored runs.
//
// For a run, step or group: embed every trajectory (all M teachers of each prompt, as the trainer
// does) with an exported encoder folder, recompute D with the reward core's divergences(), and
// - compare it with the logged D, flagging each trajectory whose |ΔD| exceeds the tolerance;
// - re-score each group through whatIfGroup() with the new D as an override: how many
//   replacement choices change, how many advantage signs flip, and the distribution of ΔR_total.
// When the encoder and strategy are the run's own, this is an audit (flags are findings); with
// another encoder or strategy it is a what-if (differences are the point).
// Vectors are cached in the store under the encoder fingerprint and the text's sha256.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { divergences } from '../../core/reward';
import { splitMembers, whatIfGroup } from '../../core/rescore';
import type { RunStartEvent } from '../../core/protocol';
import { EncoderClient } from '../encoder/client';
import type { EncoderOptions } from '../encoder/engine';
import { CONFIG_FILE, EXPORT_COMMAND, effectiveSettings, fingerprintOf, readEncoderFolder, sha256File, type EmbedSettings, type Strategy } from '../encoder/folder';
import { textHash } from '../store/codec';
import type { GroupDetail, RunStoreApi, RunSummary } from '../store/types';

export const DEFAULT_TOLERANCE = 1e-3;

export interface AuditScope {
  runId?: string;
  step?: number;
  groupId?: number;
}

export interface AuditOptions {
  /** exported encoder folder; default: the run's encoder id when it is such a folder */
  encoderDir?: string;
  /** long-text strategy; default: the run's */
  strategy?: Strategy;
  /** |D_recomputed − D_logged| above this is flagged (default 1e-3) */
  tolerance?: number;
  encoderOptions?: Pick<EncoderOptions, 'threads' | 'device'>;
  batchSize?: number;
  /** texts embedded per round trip to the worker (bounds memory on big runs) */
  chunkTexts?: number;
  onProgress?: (p: { runId: string; done: number; total: number }) => void;
  signal?: AbortSignal;
}

export interface DivergenceFlag {
  runId: string;
  step: number;
  groupId: number;
  promptId: string;
  trajectoryId: string;
  trajectoryKey: number;
  logged: number;
  recomputed: number;
  delta: number;
}

export interface Quantiles {
  count: number;
  min: number;
  p05: number;
  p25: number;
  median: number;
  p75: number;
  p95: number;
  max: number;
  mean: number;
}

export interface GroupChange {
  groupId: number;
  step: number;
  promptId: string;
  replacedBefore: string[];
  replacedAfter: string[];
  signFlips: number;
}

export interface RunAudit {
  runId: string;
  /** audit: the run's own encoder and strategy; what-if: another encoder or strategy */
  mode: 'audit' | 'what-if';
  runEncoder: RunStartEvent['encoder'];
  encoder: {
    dir: string;
    fingerprint: string;
    settings: EmbedSettings;
    sourceModelId: string | null;
    /** true/false when the run logged a fingerprint to check against, else null */
    matchesRun: boolean | null;
    warnings: string[];
  } | null;
  /** why the run was not audited (no encoder, no folder), else null */
  skipped: string | null;
  tolerance: number;
  groups: number;
  trajectories: number;
  /** distinct texts embedded now / taken from the cache */
  embedded: number;
  cached: number;
  divergence: {
    compared: number;
    /** online members without a logged D */
    notLogged: number;
    flags: DivergenceFlag[];
    maxAbsDelta: number | null;
    deltaD: Quantiles | null;
  };
  whatIf: {
    groups: number;
    replacementChanged: number;
    signFlips: number;
    /** ΔR_total of online members */
    deltaR: Quantiles | null;
    changedGroups: GroupChange[];
  };
  /** groups that could not be re-scored, with the reason */
  errors: { groupId: number; message: string }[];
}

export function quantiles(values: readonly number[]): Quantiles | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  // Linear interpolation between order statistics (numpy's default).
  const q = (p: number) => {
    const pos = (s.length - 1) * p;
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (pos - lo);
  };
  return {
    count: s.length,
    min: s[0] as number,
    p05: q(0.05),
    p25: q(0.25),
    median: q(0.5),
    p75: q(0.75),
    p95: q(0.95),
    max: s[s.length - 1] as number,
    mean: s.reduce((a, b) => a + b, 0) / s.length,
  };
}

export class AuditError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuditError';
  }
}

interface Chosen {
  dir: string;
  settings: EmbedSettings;
  sameEncoder: boolean;
  matchesRun: boolean | null;
}

/** Which folder and settings reproduce (or vary) the run's embeddings. */
async function chooseEncoder(run: RunSummary, opts: AuditOptions): Promise<Chosen> {
  const enc = run.encoder;
  if (!enc) throw new AuditError(`run ${run.runId} (variant ${run.variant}) embeds nothing`);
  let dir = opts.encoderDir;
  if (!dir) {
    if (existsSync(join(enc.id, CONFIG_FILE))) dir = enc.id;
    else {
      throw new AuditError(
        `run ${run.runId} used encoder "${enc.id}" (strategy ${enc.strategy}${enc.fingerprint ? `, fingerprint ${enc.fingerprint.slice(0, 12)}…` : ''}), ` +
          `which is not an exported encoder folder; pass --encoder DIR, made with: ${EXPORT_COMMAND.replace('MODEL_PATH_OR_ID', enc.id)}`,
      );
    }
  }
  const folder = await readEncoderFolder(dir);
  const runSettings = effectiveSettings(folder, { pooling: enc.pooling, maxLength: enc.max_length, strategy: enc.strategy });
  let sameEncoder: boolean;
  let matchesRun: boolean | null = null;
  if (enc.fingerprint) {
    const digest = await sha256File(join(dir, 'model.onnx'));
    const candidates = [fingerprintOf(digest, runSettings)];
    if (folder.sourceWeightsSha256) candidates.push(fingerprintOf(folder.sourceWeightsSha256, runSettings));
    sameEncoder = matchesRun = candidates.includes(enc.fingerprint);
  } else {
    // Nothing to check against: trust the folder when it is the run's id or was exported from it.
    sameEncoder = !opts.encoderDir || dir === enc.id || folder.sourceModelId === enc.id;
  }
  const base = sameEncoder ? runSettings : effectiveSettings(folder, {});
  return { dir, settings: { ...base, strategy: opts.strategy ?? enc.strategy }, sameEncoder, matchesRun };
}

async function* groupsInScope(store: RunStoreApi, run: RunSummary, scope: AuditScope): AsyncGenerator<GroupDetail> {
  if (scope.groupId !== undefined) {
    const g = await store.getGroup(scope.groupId);
    if (g && g.runId === run.runId) yield g;
    return;
  }
  const steps = scope.step !== undefined ? [scope.step] : (await store.listSteps(run.runId)).map((s) => s.step);
  for (const step of steps) {
    for (const summary of await store.listGroups(run.runId, step)) {
      const g = await store.getGroup(summary.groupId);
      if (g) yield g;
    }
  }
}

async function embedCached(
  store: RunStoreApi,
  client: EncoderClient,
  texts: string[],
  opts: AuditOptions,
): Promise<{ vectors: Map<string, Float32Array>; embedded: number; cached: number }> {
  const fp = client.info.fingerprint;
  const byHash = new Map<string, string>();
  for (const t of texts) byHash.set(textHash(t), t);
  const vectors = await store.getEmbeddings(fp, [...byHash.keys()]);
  const cached = vectors.size;
  const missing = [...byHash.entries()].filter(([h]) => !vectors.has(h));
  if (missing.length > 0) {
    const out = await client.embed(
      missing.map(([, t]) => t),
      { batchSize: opts.batchSize, signal: opts.signal },
    );
    const entries = missing.map(([h], i) => ({ textHash: h, vector: out.vectors.slice(i * out.dim, (i + 1) * out.dim) }));
    for (const e of entries) vectors.set(e.textHash, e.vector);
    await store.putEmbeddings(fp, entries);
  }
  return { vectors, embedded: missing.length, cached };
}

function emptyAudit(run: RunSummary, tolerance: number): RunAudit {
  return {
    runId: run.runId,
    mode: 'audit',
    runEncoder: run.encoder,
    encoder: null,
    skipped: null,
    tolerance,
    groups: 0,
    trajectories: 0,
    embedded: 0,
    cached: 0,
    divergence: { compared: 0, notLogged: 0, flags: [], maxAbsDelta: null, deltaD: null },
    whatIf: { groups: 0, replacementChanged: 0, signFlips: 0, deltaR: null, changedGroups: [] },
    errors: [],
  };
}

/** Audits (or what-ifs) one run over the scope. The client is created here unless one is given. */
export async function auditRun(store: RunStoreApi, runId: string, scope: AuditScope, opts: AuditOptions = {}, client?: EncoderClient): Promise<RunAudit> {
  const run = await store.getRun(runId);
  if (!run) throw new AuditError(`no run ${runId} in the store`);
  const result = emptyAudit(run, opts.tolerance ?? DEFAULT_TOLERANCE);
  const tolerance = result.tolerance;
  if (!run.encoder) {
    result.skipped = `variant ${run.variant} logs no divergence (no encoder)`;
    return result;
  }
  const chosen = await chooseEncoder(run, opts);
  const own = client ?? (await EncoderClient.start(chosen.dir, { ...chosen.settings, ...opts.encoderOptions }));
  try {
    result.mode = chosen.sameEncoder && chosen.settings.strategy === run.encoder.strategy ? 'audit' : 'what-if';
    result.encoder = {
      dir: chosen.dir,
      fingerprint: own.info.fingerprint,
      settings: own.info.settings,
      sourceModelId: own.info.sourceModelId,
      matchesRun: chosen.matchesRun,
      warnings: own.info.warnings,
    };
    const deltasD: number[] = [];
    const deltasR: number[] = [];
    const total = scope.groupId !== undefined ? 0 : run.trajectoryCount;
    const chunkTexts = opts.chunkTexts ?? 2000;
    let pending: GroupDetail[] = [];
    let pendingTexts = 0;

    const flush = async () => {
      if (pending.length === 0) return;
      if (opts.signal?.aborted) throw new AuditError('audit cancelled');
      const texts = pending.flatMap((g) => g.trajectories.map((t) => t.event.text));
      const { vectors, embedded, cached } = await embedCached(store, own, texts, opts);
      result.embedded += embedded;
      result.cached += cached;
      for (const g of pending) scoreGroup(g, vectors);
      result.trajectories += texts.length;
      opts.onProgress?.({ runId, done: result.trajectories, total: Math.max(total, result.trajectories) });
      pending = [];
      pendingTexts = 0;
    };

    const scoreGroup = (g: GroupDetail, vectors: Map<string, Float32Array>) => {
      result.groups++;
      const events = g.trajectories.map((t) => t.event);
      const { online, offline } = splitMembers(events);
      const vec = (text: string) => vectors.get(textHash(text)) as Float32Array;
      const ds = divergences(online.map((t) => vec(t.text)), offline.map((t) => vec(t.text)));
      const keyOf = new Map(g.trajectories.map((t) => [t.event.id, t.trajectoryKey]));
      const overrides = new Map<string, number>();
      online.forEach((t, i) => {
        const d = ds[i];
        if (d === null || d === undefined) return;
        overrides.set(t.id, d);
        const logged = t.divergence;
        if (logged === null || logged === undefined) {
          result.divergence.notLogged++;
          return;
        }
        result.divergence.compared++;
        const delta = d - logged;
        deltasD.push(delta);
        if (Math.abs(delta) > tolerance) {
          result.divergence.flags.push({
            runId, step: g.step, groupId: g.groupId, promptId: g.promptId, trajectoryId: t.id,
            trajectoryKey: keyOf.get(t.id) as number, logged, recomputed: d, delta,
          });
        }
      });
      if (offline.length === 0) return; // D undefined: nothing to re-score
      try {
        const w = whatIfGroup(events, g.reward, { divergences: overrides });
        result.whatIf.groups++;
        result.whatIf.signFlips += w.signFlips;
        if (w.replacementChanged) result.whatIf.replacementChanged++;
        for (const m of w.members) if (m.before.source === 'online' && m.deltaTotal !== null) deltasR.push(m.deltaTotal);
        if (w.replacementChanged || w.signFlips > 0) {
          result.whatIf.changedGroups.push({
            groupId: g.groupId, step: g.step, promptId: g.promptId,
            replacedBefore: w.members.filter((m) => m.before.replaced).map((m) => m.id),
            replacedAfter: w.members.filter((m) => m.after.replaced).map((m) => m.id),
            signFlips: w.signFlips,
          });
        }
      } catch (e) {
        result.errors.push({ groupId: g.groupId, message: (e as Error).message });
      }
    };

    for await (const g of groupsInScope(store, run, scope)) {
      pending.push(g);
      pendingTexts += g.trajectories.length;
      if (pendingTexts >= chunkTexts) await flush();
    }
    await flush();
    result.divergence.deltaD = quantiles(deltasD);
    result.divergence.maxAbsDelta = deltasD.length ? Math.max(...deltasD.map(Math.abs)) : null;
    result.whatIf.deltaR = quantiles(deltasR);
    return result;
  } finally {
    if (!client) await own.dispose();
  }
}

/** Every run in the scope: one run, the run of one group, or all runs of the store. */
export async function auditScope(store: RunStoreApi, scope: AuditScope, opts: AuditOptions = {}): Promise<RunAudit[]> {
  let runIds: string[];
  if (scope.groupId !== undefined) {
    const g = await store.getGroup(scope.groupId);
    if (!g) throw new AuditError(`no group ${scope.groupId} in the store`);
    if (scope.runId !== undefined && scope.runId !== g.runId) throw new AuditError(`group ${scope.groupId} belongs to run ${g.runId}, not ${scope.runId}`);
    runIds = [g.runId];
  } else if (scope.runId !== undefined) {
    runIds = [scope.runId];
  } else {
    runIds = (await store.listRuns()).map((r) => r.runId);
  }
  const out: RunAudit[] = [];
  for (const id of runIds) {
    try {
      out.push(await auditRun(store, id, scope, opts));
    } catch (e) {
      // One run without a usable encoder folder must not hide the others when all are audited.
      const run = runIds.length > 1 && e instanceof AuditError ? await store.getRun(id) : null;
      if (!run) throw e;
      const skipped = emptyAudit(run, opts.tolerance ?? DEFAULT_TOLERANCE);
      skipped.skipped = (e as Error).message;
      out.push(skipped);
    }
  }
  return out;
}

// Re-scoring stored groups: audits (recompute from logged components and flag mismatches),
// what-ifs (relabels, new verdicts or new divergences), and the lints a researcher should see.
// Works on protocol-shaped trajectories so the store, the CLI and the webviews share one path.
import { groupRewardStd, scoreGroup, type GroupScore } from './reward';
import type { RewardSettings, TrajectoryEvent, Verdict } from './protocol';

/** The fields of a stored trajectory that re-scoring reads. */
export type ScoredTrajectory = Pick<
  TrajectoryEvent,
  'id' | 'source' | 'verdict' | 'divergence' | 'entropy_last' | 'r_oger' | 'r_total' | 'advantage' | 'replaced' | 'inserted' | 'embedding_truncated'
> & { index?: number };

export type LintKind =
  | 'offline-negative-advantage'
  | 'zero-std-group'
  | 'divergence-above-1'
  | 'embedding-truncated'
  | 'verifier-error'
  /** text-only (core/repetition.ts): found at ingest, never changed by a what-if */
  | 'runaway-repetition';

/**
 * The verdict a relabel means for re-scoring (the inspector's what-if, the whole-run what-if, the
 * table's sign flips). A flagged reward hack should not have been paid; a note changes nothing.
 */
export const RELABEL_VERDICT: Readonly<Record<'correct' | 'wrong' | 'hack', Verdict>> = { correct: 'correct', wrong: 'wrong', hack: 'wrong' };

export function verdictOfRelabel(label: string | null | undefined): Verdict | null {
  return label === 'correct' || label === 'wrong' || label === 'hack' ? RELABEL_VERDICT[label] : null;
}

export interface Lint {
  kind: LintKind;
  /** null for group-wide lints */
  trajectoryId: string | null;
  message: string;
}

export const LINT_LABELS: Record<LintKind, string> = {
  'offline-negative-advantage': 'teacher with negative advantage',
  'zero-std-group': 'zero reward std (no learning signal)',
  'divergence-above-1': 'D > 1 (mean cosine negative)',
  'embedding-truncated': 'embedding truncated by the encoder',
  'verifier-error': 'verifier error',
  'runaway-repetition': 'runaway repetition (the response loops)',
};

function correctOf(verdict: Verdict): boolean | null {
  return verdict === 'correct' ? true : verdict === 'wrong' ? false : null;
}

/** Online members in index order, offline members in index order (stored order is not trusted). */
export function splitMembers<T extends ScoredTrajectory>(trajectories: readonly T[]): { online: T[]; offline: T[] } {
  const byIndex = (a: T, b: T) => (a.index ?? 0) - (b.index ?? 0);
  return {
    online: trajectories.filter((t) => t.source === 'online').sort(byIndex),
    offline: trajectories.filter((t) => t.source === 'offline').sort(byIndex),
  };
}

export interface GroupOverrides {
  /** trajectory id → verdict to use instead of the logged one (relabels, a new verifier) */
  verdicts?: ReadonlyMap<string, Verdict>;
  /** trajectory id → divergence to use instead of the logged one (encoder what-ifs) */
  divergences?: ReadonlyMap<string, number>;
}

export interface MemberScore {
  id: string;
  source: 'online' | 'offline';
  verdict: Verdict;
  divergence: number | null;
  rOger: number | null;
  rTotal: number | null;
  advantage: number | null;
  replaced: boolean;
  inserted: boolean;
}

/**
 * Recomputes one group from its components. The inserted teachers stay the ones logged (the
 * random draw is part of the record); which online member is replaced is recomputed, because
 * new divergences can change it.
 */
export function rescoreGroup(
  trajectories: readonly ScoredTrajectory[],
  settings: RewardSettings,
  overrides: GroupOverrides = {},
): MemberScore[] {
  const { online, offline } = splitMembers(trajectories);
  const verdictOf = (t: ScoredTrajectory): Verdict => overrides.verdicts?.get(t.id) ?? t.verdict;
  const divOf = (t: ScoredTrajectory): number | null => overrides.divergences?.get(t.id) ?? t.divergence ?? null;
  const inserted = offline.map((t, j) => (t.inserted ? j : -1)).filter((j) => j >= 0);
  const replaceCount = settings.variant === 'grpo' ? 0 : inserted.length;
  let score: GroupScore;
  try {
    score = scoreGroup({
      variant: settings.variant,
      replace: replaceCount,
      advantage: settings.advantage,
      online: online.map((t) => ({
        divergence: divOf(t),
        // A missing entropy only matters for correct members; 0 would silently inflate them.
        entropyLast: t.entropy_last ?? (settings.variant === 'oger' ? Number.POSITIVE_INFINITY : null),
        correct: correctOf(verdictOf(t)),
      })),
      offline: offline.map((t) => ({ correct: correctOf(verdictOf(t)) })),
      insertedOffline: inserted.slice(0, Math.min(replaceCount, online.length)),
    });
  } catch (e) {
    throw new Error(`cannot re-score group: ${(e as Error).message}`);
  }
  const replacedSet = new Set(score.replaced);
  const advOnline = new Map<number, number>();
  const advOffline = new Map<number, number>();
  for (const m of score.group) (m.source === 'online' ? advOnline : advOffline).set(m.index, m.advantage);
  const out: MemberScore[] = online.map((t, i) => ({
    id: t.id,
    source: 'online',
    verdict: verdictOf(t),
    divergence: divOf(t),
    rOger: score.online[i]?.explorationReward ?? 0,
    rTotal: score.online[i]?.totalReward ?? null,
    advantage: advOnline.get(i) ?? null,
    replaced: replacedSet.has(i),
    inserted: false,
  }));
  offline.forEach((t, j) => {
    const inGroup = advOffline.has(j);
    out.push({
      id: t.id,
      source: 'offline',
      verdict: verdictOf(t),
      divergence: null,
      rOger: null,
      rTotal: inGroup ? (correctOf(verdictOf(t)) === true ? 1 : 0) : null,
      advantage: advOffline.get(j) ?? null,
      replaced: false,
      inserted: inGroup,
    });
  });
  return out;
}

export interface AuditFlag {
  trajectoryId: string;
  field: 'r_oger' | 'r_total' | 'advantage' | 'replaced';
  logged: number | boolean | null;
  recomputed: number | boolean | null;
}

function differs(a: number | null | undefined, b: number | null, tol: number): boolean {
  if (a === null || a === undefined || b === null) return (a ?? null) !== b;
  return Math.abs(a - b) > tol * Math.max(1, Math.abs(a), Math.abs(b));
}

/** Recomputes a group from its logged components and lists every logged value that differs. */
export function auditGroup(trajectories: readonly ScoredTrajectory[], settings: RewardSettings, tol = 1e-6): AuditFlag[] {
  const recomputed = rescoreGroup(trajectories, settings);
  const byId = new Map(trajectories.map((t) => [t.id, t]));
  const flags: AuditFlag[] = [];
  for (const r of recomputed) {
    const t = byId.get(r.id) as ScoredTrajectory;
    if (r.source === 'online') {
      if (differs(t.r_oger, r.rOger, tol)) flags.push({ trajectoryId: r.id, field: 'r_oger', logged: t.r_oger ?? null, recomputed: r.rOger });
      if (t.replaced !== r.replaced) flags.push({ trajectoryId: r.id, field: 'replaced', logged: t.replaced, recomputed: r.replaced });
    }
    if (differs(t.r_total, r.rTotal, tol)) flags.push({ trajectoryId: r.id, field: 'r_total', logged: t.r_total ?? null, recomputed: r.rTotal });
    if (differs(t.advantage, r.advantage, tol)) flags.push({ trajectoryId: r.id, field: 'advantage', logged: t.advantage ?? null, recomputed: r.advantage });
  }
  return flags;
}

export interface MemberChange {
  id: string;
  before: MemberScore;
  after: MemberScore;
  deltaTotal: number | null;
  deltaAdvantage: number | null;
  signFlip: boolean;
}

export interface WhatIfResult {
  members: MemberChange[];
  signFlips: number;
  replacementChanged: boolean;
  lintsBefore: Lint[];
  lintsAfter: Lint[];
}

function sign(x: number | null): number {
  if (x === null || Math.abs(x) < 1e-12) return 0;
  return x > 0 ? 1 : -1;
}

/** Re-scores a group as logged and under the overrides, and reports what changed. */
export function whatIfGroup(
  trajectories: readonly ScoredTrajectory[],
  settings: RewardSettings,
  overrides: GroupOverrides,
): WhatIfResult {
  const before = rescoreGroup(trajectories, settings);
  const after = rescoreGroup(trajectories, settings, overrides);
  const members: MemberChange[] = before.map((b, i) => {
    const a = after[i] as MemberScore;
    const dT = a.rTotal !== null && b.rTotal !== null ? a.rTotal - b.rTotal : null;
    const dA = a.advantage !== null && b.advantage !== null ? a.advantage - b.advantage : null;
    const flip = b.advantage !== null && a.advantage !== null && sign(b.advantage) !== sign(a.advantage) && sign(b.advantage) * sign(a.advantage) !== 0;
    return { id: b.id, before: b, after: a, deltaTotal: dT, deltaAdvantage: dA, signFlip: flip };
  });
  const replacedBefore = before.filter((m) => m.replaced).map((m) => m.id).join(',');
  const replacedAfter = after.filter((m) => m.replaced).map((m) => m.id).join(',');
  const asLogged = (scores: MemberScore[]): ScoredTrajectory[] =>
    scores.map((s) => {
      const t = trajectories.find((x) => x.id === s.id) as ScoredTrajectory;
      return { ...t, verdict: s.verdict, divergence: s.divergence, r_oger: s.rOger, r_total: s.rTotal, advantage: s.advantage, replaced: s.replaced, inserted: s.inserted };
    });
  return {
    members,
    signFlips: members.filter((m) => m.signFlip).length,
    replacementChanged: replacedBefore !== replacedAfter,
    lintsBefore: lintGroup(asLogged(before), settings),
    lintsAfter: lintGroup(asLogged(after), settings),
  };
}

/** The flags a researcher should see on a group, from its logged values. */
export function lintGroup(trajectories: readonly ScoredTrajectory[], settings: RewardSettings): Lint[] {
  const lints: Lint[] = [];
  const inGroup = trajectories.filter((t) => (t.source === 'online' && !t.replaced) || (t.source === 'offline' && t.inserted));
  for (const t of trajectories) {
    if (t.source === 'offline' && t.inserted && typeof t.advantage === 'number' && t.advantage < 0) {
      lints.push({ kind: 'offline-negative-advantage', trajectoryId: t.id, message: `teacher ${t.id} has advantage ${t.advantage.toFixed(3)}: its correct demonstration is pushed down` });
    }
    if (t.source === 'online' && typeof t.divergence === 'number' && t.divergence > 1) {
      lints.push({ kind: 'divergence-above-1', trajectoryId: t.id, message: `D = ${t.divergence.toFixed(3)} > 1: mean cosine to the teachers is negative` });
    }
    if (t.embedding_truncated) {
      lints.push({ kind: 'embedding-truncated', trajectoryId: t.id, message: `the encoder truncated ${t.id}: D reflects only its opening` });
    }
    if (t.verdict === 'error') {
      lints.push({ kind: 'verifier-error', trajectoryId: t.id, message: `the verifier errored on ${t.id}; it scored R_m = 0` });
    }
  }
  const rewards = inGroup.map((t) => t.r_total).filter((r): r is number => typeof r === 'number');
  if (rewards.length > 1 && rewards.length === inGroup.length && groupRewardStd(rewards, settings.advantage.std) < 1e-12) {
    lints.push({ kind: 'zero-std-group', trajectoryId: null, message: `every member has R_total = ${rewards[0]?.toFixed(3)}: advantages are all 0` });
  }
  return lints;
}

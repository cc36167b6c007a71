// Reward and advantage maths for OGER, LUFFY and GRPO.
// The Python backend (python/reward_lens/reward.py) implements the same functions; both must
// pass test/vectors/*.json. Every convention the paper leaves open is pinned here and in
// docs/conventions.md, and a change to one is a change to both languages and the vectors.

// What each variant does (offline members, replacement, exploration reward, entropy confidence,
// encoder) comes from the data file both languages read: src/core/variants.ts.
import { VARIANT_TRAITS, givesExplorationReward, usesEntropyConfidence, usesOffline, type Variant } from './variants';
export { VARIANTS, isVariant, usesOffline, usesDivergenceReplacement, givesExplorationReward, usesEntropyConfidence, needsEncoder, type Variant } from './variants';

export const STD_MODES = ['sample', 'population', 'none'] as const;
export type StdMode = (typeof STD_MODES)[number];

export interface AdvantageOptions {
  std: StdMode;
  eps: number;
}

// verl's compute_grpo_outcome_advantage: torch.std (ddof = 1) and eps = 1e-6.
export const DEFAULT_ADVANTAGE: Readonly<AdvantageOptions> = Object.freeze({ std: 'sample', eps: 1e-6 });

/** L2-normalised copy, or null for a zero (or non-finite) vector. */
export function normalized(v: ArrayLike<number>): Float64Array | null {
  let sq = 0;
  for (let i = 0; i < v.length; i++) sq += (v[i] as number) * (v[i] as number);
  const norm = Math.sqrt(sq);
  if (!(norm > 0) || !Number.isFinite(norm)) return null;
  const out = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = (v[i] as number) / norm;
  return out;
}

/** Cosine similarity. A zero vector has cosine 0 with everything (pinned convention). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`cosine: dimension mismatch ${a.length} vs ${b.length}`);
  const na = normalized(a);
  const nb = normalized(b);
  if (!na || !nb) return 0;
  let dot = 0;
  for (let i = 0; i < na.length; i++) dot += (na[i] as number) * (nb[i] as number);
  return dot;
}

/**
 * D_i = 1 − (1/M) Σ_j cos(E_i, E_j) for every online embedding.
 * The mean of cosines equals the dot product of the normalised E_i with the mean of the
 * normalised E_j, so this is O(d) per online trajectory instead of O(M·d).
 * Returns null entries when there are no offline embeddings (D is undefined then).
 */
export function divergences(online: ArrayLike<number>[], offline: ArrayLike<number>[]): (number | null)[] {
  if (offline.length === 0) return online.map(() => null);
  const dim = (offline[0] as ArrayLike<number>).length;
  const centroid = new Float64Array(dim);
  for (const e of offline) {
    if (e.length !== dim) throw new Error(`divergence: offline embeddings differ in dimension (${e.length} vs ${dim})`);
    const n = normalized(e);
    if (!n) continue;
    for (let k = 0; k < dim; k++) (centroid[k] as number) += n[k] as number;
  }
  for (let k = 0; k < dim; k++) centroid[k] = (centroid[k] as number) / offline.length;
  return online.map((e) => {
    if (e.length !== dim) throw new Error(`divergence: online embedding has dimension ${e.length}, offline ${dim}`);
    const n = normalized(e);
    if (!n) return 1;
    let dot = 0;
    for (let k = 0; k < dim; k++) dot += (n[k] as number) * (centroid[k] as number);
    return 1 - dot;
  });
}

/** exp(−H_last): the policy's confidence at its last generated token. */
export function confidenceFromEntropy(entropyLast: number): number {
  return Math.exp(-entropyLast);
}

export interface ExplorationTerms {
  confidence: number;
  explorationReward: number;
}

/**
 * R_OGER for one online member. Zero for wrong answers and for variants without the bonus.
 * confidence is exp(−H) for the refined variant, 1 otherwise ("not refined").
 */
export function explorationTerms(
  variant: Variant,
  divergence: number | null,
  entropyLast: number | null,
  rewardM: number,
): ExplorationTerms {
  const refined = usesEntropyConfidence(variant);
  if (refined && entropyLast === null) throw new Error(`last_token_entropy is required for variant ${variant}`);
  const confidence = refined ? confidenceFromEntropy(entropyLast as number) : 1;
  if (!givesExplorationReward(variant) || divergence === null || rewardM === 0) {
    return { confidence, explorationReward: 0 };
  }
  return { confidence, explorationReward: divergence * confidence * rewardM };
}

/**
 * Indices of the online members that leave the group, in the order they were chosen.
 * - OGER variants: lowest divergence first; ties go to the lower index.
 * - luffy: the last k members, ascending.
 * - grpo: none.
 * k is clipped to the number of online and offline members available.
 */
export function selectReplaced(
  variant: Variant,
  onlineDivergences: (number | null)[],
  replace: number,
  offlineCount: number,
): number[] {
  if (!usesOffline(variant)) return [];
  const n = onlineDivergences.length;
  const k = Math.max(0, Math.min(replace, n, offlineCount));
  if (k === 0) return [];
  if (VARIANT_TRAITS[variant].replacement === 'last') {
    return Array.from({ length: k }, (_, i) => n - k + i);
  }
  const order = onlineDivergences.map((d, i) => ({ d, i }));
  if (order.some((o) => o.d === null)) {
    throw new Error('divergence-aware replacement needs a divergence for every online member');
  }
  order.sort((a, b) => (a.d as number) - (b.d as number) || a.i - b.i);
  return order.slice(0, k).map((o) => o.i);
}

/** The mean and std a group's advantages are normalised by (before eps). */
export interface AdvantageStats {
  mean: number;
  std: number;
}

/**
 * The statistics of GRPO's normalisation: mean and std of the group's rewards.
 * - sample: ddof = 1 (torch.std, verl); population: ddof = 0 (numpy's default); none: std unused.
 * - A group of one gets mean 0 and std 1, as verl does.
 */
export function advantageStats(rewards: readonly number[], opts: AdvantageOptions = DEFAULT_ADVANTAGE): AdvantageStats {
  const n = rewards.length;
  if (n <= 1) return { mean: 0, std: 1 };
  let sum = 0;
  for (const r of rewards) sum += r;
  const mean = sum / n;
  let sq = 0;
  for (const r of rewards) sq += (r - mean) * (r - mean);
  return { mean, std: Math.sqrt(sq / (opts.std === 'population' ? n : n - 1)) };
}

/**
 * GRPO group advantages: A = (R − mean) / (std + eps), or R − mean when std is 'none'
 * (statistics from advantageStats: a group of one gives A = R / (1 + eps), 'none': A = R).
 */
export function groupAdvantages(rewards: readonly number[], opts: AdvantageOptions = DEFAULT_ADVANTAGE): number[] {
  if (rewards.length === 0) return [];
  const { mean, std } = advantageStats(rewards, opts);
  if (opts.std === 'none') return rewards.map((r) => r - mean);
  return rewards.map((r) => (r - mean) / (std + opts.eps));
}

/** Std of a group's rewards with the estimator in use (0 for a singleton): a zero-std group teaches nothing. */
export function groupRewardStd(rewards: readonly number[], mode: StdMode = 'sample'): number {
  const n = rewards.length;
  if (n < 2) return 0;
  const mean = rewards.reduce((a, b) => a + b, 0) / n;
  const sq = rewards.reduce((a, r) => a + (r - mean) * (r - mean), 0);
  return Math.sqrt(sq / (mode === 'population' ? n : n - 1));
}

export function rewardFromCorrect(correct: boolean | null): number {
  // A verifier error scores 0 in the maths but is never silent: it keeps verdict 'error' and a lint.
  return correct === true ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Scoring one prompt's group from components (divergence already known).

export interface OnlineComponents {
  divergence: number | null;
  entropyLast: number | null;
  correct: boolean | null;
}

export interface OfflineComponents {
  correct: boolean | null;
}

export interface GroupSpec {
  variant: Variant;
  replace: number;
  advantage: AdvantageOptions;
  online: OnlineComponents[];
  offline: OfflineComponents[];
  /** Offline indices that fill the freed slots, one per replaced member, in replacement order. */
  insertedOffline?: number[];
}

export interface OnlineScore {
  divergence: number | null;
  confidence: number;
  explorationReward: number;
  totalReward: number;
}

export interface GroupMember {
  source: 'online' | 'offline';
  index: number;
  totalReward: number;
  advantage: number;
}

export interface GroupScore {
  online: OnlineScore[];
  replaced: number[];
  group: GroupMember[];
}

/**
 * Scores one group. The final group keeps the online members in order, and each replaced
 * member's slot is taken in place by the offline member drawn for it (pinned convention;
 * the order changes no advantage).
 */
export function scoreGroup(spec: GroupSpec): GroupScore {
  const { variant } = spec;
  const online: OnlineScore[] = spec.online.map((m) => {
    const rm = rewardFromCorrect(m.correct);
    const t = explorationTerms(variant, m.divergence, m.entropyLast, rm);
    return {
      divergence: m.divergence,
      confidence: t.confidence,
      explorationReward: t.explorationReward,
      totalReward: rm + t.explorationReward,
    };
  });
  const offlineCount = usesOffline(variant) ? spec.offline.length : 0;
  const replaced = selectReplaced(
    variant,
    spec.online.map((m) => m.divergence),
    spec.replace,
    offlineCount,
  );
  const inserted = spec.insertedOffline ?? replaced.map((_, i) => i);
  if (inserted.length !== replaced.length) {
    throw new Error(
      `inserted_offline has ${inserted.length} entries but ${replaced.length} online members are replaced`,
    );
  }
  const seen = new Set<number>();
  for (const j of inserted) {
    if (!Number.isInteger(j) || j < 0 || j >= offlineCount) {
      throw new Error(`inserted_offline entry ${j} is not an offline index in [0, ${offlineCount})`);
    }
    if (seen.has(j)) throw new Error(`inserted_offline lists offline member ${j} twice`);
    seen.add(j);
  }
  const slotOf = new Map<number, number>();
  replaced.forEach((i, r) => slotOf.set(i, inserted[r] as number));
  const members: Omit<GroupMember, 'advantage'>[] = online.map((s, i) => {
    const j = slotOf.get(i);
    if (j === undefined) return { source: 'online', index: i, totalReward: s.totalReward };
    const off = spec.offline[j] as OfflineComponents;
    return { source: 'offline', index: j, totalReward: rewardFromCorrect(off.correct) };
  });
  const adv = groupAdvantages(
    members.map((m) => m.totalReward),
    spec.advantage,
  );
  // An explicit literal, not a spread: the spread was a fifth of a 2M-trajectory re-score (bench/).
  return {
    online,
    replaced,
    group: members.map((m, i) => ({ source: m.source, index: m.index, totalReward: m.totalReward, advantage: adv[i] as number })),
  };
}

// The JSON contract of `reward-lens reward` and `python -m reward_lens.reward`:
// one case in, one result out, with embeddings instead of precomputed divergences.
import {
  DEFAULT_ADVANTAGE,
  STD_MODES,
  divergences,
  isVariant,
  needsEncoder,
  scoreGroup,
  usesEntropyConfidence,
  usesOffline,
  VARIANTS,
  type AdvantageOptions,
  type StdMode,
  type Variant,
} from './reward';

export interface RewardCase {
  variant: Variant;
  replace: number;
  advantage: AdvantageOptions;
  online: { embedding: number[] | null; last_token_entropy: number | null; correct: boolean | null }[];
  offline: { embedding: number[] | null; correct: boolean | null }[];
  inserted_offline?: number[];
}

export interface RewardResult {
  online: { divergence: number | null; confidence: number; exploration_reward: number; total_reward: number }[];
  replaced: number[];
  group: { source: 'online' | 'offline'; index: number; total_reward: number; advantage: number }[];
}

export class CaseError extends Error {}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function finiteNumber(x: unknown, where: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) {
    throw new CaseError(`${where} must be a finite number, got ${JSON.stringify(x)}`);
  }
  return x;
}

function embedding(x: unknown, where: string): number[] | null {
  if (x === undefined || x === null) return null;
  if (!Array.isArray(x) || x.length === 0) throw new CaseError(`${where} must be a non-empty array of numbers`);
  return x.map((v, k) => finiteNumber(v, `${where}[${k}]`));
}

function correctness(x: unknown, where: string): boolean | null {
  if (x === null || typeof x === 'boolean') return x;
  throw new CaseError(`${where} must be true, false or null (verifier error), got ${JSON.stringify(x)}`);
}

/** Validates one case; every error names the offending field and value. */
export function parseRewardCase(x: unknown, where = 'case'): RewardCase {
  if (!isObject(x)) throw new CaseError(`${where} must be an object`);
  const variant = x.variant ?? 'oger';
  if (!isVariant(variant)) throw new CaseError(`${where}.variant must be one of ${VARIANTS.join(', ')}; got ${JSON.stringify(variant)}`);
  const replace = x.replace ?? 1;
  if (typeof replace !== 'number' || !Number.isInteger(replace) || replace < 0) {
    throw new CaseError(`${where}.replace must be a non-negative integer, got ${JSON.stringify(replace)}`);
  }
  const advIn = x.advantage ?? {};
  if (!isObject(advIn)) throw new CaseError(`${where}.advantage must be an object`);
  const std = advIn.std ?? DEFAULT_ADVANTAGE.std;
  if (typeof std !== 'string' || !(STD_MODES as readonly string[]).includes(std)) {
    throw new CaseError(`${where}.advantage.std must be sample, population or none; got ${JSON.stringify(std)}`);
  }
  const eps = finiteNumber(advIn.eps ?? DEFAULT_ADVANTAGE.eps, `${where}.advantage.eps`);
  if (eps < 0) throw new CaseError(`${where}.advantage.eps must be >= 0, got ${eps}`);
  if (!Array.isArray(x.online) || x.online.length === 0) {
    throw new CaseError(`${where}.online must be a non-empty array`);
  }
  const online = x.online.map((m: unknown, i: number) => {
    const w = `${where}.online[${i}]`;
    if (!isObject(m)) throw new CaseError(`${w} must be an object`);
    const h = m.last_token_entropy;
    let entropy: number | null = null;
    if (h !== undefined && h !== null) {
      entropy = finiteNumber(h, `${w}.last_token_entropy`);
      if (entropy < 0) throw new CaseError(`${w}.last_token_entropy must be >= 0 nats, got ${entropy}`);
    } else if (usesEntropyConfidence(variant)) {
      throw new CaseError(`${w}.last_token_entropy is required for variant ${variant}`);
    }
    return { embedding: embedding(m.embedding, `${w}.embedding`), last_token_entropy: entropy, correct: correctness(m.correct, `${w}.correct`) };
  });
  const offIn = x.offline ?? [];
  if (!Array.isArray(offIn)) throw new CaseError(`${where}.offline must be an array`);
  const offline = offIn.map((m: unknown, j: number) => {
    const w = `${where}.offline[${j}]`;
    if (!isObject(m)) throw new CaseError(`${w} must be an object`);
    // A missing key is a kept (hence correct) teacher; null is a verifier error: R = 0, never correct.
    return { embedding: embedding(m.embedding, `${w}.embedding`), correct: correctness(m.correct === undefined ? true : m.correct, `${w}.correct`) };
  });
  let inserted: number[] | undefined;
  if (x.inserted_offline !== undefined && x.inserted_offline !== null) {
    if (!Array.isArray(x.inserted_offline)) throw new CaseError(`${where}.inserted_offline must be an array of offline indices`);
    inserted = x.inserted_offline.map((v: unknown, k: number) => {
      const n = finiteNumber(v, `${where}.inserted_offline[${k}]`);
      if (!Number.isInteger(n)) throw new CaseError(`${where}.inserted_offline[${k}] must be an integer, got ${n}`);
      return n;
    });
  }
  if (needsEncoder(variant) && offline.length > 0) {
    online.forEach((m, i) => {
      if (!m.embedding) throw new CaseError(`${where}.online[${i}].embedding is required for variant ${variant}`);
    });
    offline.forEach((m, j) => {
      if (!m.embedding) throw new CaseError(`${where}.offline[${j}].embedding is required for variant ${variant}`);
    });
  }
  const out: RewardCase = { variant, replace, advantage: { std: std as StdMode, eps }, online, offline };
  if (inserted) out.inserted_offline = inserted;
  return out;
}

export function evaluateRewardCase(c: RewardCase): RewardResult {
  const haveAll = usesOffline(c.variant) && c.offline.length > 0 && c.online.every((m) => m.embedding) && c.offline.every((m) => m.embedding);
  const ds = haveAll
    ? divergences(c.online.map((m) => m.embedding as number[]), c.offline.map((m) => m.embedding as number[]))
    : c.online.map(() => null);
  let score;
  try {
    score = scoreGroup({
      variant: c.variant,
      replace: c.replace,
      advantage: c.advantage,
      online: c.online.map((m, i) => ({ divergence: ds[i] ?? null, entropyLast: m.last_token_entropy, correct: m.correct })),
      offline: usesOffline(c.variant) ? c.offline.map((m) => ({ correct: m.correct })) : [],
      ...(usesOffline(c.variant) && c.inserted_offline ? { insertedOffline: c.inserted_offline } : {}),
    });
  } catch (e) {
    throw new CaseError((e as Error).message);
  }
  return {
    online: score.online.map((s) => ({
      divergence: s.divergence,
      confidence: s.confidence,
      exploration_reward: s.explorationReward,
      total_reward: s.totalReward,
    })),
    replaced: score.replaced,
    group: score.group.map((m) => ({ source: m.source, index: m.index, total_reward: m.totalReward, advantage: m.advantage })),
  };
}

/** One case or an array of cases, as `reward-lens reward --in FILE` accepts them. */
export function evaluateRewardInput(input: unknown): RewardResult | RewardResult[] {
  if (Array.isArray(input)) return input.map((c, i) => evaluateRewardCase(parseRewardCase(c, `case[${i}]`)));
  return evaluateRewardCase(parseRewardCase(input));
}

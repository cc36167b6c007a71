// What each reward variant does, from the one data file both languages read
// (python/reward_lens/variants.json; the Python side is reward_lens/variants.py). The shared
// vectors (test/vectors/reward_cases.json) check every trait in both languages.
import data from '../../python/reward_lens/variants.json';

export type Variant = keyof typeof data.variants;
export type Replacement = 'none' | 'last' | 'lowest-divergence';

export interface VariantTraits {
  /** teacher trajectories join the group */
  offlineMembers: boolean;
  /** which online members the teachers replace */
  replacement: Replacement;
  /** correct online members earn R_OGER = D · confidence */
  explorationReward: boolean;
  /** confidence is exp(−H_last) (else 1); last_token_entropy is then required */
  entropyConfidence: boolean;
  /** members need embeddings, to compute D */
  needsEncoder: boolean;
}

const REPLACEMENTS: readonly string[] = ['none', 'last', 'lowest-divergence'];

function load(): Record<Variant, VariantTraits> {
  const out = {} as Record<Variant, VariantTraits>;
  for (const [name, t] of Object.entries(data.variants) as Array<[Variant, Record<string, unknown>]>) {
    const flag = (k: string): boolean => {
      if (typeof t[k] !== 'boolean') throw new Error(`variants.json: ${name}.${k} must be true or false, got ${JSON.stringify(t[k])}`);
      return t[k] as boolean;
    };
    if (typeof t.replacement !== 'string' || !REPLACEMENTS.includes(t.replacement)) throw new Error(`variants.json: ${name}.replacement must be one of ${REPLACEMENTS.join(', ')}, got ${JSON.stringify(t.replacement)}`);
    out[name] = {
      offlineMembers: flag('offline_members'),
      replacement: t.replacement as Replacement,
      explorationReward: flag('exploration_reward'),
      entropyConfidence: flag('entropy_confidence'),
      needsEncoder: flag('needs_encoder'),
    };
  }
  return out;
}

export const VARIANT_TRAITS: Readonly<Record<Variant, Readonly<VariantTraits>>> = Object.freeze(load());

/** Every variant, in the data file's order. */
export const VARIANTS = Object.freeze(Object.keys(VARIANT_TRAITS)) as readonly Variant[];

export function isVariant(x: unknown): x is Variant {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(VARIANT_TRAITS, x);
}

export function usesOffline(variant: Variant): boolean {
  return VARIANT_TRAITS[variant].offlineMembers;
}

export function usesDivergenceReplacement(variant: Variant): boolean {
  return VARIANT_TRAITS[variant].replacement === 'lowest-divergence';
}

export function givesExplorationReward(variant: Variant): boolean {
  return VARIANT_TRAITS[variant].explorationReward;
}

export function usesEntropyConfidence(variant: Variant): boolean {
  return VARIANT_TRAITS[variant].entropyConfidence;
}

export function needsEncoder(variant: Variant): boolean {
  return VARIANT_TRAITS[variant].needsEncoder;
}

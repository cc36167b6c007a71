// Every number the inspector shows, explained: its formula, and the arithmetic with this member's
// inputs, e.g. `R_OGER = D·exp(−H_last)·R_m = 0.275·0.997·1 = 0.274`. The results come from the
// reward maths itself (src/core/reward.ts: explorationTerms, rewardFromCorrect, advantageStats),
// so the arithmetic a researcher reads is what training computed; where the logged value differs
// from the recomputed one at display precision, the explanation says so.
import { advantageStats, confidenceFromEntropy, explorationTerms, givesExplorationReward, rewardFromCorrect, usesEntropyConfidence, type AdvantageOptions, type Variant } from './reward';
import { fmtNum, fmtSigned } from './format';
import type { Verdict } from './protocol';

/** The names used everywhere a person reads them: badges, the Runs tree, the trajectory document. */
export const NAMES = Object.freeze({
  d: 'D',
  hlast: 'H_last',
  exph: 'exp(−H_last)',
  rm: 'R_m',
  roger: 'R_OGER',
  rtotal: 'R_total',
  advantage: 'A',
});

export type ExplainKey = keyof typeof NAMES;

export interface Explanation {
  key: ExplainKey;
  /** one line: the name and what it is */
  title: string;
  /** the formula in symbols */
  formula: string;
  /** the formula with this member's inputs and the result, or null when there is nothing to compute */
  arithmetic: string | null;
  /** inputs, conventions and caveats, one per line */
  notes: string[];
}

/** What explaining one member needs. `verdict` is the one the values were computed with. */
export interface MemberFacts {
  source: 'online' | 'offline';
  verdict: Verdict;
  divergence: number | null;
  entropyLast: number | null;
  rOger: number | null;
  rTotal: number | null;
  advantage: number | null;
  /** an online member replaced by a teacher: not in the final group */
  replaced: boolean;
  /** a member of the final group (online not replaced, or a teacher inserted into a slot) */
  inFinalGroup: boolean;
}

export interface GroupFacts {
  variant: Variant;
  advantage: AdvantageOptions;
  /** R_total of every member of the final group, the rewards A is normalised over */
  finalRewards: readonly number[];
  /** encoder and long-text strategy, for D's note */
  encoder?: string | null;
}

const DIGITS = 3;
const n = (v: number | null | undefined) => fmtNum(v, DIGITS);

function eps(e: number): string {
  return e === 0 ? '0' : e >= 1e-3 ? String(e) : e.toExponential(0).replace('e-', 'e−');
}

/** A note when the logged value and the recomputed one differ at display precision. */
function loggedNote(name: string, logged: number | null, computed: number | null, signed = false): string[] {
  const f = signed ? (v: number | null) => fmtSigned(v, DIGITS) : n;
  if (logged === null || computed === null || f(logged) === f(computed)) return [];
  return [`The trainer logged ${name} = ${f(logged)}; recomputed from the logged inputs it is ${f(computed)}. Audit Divergences… re-checks a whole run.`];
}

export function explainD(m: MemberFacts, g: GroupFacts): Explanation {
  const notes = [
    'Semantic divergence of this response from the prompt\'s teacher (offline) trajectories: 0 reads like the teachers, 1 is unrelated; above 1 the mean cosine is negative.',
    'Only online members have one.',
  ];
  if (g.encoder) notes.push(`Embeddings: ${g.encoder}.`);
  return {
    key: 'd',
    title: 'D: divergence from the teachers',
    formula: 'D = 1 − mean_j cos(E_on, E_off_j)',
    arithmetic: m.divergence === null ? null : `D = ${n(m.divergence)}`,
    notes,
  };
}

export function explainHLast(m: MemberFacts): Explanation {
  return {
    key: 'hlast',
    title: 'H_last: entropy at the last token',
    formula: 'H_last = −Σ_v p(v) log p(v) at the last generated token (nats)',
    arithmetic: m.entropyLast === null ? null : `H_last = ${n(m.entropyLast)} nats`,
    notes: ['How unsure the policy was when it ended its answer: 0 is certain. OGER damps the exploration reward of unsure answers.'],
  };
}

export function explainConfidence(m: MemberFacts, g: GroupFacts): Explanation {
  const refined = usesEntropyConfidence(g.variant);
  const c = m.entropyLast === null ? null : confidenceFromEntropy(m.entropyLast);
  return {
    key: 'exph',
    title: 'exp(−H_last): confidence at the last token',
    formula: 'exp(−H_last)',
    arithmetic: c === null ? null : `exp(−${n(m.entropyLast)}) = ${n(c)}`,
    notes: refined ? ['The factor OGER multiplies the exploration reward by: 1 when certain, smaller when unsure.'] : [`Variant ${g.variant} does not use it (its exploration reward, if any, is not damped by entropy).`],
  };
}

export function explainRm(m: MemberFacts): Explanation {
  const rm = rewardFromCorrect(m.verdict === 'correct' ? true : m.verdict === 'wrong' ? false : null);
  const notes = ['The verifier\'s reward: 1 for a correct final answer, 0 otherwise.'];
  if (m.verdict === 'error') notes.push('The verifier errored on this response: it scores 0 but keeps the verdict "error" and a lint.');
  return { key: 'rm', title: 'R_m: the verifier\'s reward', formula: 'R_m = 1 if correct, else 0', arithmetic: `R_m = ${rm} (verdict: ${m.verdict})`, notes };
}

export function explainROger(m: MemberFacts, g: GroupFacts): Explanation {
  const title = 'R_OGER: exploration reward';
  if (m.source === 'offline') return { key: 'roger', title, formula: 'R_OGER = 0 for teachers', arithmetic: null, notes: ['Only online members earn an exploration reward.'] };
  if (!givesExplorationReward(g.variant)) {
    return { key: 'roger', title, formula: 'R_OGER = 0', arithmetic: null, notes: [`Variant ${g.variant} gives no exploration reward.`] };
  }
  const refined = usesEntropyConfidence(g.variant);
  const formula = refined ? 'R_OGER = D·exp(−H_last)·R_m' : 'R_OGER = D·R_m';
  const rm = rewardFromCorrect(m.verdict === 'correct' ? true : m.verdict === 'wrong' ? false : null);
  if (m.divergence === null || (refined && m.entropyLast === null)) {
    return { key: 'roger', title, formula, arithmetic: null, notes: ['D or H_last was not logged, so it cannot be recomputed.'] };
  }
  const t = explorationTerms(g.variant, m.divergence, m.entropyLast, rm);
  const arithmetic = refined
    ? `${formula} = ${n(m.divergence)}·${n(t.confidence)}·${rm} = ${n(t.explorationReward)}`
    : `${formula} = ${n(m.divergence)}·${rm} = ${n(t.explorationReward)}`;
  const notes = ['Extra reward for a correct answer that reasons unlike the teachers, damped by the policy\'s uncertainty at its last token.'];
  if (rm === 0) notes.push('A wrong answer earns none.');
  return { key: 'roger', title, formula, arithmetic, notes: [...notes, ...loggedNote('R_OGER', m.rOger, t.explorationReward)] };
}

/** R_total as the reward maths computes it for this member, or null when it is not in the final group. */
export function computedRTotal(m: MemberFacts, g: GroupFacts): number | null {
  const rm = rewardFromCorrect(m.verdict === 'correct' ? true : m.verdict === 'wrong' ? false : null);
  if (m.source === 'offline') return m.inFinalGroup ? rm : null;
  if (!givesExplorationReward(g.variant) || m.divergence === null || (usesEntropyConfidence(g.variant) && m.entropyLast === null)) return rm;
  return rm + explorationTerms(g.variant, m.divergence, m.entropyLast, rm).explorationReward;
}

export function explainRTotal(m: MemberFacts, g: GroupFacts): Explanation {
  const title = 'R_total: the reward the advantage is computed from';
  const rm = rewardFromCorrect(m.verdict === 'correct' ? true : m.verdict === 'wrong' ? false : null);
  if (m.source === 'offline') {
    if (!m.inFinalGroup) return { key: 'rtotal', title, formula: 'R_total = R_m', arithmetic: null, notes: ['This teacher stayed outside the final group: it has no reward and no advantage.'] };
    return { key: 'rtotal', title, formula: 'R_total = R_m', arithmetic: `R_total = R_m = ${n(rm)}`, notes: ['A teacher inserted into the group is scored by the verifier alone.', ...loggedNote('R_total', m.rTotal, rm)] };
  }
  const c = computedRTotal(m, g) as number;
  const roger = c - rm;
  const notes = m.replaced ? ['This member was replaced by a teacher: its reward is logged but it is not in the final group.'] : [];
  if (!givesExplorationReward(g.variant)) {
    return { key: 'rtotal', title, formula: 'R_total = R_m', arithmetic: `R_total = R_m = ${n(rm)}`, notes: [`Variant ${g.variant} has no exploration reward.`, ...notes, ...loggedNote('R_total', m.rTotal, c)] };
  }
  return { key: 'rtotal', title, formula: 'R_total = R_m + R_OGER', arithmetic: `R_total = ${rm} + ${n(roger)} = ${n(c)}`, notes: [...notes, ...loggedNote('R_total', m.rTotal, c)] };
}

function stdLabel(o: AdvantageOptions): string {
  return o.std === 'sample' ? 'sample std (ddof = 1, as torch.std in verl)' : o.std === 'population' ? 'population std (ddof = 0)' : 'no std (LUFFY\'s grpo_use_std = False)';
}

/**
 * A = (R_total − mean) / (std + eps) over the final group. `rTotal` and `finalRewards` are the
 * values the shown A was computed from (the logged ones, or a what-if's re-scored ones).
 */
export function explainAdvantage(m: MemberFacts, g: GroupFacts): Explanation {
  const title = 'A: the group-normalised advantage';
  const none = g.advantage.std === 'none';
  const formula = none ? 'A = R_total − mean' : 'A = (R_total − mean) / (std + eps)';
  if (!m.inFinalGroup) {
    const why = m.source === 'online' ? 'This member was replaced by a teacher: it is not in the final group and gets no advantage.' : 'This teacher stayed outside the final group: it gets no advantage.';
    return { key: 'advantage', title, formula, arithmetic: null, notes: [why] };
  }
  if (m.rTotal === null || g.finalRewards.length === 0) return { key: 'advantage', title, formula, arithmetic: null, notes: ['R_total was not logged, so A cannot be recomputed.'] };
  const { mean, std } = advantageStats(g.finalRewards, g.advantage);
  const a = none ? m.rTotal - mean : (m.rTotal - mean) / (std + g.advantage.eps);
  const k = g.finalRewards.length;
  const arithmetic = none
    ? `A = ${n(m.rTotal)} − ${n(mean)} = ${fmtSigned(a, DIGITS)}`
    : `A = (${n(m.rTotal)} − ${n(mean)}) / (${n(std)} + ${eps(g.advantage.eps)}) = ${fmtSigned(a, DIGITS)}`;
  const notes = [
    k === 1
      ? 'A group of one: mean 0 and std 1, as verl does.'
      : `Over the ${k} members of the final group: R_total mean ${n(mean)}${none ? '' : `, ${stdLabel(g.advantage)} ${n(std)}, eps ${eps(g.advantage.eps)}`}.`,
    'Replaced members and teachers outside the group do not count.',
  ];
  if (k > 1 && std < 1e-12 && !none) notes.push('Every member has the same R_total: zero std, so every advantage is 0 and the group teaches nothing.');
  return { key: 'advantage', title, formula, arithmetic, notes: [...notes, ...loggedNote('A', m.advantage, a, true)] };
}

export function explainAll(m: MemberFacts, g: GroupFacts): Record<ExplainKey, Explanation> {
  return {
    d: explainD(m, g),
    hlast: explainHLast(m),
    exph: explainConfidence(m, g),
    rm: explainRm(m),
    roger: explainROger(m, g),
    rtotal: explainRTotal(m, g),
    advantage: explainAdvantage(m, g),
  };
}

/** The explanation as plain lines (a tooltip, a hover). */
export function explanationLines(e: Explanation): string[] {
  return [e.title, e.arithmetic ?? e.formula, ...(e.arithmetic && !e.arithmetic.startsWith(e.formula) ? [`(${e.formula})`] : []), ...e.notes];
}

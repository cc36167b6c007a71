// Whole-run re-scoring on columns: the reward maths of rescoreGroup/whatIfGroup (rescore.ts, which
// stay the one API for a single group in the inspector) applied to typed arrays, one pass over all
// groups, no object per member. A what-if over a 2,000,000-trajectory run is then a loop over a few
// Float64Arrays (the loop numpy runs), instead of two object graphs per group that the garbage
// collector has to chase. Results are the same numbers, operation for operation:
// test/unit/columnar.test.ts holds every output equal to whatIfGroup's on random groups of every
// variant and advantage mode.
import type { RewardSettings, Verdict } from './protocol';
import { givesExplorationReward, usesOffline, type Variant } from './reward';

export const VERDICT_CODES: readonly Verdict[] = ['correct', 'wrong', 'error'];
export const VERDICT_CODE: Readonly<Record<Verdict, number>> = { correct: 0, wrong: 1, error: 2 };

/**
 * A run's groups as columns. Members of group g are rows groupStart[g] .. groupStart[g+1]-1, online
 * members first in index order, then offline members in index order (what splitMembers sorts to).
 */
export interface RunColumns {
  groupCount: number;
  /** length groupCount + 1 */
  groupStart: Uint32Array;
  /** per group: index into the settings list */
  settings: Uint16Array;
  /** per member: 1 online, 0 offline */
  online: Uint8Array;
  /** per member: the logged verdict (VERDICT_CODE) */
  verdict: Uint8Array;
  /** per member: the verdict to use in the what-if (relabels, another verifier); equal to verdict when unchanged */
  verdictAfter: Uint8Array;
  /** per member: NaN when not logged */
  divergence: Float64Array;
  /** per member: the divergence to use in the what-if (another encoder); absent: the logged one */
  divergenceAfter?: Float64Array;
  /** per member: NaN when not logged */
  entropy: Float64Array;
  /** per member: 1 when the logged record says this teacher was inserted */
  inserted: Uint8Array;
}

/** Per-member outputs of one scoring: NaN where rescoreGroup gives null. */
export interface ScoreColumns {
  rTotal: Float64Array;
  advantage: Float64Array;
  /** 1 for an online member the scoring replaced */
  replaced: Uint8Array;
}

export function scoreColumns(size: number): ScoreColumns {
  return { rTotal: new Float64Array(size), advantage: new Float64Array(size), replaced: new Uint8Array(size) };
}

/** Why a group could not be scored (the same message rescoreGroup throws), by group index. */
export type GroupFailures = Map<number, string>;

// Scratch buffers for one group, grown on demand: the hot loop allocates nothing.
let scratch = { totals: new Float64Array(64), order: new Int32Array(64), inserted: new Int32Array(64), slot: new Int32Array(64) };
function ensureScratch(n: number): void {
  if (scratch.totals.length >= n) return;
  const size = Math.max(n, scratch.totals.length * 2);
  scratch = { totals: new Float64Array(size), order: new Int32Array(size), inserted: new Int32Array(size), slot: new Int32Array(size) };
}

interface CompiledSettings {
  variant: Variant;
  offline: boolean;
  divAware: boolean;
  refined: boolean;
  explore: boolean;
  luffy: boolean;
  grpo: boolean;
  std: 'sample' | 'population' | 'none';
  eps: number;
}

function compile(s: RewardSettings): CompiledSettings {
  const v = s.variant;
  return {
    variant: v,
    offline: usesOffline(v),
    divAware: v === 'oger' || v === 'oger-no-refine' || v === 'oger-no-reward',
    refined: v === 'oger',
    explore: givesExplorationReward(v),
    luffy: v === 'luffy',
    grpo: v === 'grpo',
    std: s.advantage.std,
    eps: s.advantage.eps,
  };
}

/**
 * Scores every group with the verdicts in `verdicts` (cols.verdict for the run as logged,
 * cols.verdictAfter for the what-if) and the given divergences, writing into `out`. A group the maths refuses (an OGER group
 * with a member lacking its divergence) gets NaN everywhere and its reason in `failures`.
 */
export function scoreRun(
  cols: RunColumns,
  settings: readonly RewardSettings[],
  verdicts: Uint8Array,
  out: ScoreColumns,
  failures?: GroupFailures,
  divergence: Float64Array = cols.divergence,
): void {
  const compiled = settings.map(compile);
  for (let g = 0; g < cols.groupCount; g++) {
    const why = scoreGroupAt(cols, compiled[cols.settings[g] as number] as CompiledSettings, g, verdicts, divergence, out);
    if (why !== null) failures?.set(g, why);
  }
}

/** Scores group g into `out` (rescoreGroup's maths); the reason when the maths refuses it, else null. */
function scoreGroupAt(cols: RunColumns, s: CompiledSettings, g: number, verdicts: Uint8Array, divergence: Float64Array, out: ScoreColumns): string | null {
  const { groupStart, online, entropy, inserted } = cols;
  const start = groupStart[g] as number;
  const end = groupStart[g + 1] as number;
  ensureScratch(end - start);
  const { totals, order, slot } = scratch;
  const ins = scratch.inserted;
  let nOn = 0;
  while (start + nOn < end && online[start + nOn] === 1) nOn++;
  const nOff = end - start - nOn;
  // Online totals: R_m + R_OGER (exploration reward only for correct members of the rewarding variants).
  for (let i = 0; i < nOn; i++) {
    const m = start + i;
    const rm = verdicts[m] === 0 ? 1 : 0;
    let expl = 0;
    const d = divergence[m] as number;
    if (s.explore && d === d && rm !== 0) {
      // rescoreGroup feeds +Infinity for a missing entropy under 'oger' (confidence 0).
      const h = entropy[m] as number;
      const conf = s.refined ? Math.exp(-(h === h ? h : Number.POSITIVE_INFINITY)) : 1;
      expl = d * conf * rm;
    }
    out.rTotal[m] = rm + expl;
    out.replaced[m] = 0;
    out.advantage[m] = Number.NaN;
  }
  // The teachers logged as inserted, in offline order; they fill the replaced slots.
  let nIns = 0;
  for (let j = 0; j < nOff; j++) {
    const m = start + nOn + j;
    out.rTotal[m] = Number.NaN;
    out.advantage[m] = Number.NaN;
    out.replaced[m] = 0;
    if (inserted[m] === 1) ins[nIns++] = j;
  }
  const replaceCount = s.grpo ? 0 : nIns;
  const k = s.offline ? Math.max(0, Math.min(replaceCount, nOn, nOff)) : 0;
  for (let i = 0; i < nOn; i++) slot[i] = -1;
  if (k > 0) {
    if (s.luffy) {
      for (let r = 0; r < k; r++) slot[nOn - k + r] = ins[r] as number;
    } else {
      let missing = false;
      for (let i = 0; i < nOn; i++) {
        order[i] = i;
        const d = divergence[start + i] as number;
        if (d !== d) missing = true;
      }
      if (missing) {
        fail(out, start, end);
        return 'cannot re-score group: divergence-aware replacement needs a divergence for every online member';
      }
      // Lowest divergence first, ties to the lower index; k is small, so a partial selection sort.
      for (let r = 0; r < k; r++) {
        let best = r;
        for (let i = r + 1; i < nOn; i++) {
          const a = divergence[start + (order[i] as number)] as number;
          const b = divergence[start + (order[best] as number)] as number;
          if (a < b || (a === b && (order[i] as number) < (order[best] as number))) best = i;
        }
        const tmp = order[r] as number;
        order[r] = order[best] as number;
        order[best] = tmp;
        slot[order[r] as number] = ins[r] as number;
      }
    }
  }
  // The final group: online members in order, each replaced one's slot taken by its teacher.
  for (let i = 0; i < nOn; i++) {
    const j = slot[i] as number;
    if (j < 0) totals[i] = out.rTotal[start + i] as number;
    else {
      out.replaced[start + i] = 1;
      totals[i] = verdicts[start + nOn + j] === 0 ? 1 : 0;
    }
  }
  // GRPO advantages exactly as groupAdvantages computes them.
  const n = nOn;
  if (n === 0) return null;
  let mean: number;
  let std: number;
  if (n === 1) {
    mean = 0;
    std = 1;
  } else {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += totals[i] as number;
    mean = sum / n;
    let sq = 0;
    for (let i = 0; i < n; i++) sq += ((totals[i] as number) - mean) * ((totals[i] as number) - mean);
    std = Math.sqrt(sq / (s.std === 'population' ? n : n - 1));
  }
  for (let i = 0; i < n; i++) {
    const adv = s.std === 'none' ? (totals[i] as number) - mean : ((totals[i] as number) - mean) / (std + s.eps);
    const j = slot[i] as number;
    if (j < 0) out.advantage[start + i] = adv;
    else {
      const m = start + nOn + j;
      out.advantage[m] = adv;
      out.rTotal[m] = totals[i] as number;
    }
  }
  return null;
}

function fail(out: ScoreColumns, start: number, end: number): void {
  for (let m = start; m < end; m++) {
    out.rTotal[m] = Number.NaN;
    out.advantage[m] = Number.NaN;
    out.replaced[m] = 0;
  }
}

/** What a what-if changed in one group. */
export interface GroupChange {
  group: number;
  /** members whose verdict differs in the what-if */
  verdictChanges: number;
  signFlips: number;
  replacementChanged: boolean;
  /** sum over members of R_total after − before (members with both) */
  deltaRTotal: number;
  /** sum over members of |advantage after − before| */
  absDeltaAdvantage: number;
}

export interface RunWhatIf {
  groups: number;
  trajectories: number;
  /** members whose verdict differs in the what-if */
  verdictChanges: number;
  /** groups in which some advantage changed by more than 1e-12 */
  groupsChanged: number;
  signFlips: number;
  replacementChanged: number;
  /** sum of R_total after − before over members with both (positive: the run's rewards went up) */
  deltaRTotal: number;
  sumAbsDeltaRTotal: number;
  sumAbsDeltaAdvantage: number;
  /** groups whose before or after scoring failed, with why (at most 20 messages) */
  failures: { count: number; messages: string[] };
  /** the changed groups, most affected first (sign flips, then |Δadvantage|), at most `keep` */
  changed: GroupChange[];
  /** how many groups changed in all (changed holds the first `keep`) */
  changedGroups: number;
  before: ScoreColumns;
  after: ScoreColumns;
}

const byImpact = (a: GroupChange, b: GroupChange): number =>
  b.signFlips - a.signFlips || Number(b.replacementChanged) - Number(a.replacementChanged) || b.absDeltaAdvantage - a.absDeltaAdvantage || a.group - b.group;

/**
 * The `keep` most affected groups in byImpact order. Tens of thousands of groups can change; a
 * comparator sort of all of them cost more than the rest of the diff, so the cut is found on a
 * typed array of sign flips first and only the groups at or above it are sorted.
 */
function mostChanged(changed: GroupChange[], keep: number): GroupChange[] {
  if (changed.length <= keep) return changed.sort(byImpact);
  const flips = Float64Array.from(changed, (c) => c.signFlips).sort();
  const cut = flips[flips.length - keep] as number;
  return changed.filter((c) => c.signFlips >= cut).sort(byImpact).slice(0, keep);
}

const sign = (x: number): number => (x !== x || Math.abs(x) < 1e-12 ? 0 : x > 0 ? 1 : -1);

/**
 * The whole-run what-if: every group scored as logged and under verdictAfter, compared member by
 * member with whatIfGroup's rules (a sign flip is + to − or − to +; 0 is neither).
 */
export function whatIfRun(cols: RunColumns, settings: readonly RewardSettings[], keep = 1000): RunWhatIf {
  const w = new WhatIfPass(cols, settings);
  w.add(0, cols.groupCount);
  return w.finish(keep);
}

/**
 * whatIfRun in slices, for callers that must stay responsive (the extension host): add() any
 * consecutive ranges of groups, then finish(). Same results as one whatIfRun call.
 */
export class WhatIfPass {
  private readonly res: RunWhatIf;
  private readonly changed: GroupChange[] = [];
  private readonly compiled: CompiledSettings[];
  private readonly divAfter: Float64Array;

  constructor(private readonly cols: RunColumns, settings: readonly RewardSettings[]) {
    const size = cols.groupStart[cols.groupCount] as number;
    this.compiled = settings.map(compile);
    this.divAfter = cols.divergenceAfter ?? cols.divergence;
    this.res = {
      groups: cols.groupCount, trajectories: size, verdictChanges: 0, groupsChanged: 0, signFlips: 0, replacementChanged: 0,
      deltaRTotal: 0, sumAbsDeltaRTotal: 0, sumAbsDeltaAdvantage: 0, failures: { count: 0, messages: [] }, changed: [], changedGroups: 0,
      before: scoreColumns(size), after: scoreColumns(size),
    };
  }

  /** Scores groups [from, to) as logged and under the what-if and compares them, while their members are in cache. */
  add(from: number, to: number): void {
    const { cols, res, changed, compiled, divAfter } = this;
    const { before, after } = res;
    const newDivergence = divAfter !== cols.divergence;
    for (let g = from; g < to; g++) {
      const s = compiled[cols.settings[g] as number] as CompiledSettings;
      const start = cols.groupStart[g] as number;
      const end = cols.groupStart[g + 1] as number;
      // Most groups of a what-if are untouched (a relabel or a verifier change moves a few verdicts):
      // the same inputs give the same scores, so the second scoring is a copy and nothing differs.
      let touched = false;
      for (let m = start; m < end && !touched; m++) {
        if (cols.verdict[m] !== cols.verdictAfter[m]) touched = true;
        else if (newDivergence && !Object.is(divAfter[m], cols.divergence[m])) touched = true;
      }
      let why = scoreGroupAt(cols, s, g, cols.verdict, cols.divergence, before);
      if (why !== null) fail(after, start, end); // a group refused as logged has no what-if either
      else if (touched) why = scoreGroupAt(cols, s, g, cols.verdictAfter, divAfter, after);
      if (why !== null) {
        res.failures.count++;
        if (res.failures.messages.length < 20) res.failures.messages.push(`group #${g}: ${why}`);
        continue;
      }
      if (!touched) {
        for (let m = start; m < end; m++) {
          after.rTotal[m] = before.rTotal[m] as number;
          after.advantage[m] = before.advantage[m] as number;
          after.replaced[m] = before.replaced[m] as number;
        }
        continue;
      }
      let verdictChanges = 0;
      let flips = 0;
      let replacement = false;
      let dT = 0;
      let absT = 0;
      let absA = 0;
      let advChanged = false;
      for (let m = start; m < end; m++) {
        if (cols.verdict[m] !== cols.verdictAfter[m]) verdictChanges++;
        if (before.replaced[m] !== after.replaced[m]) replacement = true;
        const tb = before.rTotal[m] as number;
        const ta = after.rTotal[m] as number;
        if (tb === tb && ta === ta) {
          dT += ta - tb;
          absT += Math.abs(ta - tb);
        }
        const ab = before.advantage[m] as number;
        const aa = after.advantage[m] as number;
        if (ab === ab && aa === aa) {
          const d = Math.abs(aa - ab);
          absA += d;
          if (d > 1e-12) advChanged = true;
          if (sign(ab) * sign(aa) === -1) flips++;
        }
      }
      res.verdictChanges += verdictChanges;
      res.signFlips += flips;
      if (replacement) res.replacementChanged++;
      if (advChanged) res.groupsChanged++;
      res.deltaRTotal += dT;
      res.sumAbsDeltaRTotal += absT;
      res.sumAbsDeltaAdvantage += absA;
      if (verdictChanges > 0 || advChanged || replacement) {
        changed.push({ group: g, verdictChanges, signFlips: flips, replacementChanged: replacement, deltaRTotal: dT, absDeltaAdvantage: absA });
      }
    }
  }

  finish(keep = 1000): RunWhatIf {
    this.res.changedGroups = this.changed.length;
    this.res.changed = mostChanged(this.changed, keep);
    return this.res;
  }
}

// What a new verdict set changes in a run: verdict flips each way, the R_total and advantage
// changes they cause (through the reward core's whatIfGroup, never a second copy of the maths),
// advantage sign flips, lints that appear or disappear, and the verifier's errors and timeouts.
// Pure and incremental: a re-verify feeds it group by group, so 100k trajectories never sit in
// memory at once; only counts and a bounded number of examples are kept.
import { whatIfGroup, type LintKind, type ScoredTrajectory } from './rescore';
import type { RewardSettings, Verdict } from './protocol';

export interface VerdictLike {
  verdict: Verdict;
  reason: string | null;
  extracted: string | null;
}

export type DiffMember = ScoredTrajectory & { trajectoryKey: number; verdict_reason?: string | null; extracted_answer?: string | null };

export interface DiffGroupInput {
  groupId: number;
  step: number;
  promptId: string;
  gold: string;
  reward: RewardSettings;
  trajectories: readonly DiffMember[];
  /** the verdicts in force before (the run's active set); a member missing here keeps its logged verdict */
  oldVerdicts: ReadonlyMap<number, VerdictLike>;
  /** the new verifier's verdicts; a member missing here is counted as not re-verified and keeps its old verdict */
  newVerdicts: ReadonlyMap<number, VerdictLike>;
}

export type FlipKind = `${Verdict}->${Verdict}`;
export const FLIP_KINDS: readonly FlipKind[] = [
  'wrong->correct',
  'correct->wrong',
  'error->correct',
  'error->wrong',
  'correct->error',
  'wrong->error',
];

export interface DiffExample {
  trajectoryKey: number;
  trajectoryId: string;
  groupId: number;
  step: number;
  promptId: string;
  source: 'online' | 'offline';
  gold: string;
  before: Verdict;
  after: Verdict;
  beforeReason: string | null;
  afterReason: string | null;
  beforeExtracted: string | null;
  afterExtracted: string | null;
  totalBefore: number | null;
  totalAfter: number | null;
  advantageBefore: number | null;
  advantageAfter: number | null;
}

export interface Spread {
  /** members whose value changed by more than 1e-9 */
  changed: number;
  sumAbs: number;
  maxAbs: number;
  /** sum of signed changes (positive: the run's rewards went up) */
  sum: number;
}

export interface LintChange {
  kind: LintKind;
  trajectoryId: string | null;
  groupId: number;
  step: number;
  message: string;
}

export interface VerdictDiff {
  groups: number;
  trajectories: number;
  /** members the new set has a verdict for */
  reverified: number;
  /** members without a new verdict (kept their old one) */
  missing: number;
  unchanged: number;
  /** groups in which at least one verdict changed */
  groupsChanged: number;
  flips: Record<FlipKind, number>;
  examples: Record<FlipKind, DiffExample[]>;
  /** errors in the new set, by kind of reason */
  errors: { total: number; timeouts: number; crashed: number; other: number; examples: DiffExample[] };
  /** errors the old set had, for comparison */
  errorsBefore: number;
  rTotal: Spread;
  advantage: Spread;
  signFlips: number;
  signFlipExamples: DiffExample[];
  /** groups whose replaced online member changed */
  replacementChanged: number;
  lintsAppeared: Partial<Record<LintKind, number>>;
  lintsDisappeared: Partial<Record<LintKind, number>>;
  lintExamples: { appeared: LintChange[]; disappeared: LintChange[] };
  /** groups the reward core could not re-score, with why */
  rescoreFailures: { count: number; messages: string[] };
}

const EPS = 1e-9;

function emptySpread(): Spread {
  return { changed: 0, sumAbs: 0, maxAbs: 0, sum: 0 };
}

function addTo(s: Spread, d: number | null): void {
  if (d === null || !Number.isFinite(d) || Math.abs(d) <= EPS) return;
  s.changed++;
  s.sumAbs += Math.abs(d);
  s.maxAbs = Math.max(s.maxAbs, Math.abs(d));
  s.sum += d;
}

export function errorKind(reason: string | null): 'timeout' | 'crashed' | 'other' {
  const r = (reason ?? '').toLowerCase();
  if (r.startsWith('error: timeout')) return 'timeout';
  if (r.startsWith('error: crashed')) return 'crashed';
  return 'other';
}

/** The verdict a verifier result stands for: null correctness is an error, never a silent "wrong". */
export function verdictOfResult(correct: boolean | null): Verdict {
  return correct === true ? 'correct' : correct === false ? 'wrong' : 'error';
}

export class VerdictDiffBuilder {
  private readonly diff: VerdictDiff;

  constructor(private readonly examplesPerKind = 25) {
    const flips = Object.fromEntries(FLIP_KINDS.map((k) => [k, 0])) as Record<FlipKind, number>;
    const examples = Object.fromEntries(FLIP_KINDS.map((k) => [k, [] as DiffExample[]])) as Record<FlipKind, DiffExample[]>;
    this.diff = {
      groups: 0,
      trajectories: 0,
      reverified: 0,
      missing: 0,
      unchanged: 0,
      groupsChanged: 0,
      flips,
      examples,
      errors: { total: 0, timeouts: 0, crashed: 0, other: 0, examples: [] },
      errorsBefore: 0,
      rTotal: emptySpread(),
      advantage: emptySpread(),
      signFlips: 0,
      signFlipExamples: [],
      replacementChanged: 0,
      lintsAppeared: {},
      lintsDisappeared: {},
      lintExamples: { appeared: [], disappeared: [] },
      rescoreFailures: { count: 0, messages: [] },
    };
  }

  addGroup(g: DiffGroupInput): void {
    const d = this.diff;
    d.groups++;
    const before = new Map<string, VerdictLike>();
    const after = new Map<string, VerdictLike>();
    let changed = false;
    for (const t of g.trajectories) {
      d.trajectories++;
      const old = g.oldVerdicts.get(t.trajectoryKey) ?? {
        verdict: t.verdict,
        reason: typeof t.verdict_reason === 'string' ? t.verdict_reason : null,
        extracted: typeof t.extracted_answer === 'string' ? t.extracted_answer : null,
      };
      before.set(t.id, old);
      if (old.verdict === 'error') d.errorsBefore++;
      const next = g.newVerdicts.get(t.trajectoryKey);
      if (!next) {
        d.missing++;
        after.set(t.id, old);
        continue;
      }
      d.reverified++;
      after.set(t.id, next);
      if (next.verdict !== old.verdict) changed = true;
      else d.unchanged++;
    }
    if (!changed) {
      // Errors are counted even where the verdict did not move (an error that stays an error).
      for (const t of g.trajectories) this.countError(g, t, before.get(t.id) as VerdictLike, after.get(t.id) as VerdictLike, null, null, null, null);
      return;
    }
    d.groupsChanged++;
    const asOld = g.trajectories.map((t) => ({ ...t, verdict: (before.get(t.id) as VerdictLike).verdict }));
    const overrides = new Map<string, Verdict>();
    for (const t of g.trajectories) overrides.set(t.id, (after.get(t.id) as VerdictLike).verdict);
    let result: ReturnType<typeof whatIfGroup> | null = null;
    try {
      result = whatIfGroup(asOld, g.reward, { verdicts: overrides });
    } catch (e) {
      d.rescoreFailures.count++;
      if (d.rescoreFailures.messages.length < 20) d.rescoreFailures.messages.push(`group ${g.groupId} (step ${g.step}): ${(e as Error).message}`);
    }
    const changeById = new Map(result?.members.map((m) => [m.id, m]) ?? []);
    for (const t of g.trajectories) {
      const b = before.get(t.id) as VerdictLike;
      const a = after.get(t.id) as VerdictLike;
      const m = changeById.get(t.id);
      const totals: [number | null, number | null, number | null, number | null] = m
        ? [m.before.rTotal, m.after.rTotal, m.before.advantage, m.after.advantage]
        : [null, null, null, null];
      if (m) {
        addTo(d.rTotal, m.deltaTotal);
        addTo(d.advantage, m.deltaAdvantage);
      }
      this.countError(g, t, b, a, ...totals);
      if (b.verdict !== a.verdict) {
        const kind = `${b.verdict}->${a.verdict}` as FlipKind;
        d.flips[kind] = (d.flips[kind] ?? 0) + 1;
        const list = d.examples[kind] ?? (d.examples[kind] = []);
        if (list.length < this.examplesPerKind) list.push(this.example(g, t, b, a, ...totals));
      }
      if (m?.signFlip) {
        d.signFlips++;
        if (d.signFlipExamples.length < this.examplesPerKind) d.signFlipExamples.push(this.example(g, t, b, a, ...totals));
      }
    }
    if (!result) return;
    if (result.replacementChanged) d.replacementChanged++;
    const key = (l: { kind: LintKind; trajectoryId: string | null }) => `${l.kind}\u0000${l.trajectoryId ?? ''}`;
    const beforeKeys = new Set(result.lintsBefore.map(key));
    const afterKeys = new Set(result.lintsAfter.map(key));
    for (const l of result.lintsAfter) {
      if (beforeKeys.has(key(l))) continue;
      d.lintsAppeared[l.kind] = (d.lintsAppeared[l.kind] ?? 0) + 1;
      if (d.lintExamples.appeared.length < this.examplesPerKind) d.lintExamples.appeared.push({ kind: l.kind, trajectoryId: l.trajectoryId, groupId: g.groupId, step: g.step, message: l.message });
    }
    for (const l of result.lintsBefore) {
      if (afterKeys.has(key(l))) continue;
      d.lintsDisappeared[l.kind] = (d.lintsDisappeared[l.kind] ?? 0) + 1;
      if (d.lintExamples.disappeared.length < this.examplesPerKind) d.lintExamples.disappeared.push({ kind: l.kind, trajectoryId: l.trajectoryId, groupId: g.groupId, step: g.step, message: l.message });
    }
  }

  private countError(
    g: DiffGroupInput,
    t: DiffMember,
    b: VerdictLike,
    a: VerdictLike,
    totalBefore: number | null,
    totalAfter: number | null,
    advBefore: number | null,
    advAfter: number | null,
  ): void {
    if (!g.newVerdicts.has(t.trajectoryKey) || a.verdict !== 'error') return;
    const e = this.diff.errors;
    e.total++;
    const kind = errorKind(a.reason);
    if (kind === 'timeout') e.timeouts++;
    else if (kind === 'crashed') e.crashed++;
    else e.other++;
    if (e.examples.length < this.examplesPerKind) e.examples.push(this.example(g, t, b, a, totalBefore, totalAfter, advBefore, advAfter));
  }

  private example(
    g: DiffGroupInput,
    t: DiffMember,
    b: VerdictLike,
    a: VerdictLike,
    totalBefore: number | null,
    totalAfter: number | null,
    advantageBefore: number | null,
    advantageAfter: number | null,
  ): DiffExample {
    return {
      trajectoryKey: t.trajectoryKey,
      trajectoryId: t.id,
      groupId: g.groupId,
      step: g.step,
      promptId: g.promptId,
      source: t.source,
      gold: g.gold,
      before: b.verdict,
      after: a.verdict,
      beforeReason: b.reason,
      afterReason: a.reason,
      beforeExtracted: b.extracted,
      afterExtracted: a.extracted,
      totalBefore,
      totalAfter,
      advantageBefore,
      advantageAfter,
    };
  }

  result(): VerdictDiff {
    return structuredCloneDiff(this.diff);
  }
}

function structuredCloneDiff(d: VerdictDiff): VerdictDiff {
  return JSON.parse(JSON.stringify(d)) as VerdictDiff;
}

/** The whole diff of a list of groups at once (tests, small runs). */
export function verdictDiff(groups: Iterable<DiffGroupInput>, examplesPerKind = 25): VerdictDiff {
  const b = new VerdictDiffBuilder(examplesPerKind);
  for (const g of groups) b.addGroup(g);
  return b.result();
}

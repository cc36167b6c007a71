// What the inspector shows, derived from a group as the store returned it plus the labels given in
// this session. Pure (imports only src/core) so the member order, the relabel overrides and the
// what-if numbers are unit-tested without a browser.
import { verdictOfRelabel, whatIfGroup, type MemberChange, type ScoredTrajectory } from '../../src/core/rescore';
import type { Verdict } from '../../src/core/protocol';
import type { ViewGroup, ViewLabelState, ViewMember } from '../../src/core/messages';
import { FORMAT_MARKERS, type ReasoningFormat } from '../../src/core/reasoning';
import { oneLine } from '../../src/core/formatText';
import { changedAtDisplay } from '../../src/core/format';
import type { GroupFacts, MemberFacts } from '../../src/core/explain';

export interface MemberRow {
  /** position in the display order; the card's data-testid is member-<position> */
  position: number;
  member: ViewMember;
  source: 'online' | 'offline';
  /** protocol index within its source */
  index: number;
  title: string;
  /** the final-group slot this member fills, or null (a replaced online member, an unused teacher) */
  slot: number | null;
  /** for a replaced online member: the teacher that took its slot; for an inserted teacher: the online member it replaced */
  partner: ViewMember | null;
  inFinalGroup: boolean;
}

/**
 * Display order: the final group slot by slot, with a replaced online member directly followed by
 * the teacher inserted into its slot; then teachers that stayed outside the group. Replaced members
 * pair with inserted teachers in index order (the protocol records which ones, not the pairing).
 */
export function orderMembers(group: ViewGroup): MemberRow[] {
  const idx = (m: ViewMember) => (typeof m.event.index === 'number' ? m.event.index : 0);
  const online = group.trajectories.filter((t) => t.event.source === 'online').sort((a, b) => idx(a) - idx(b));
  const offline = group.trajectories.filter((t) => t.event.source === 'offline').sort((a, b) => idx(a) - idx(b));
  const inserted = offline.filter((t) => t.event.inserted === true);
  const outside = offline.filter((t) => t.event.inserted !== true);
  const rows: MemberRow[] = [];
  let nextInserted = 0;
  const teacherTitle = (t: ViewMember) => (t.event.teacher ? `teacher ${t.event.teacher}` : `teacher #${idx(t)}`);
  online.forEach((m, slot) => {
    if (m.event.replaced) {
      const teacher = inserted[nextInserted++] ?? null;
      rows.push({ position: 0, member: m, source: 'online', index: idx(m), title: `online #${idx(m)}`, slot: null, partner: teacher, inFinalGroup: false });
      if (teacher) rows.push({ position: 0, member: teacher, source: 'offline', index: idx(teacher), title: teacherTitle(teacher), slot, partner: m, inFinalGroup: true });
    } else {
      rows.push({ position: 0, member: m, source: 'online', index: idx(m), title: `online #${idx(m)}`, slot, partner: null, inFinalGroup: true });
    }
  });
  // Inserted teachers without a replaced partner (a malformed or GRPO-with-teachers group) still show.
  let extraSlot = online.length;
  for (const t of inserted.slice(nextInserted)) rows.push({ position: 0, member: t, source: 'offline', index: idx(t), title: teacherTitle(t), slot: extraSlot++, partner: null, inFinalGroup: true });
  for (const t of outside) rows.push({ position: 0, member: t, source: 'offline', index: idx(t), title: teacherTitle(t), slot: null, partner: null, inFinalGroup: false });
  rows.forEach((r, i) => (r.position = i));
  return rows;
}

/** The verdict a relabel means for re-scoring. A flagged reward hack should not have been paid. */
export function verdictOfLabel(label: ViewLabelState): Verdict | null {
  return verdictOfRelabel(label.current?.label);
}

/** The verdict re-scoring uses: the researcher's label, else the active verifier's, else the logged one. */
export function effectiveVerdict(m: ViewMember): Verdict {
  return verdictOfLabel(m.label) ?? m.activeVerdict?.verdict ?? m.event.verdict;
}

export interface WhatIf {
  /** by trajectory key */
  byKey: Map<number, MemberChange>;
  signFlips: number;
  replacementChanged: boolean;
  /** true when some member's verdict differs from the logged one (a relabel or another verifier) */
  overridden: boolean;
  error: string | null;
}

/** Re-scores the group with every relabel and active-verifier verdict applied, via the reward core. */
export function computeWhatIf(group: ViewGroup): WhatIf {
  const verdicts = new Map<string, Verdict>();
  for (const m of group.trajectories) {
    const v = effectiveVerdict(m);
    if (v !== m.event.verdict) verdicts.set(m.event.id, v);
  }
  const keyOfId = new Map(group.trajectories.map((m) => [m.event.id, m.trajectoryKey]));
  try {
    const r = whatIfGroup(group.trajectories.map((m) => m.event as ScoredTrajectory), group.reward, { verdicts });
    const byKey = new Map<number, MemberChange>();
    for (const c of r.members) {
      const key = keyOfId.get(c.id);
      if (key !== undefined) byKey.set(key, c);
    }
    return { byKey, signFlips: r.signFlips, replacementChanged: r.replacementChanged, overridden: verdicts.size > 0, error: null };
  } catch (e) {
    return { byKey: new Map(), signFlips: 0, replacementChanged: false, overridden: verdicts.size > 0, error: (e as Error).message };
  }
}

/** The optimistic label state shown while the host stores a relabel. */
export function pendingLabel(prev: ViewLabelState, label: 'correct' | 'wrong' | 'hack'): ViewLabelState {
  const rec = { id: -1, label, note: null, author: 'you', createdAt: new Date().toISOString(), supersedes: prev.current?.id ?? null };
  return { current: rec, notes: prev.notes, history: [...prev.history, rec] };
}

/** The teachers a member can be diffed against: every offline member except itself. */
export function diffCandidates(group: ViewGroup, self: ViewMember): ViewMember[] {
  return group.trajectories.filter((t) => t.event.source === 'offline' && t.trajectoryKey !== self.trajectoryKey);
}

/**
 * Members whose text is identical to an earlier member's (by display position): position →
 * the earlier position. A group of eight samples often holds the same short answer several times.
 */
export function duplicatesOf(rows: readonly MemberRow[]): Map<number, number> {
  const firstByText = new Map<string, number>();
  const out = new Map<number, number>();
  for (const r of rows) {
    const text = typeof r.member.event.text === 'string' ? r.member.event.text : '';
    const seen = firstByText.get(text);
    if (seen === undefined) firstByText.set(text, r.position);
    else out.set(r.position, seen);
  }
  return out;
}

/** A one-line preview of a response: its text without the format's markers, whitespace collapsed. */
export function previewText(text: string, format: ReasoningFormat, max = 140): string {
  let t = text.slice(0, max * 4);
  if (format !== 'none') {
    const m = FORMAT_MARKERS[format];
    for (const marker of [m.open, m.close, m.solutionOpen, m.solutionClose]) if (marker) t = t.split(marker).join(' ');
  }
  return oneLine(t, max);
}

/** Facts of a member as logged, for the explanations of its logged badges. */
export function loggedFacts(row: MemberRow): MemberFacts {
  const e = row.member.event;
  return {
    source: row.source, verdict: e.verdict, divergence: e.divergence ?? null, entropyLast: e.entropy_last ?? null,
    rOger: e.r_oger ?? null, rTotal: e.r_total ?? null, advantage: e.advantage ?? null, replaced: e.replaced === true, inFinalGroup: row.inFinalGroup,
  };
}

/** Facts of a member as re-scored under the what-if (relabels applied). */
export function whatIfFacts(row: MemberRow, change: MemberChange): MemberFacts {
  const a = change.after;
  return {
    source: row.source, verdict: a.verdict, divergence: a.divergence, entropyLast: row.member.event.entropy_last ?? null,
    rOger: a.rOger, rTotal: a.rTotal, advantage: a.advantage, replaced: a.replaced, inFinalGroup: a.advantage !== null,
  };
}

/** The run-level facts explanations need. `after`: the what-if's final-group rewards rather than the logged ones. */
export function groupFacts(group: ViewGroup, rows: readonly MemberRow[], w: WhatIf, after = false): GroupFacts {
  let finalRewards: number[];
  if (after) {
    finalRewards = [...w.byKey.values()].filter((c) => c.after.advantage !== null && c.after.rTotal !== null).map((c) => c.after.rTotal as number);
  } else {
    const logged = rows.filter((r) => r.inFinalGroup).map((r) => r.member.event.r_total);
    finalRewards = logged.every((v): v is number => typeof v === 'number')
      ? logged
      : [...w.byKey.values()].filter((c) => c.before.advantage !== null && c.before.rTotal !== null).map((c) => c.before.rTotal as number);
  }
  return { variant: group.variant, advantage: group.reward.advantage, finalRewards };
}

/**
 * The re-scored value to show beside a logged one, or undefined for no arrow: only under a
 * what-if, and only when the re-score changes the value at display precision (the re-score with
 * and without the relabels is compared, so a teacher outside the group, which has neither, and a
 * value that moves in the tenth decimal show no arrow).
 */
export function whatIfValue(w: WhatIf, change: MemberChange | undefined, field: 'rOger' | 'rTotal' | 'advantage', fmt: (v: number | null | undefined) => string): number | null | undefined {
  if (!w.overridden || !change) return undefined;
  const before = change.before[field];
  const after = change.after[field];
  return changedAtDisplay(before, after, fmt) ? after : undefined;
}

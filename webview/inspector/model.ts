// What the inspector shows, derived from a group as the store returned it plus the labels given in
// this session. Pure (imports only src/core) so the member order, the relabel overrides and the
// what-if numbers are unit-tested without a browser.
import { whatIfGroup, type MemberChange, type ScoredTrajectory } from '../../src/core/rescore';
import type { Verdict } from '../../src/core/protocol';
import type { ViewGroup, ViewLabelState, ViewMember } from '../../src/core/messages';

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
  const l = label.current?.label;
  if (l === 'correct') return 'correct';
  if (l === 'wrong' || l === 'hack') return 'wrong';
  return null;
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

// Every number explained: the formulas' arithmetic is the reward maths' own result, the advantage
// names the group mean and std it came from, and a what-if arrow appears only where a value changes
// at display precision.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainAdvantage, explainAll, explainConfidence, explainROger, explainRTotal, explanationLines, type GroupFacts, type MemberFacts } from '../../src/core/explain';
import { advantageStats, explorationTerms, groupAdvantages } from '../../src/core/reward';
import { changedAtDisplay, fmtNum, fmtSigned } from '../../src/core/format';
import { computeWhatIf, duplicatesOf, groupFacts, loggedFacts, orderMembers, previewText, whatIfValue, type WhatIf } from '../../webview/inspector/model';
import type { MemberChange, MemberScore } from '../../src/core/rescore';
import { sampleGroup } from '../kit/ui';

const online = (o: Partial<MemberFacts> = {}): MemberFacts => ({
  source: 'online', verdict: 'correct', divergence: 0.275, entropyLast: 0.003, rOger: null, rTotal: null, advantage: null, replaced: false, inFinalGroup: true, ...o,
});
const oger = (finalRewards: number[] = [1.274, 0, 1, 0]): GroupFacts => ({ variant: 'oger', advantage: { std: 'sample', eps: 1e-6 }, finalRewards });

test('R_OGER: the issue\'s example reads D·exp(−H_last)·R_m with this member\'s numbers, and the result is the reward core\'s', () => {
  const e = explainROger(online(), oger());
  assert.equal(e.formula, 'R_OGER = D·exp(−H_last)·R_m');
  assert.equal(e.arithmetic, 'R_OGER = D·exp(−H_last)·R_m = 0.275·0.997·1 = 0.274');
  assert.equal(e.arithmetic!.split(' = ').at(-1), fmtNum(explorationTerms('oger', 0.275, 0.003, 1).explorationReward));
  // a wrong answer earns none, and says so
  const wrong = explainROger(online({ verdict: 'wrong' }), oger());
  assert.equal(wrong.arithmetic, 'R_OGER = D·exp(−H_last)·R_m = 0.275·0.997·0 = 0.000');
  assert.ok(wrong.notes.some((n) => /wrong answer earns none/.test(n)));
  // variants: no entropy refinement, no exploration reward at all, teachers
  assert.equal(explainROger(online(), { ...oger(), variant: 'oger-no-refine' }).arithmetic, 'R_OGER = D·R_m = 0.275·1 = 0.275');
  assert.equal(explainROger(online(), { ...oger(), variant: 'grpo' }).formula, 'R_OGER = 0');
  assert.equal(explainROger(online({ source: 'offline' }), oger()).arithmetic, null);
  assert.match(explainConfidence(online(), { ...oger(), variant: 'luffy' }).notes[0]!, /does not use it/);
  assert.equal(explainConfidence(online(), oger()).arithmetic, 'exp(−0.003) = 0.997');
});

test('R_OGER and R_total: a logged value that disagrees with the maths at display precision is called out', () => {
  const e = explainROger(online({ rOger: 0.3 }), oger());
  assert.ok(e.notes.some((n) => /logged R_OGER = 0.300; recomputed from the logged inputs it is 0.274/.test(n)), e.notes.join(' | '));
  assert.ok(!explainROger(online({ rOger: 0.27417 }), oger()).notes.some((n) => /logged/.test(n)), 'equal at display precision: no note');
  assert.equal(explainRTotal(online(), oger()).arithmetic, 'R_total = 1 + 0.274 = 1.274');
  assert.equal(explainRTotal(online({ source: 'offline', divergence: null, entropyLast: null }), oger()).arithmetic, 'R_total = R_m = 1.000');
  const outside = explainRTotal(online({ source: 'offline', inFinalGroup: false }), oger());
  assert.equal(outside.arithmetic, null);
  assert.match(outside.notes[0]!, /outside the final group/);
});

test('A: the group mean and std it came from, with the std mode and eps, equal to groupAdvantages', () => {
  const rewards = [1.274, 0, 1, 0];
  const [a0] = groupAdvantages(rewards, { std: 'sample', eps: 1e-6 });
  const { mean, std } = advantageStats(rewards, { std: 'sample', eps: 1e-6 });
  const e = explainAdvantage(online({ rTotal: 1.274, advantage: a0! }), oger(rewards));
  assert.equal(e.formula, 'A = (R_total − mean) / (std + eps)');
  assert.equal(e.arithmetic, `A = (1.274 − ${fmtNum(mean)}) / (${fmtNum(std)} + 1e−6) = ${fmtSigned(a0)}`);
  assert.ok(e.notes[0]!.includes(`Over the 4 members of the final group: R_total mean ${fmtNum(mean)}, sample std (ddof = 1, as torch.std in verl) ${fmtNum(std)}, eps 1e−6`), e.notes[0]);
  // population std and no std
  const pop = explainAdvantage(online({ rTotal: 1.274 }), { ...oger(rewards), advantage: { std: 'population', eps: 1e-6 } });
  assert.ok(pop.notes[0]!.includes('population std (ddof = 0)'));
  assert.equal(pop.arithmetic!.split(' = ').at(-1), fmtSigned(groupAdvantages(rewards, { std: 'population', eps: 1e-6 })[0]));
  const none = explainAdvantage(online({ rTotal: 1.274 }), { ...oger(rewards), advantage: { std: 'none', eps: 1e-6 } });
  assert.equal(none.formula, 'A = R_total − mean');
  assert.equal(none.arithmetic, `A = 1.274 − ${fmtNum(mean)} = ${fmtSigned(1.274 - mean)}`);
  // zero std and a singleton group
  assert.ok(explainAdvantage(online({ rTotal: 1 }), oger([1, 1, 1])).notes.some((n) => /zero std/.test(n)));
  assert.match(explainAdvantage(online({ rTotal: 1 }), oger([1])).notes[0]!, /group of one: mean 0 and std 1/);
  // not in the final group: no advantage, and why
  assert.equal(explainAdvantage(online({ replaced: true, inFinalGroup: false }), oger()).arithmetic, null);
  // a logged advantage that the logged rewards do not give is called out
  assert.ok(explainAdvantage(online({ rTotal: 1.274, advantage: 0.5 }), oger(rewards)).notes.some((n) => /logged A = \+0.500/.test(n)));
});

test('every badge of every member of a consistent group is explained, and each explanation\'s result is the badge\'s value', () => {
  const g = sampleGroup({ chars: 300, seed: 9 });
  const rows = orderMembers(g);
  const w = computeWhatIf(g);
  const facts = groupFacts(g, rows, w);
  for (const row of rows) {
    const e = row.member.event;
    const all = explainAll(loggedFacts(row), facts);
    for (const x of Object.values(all)) {
      assert.ok(x.title && x.formula, `${e.id} ${x.key}`);
      assert.ok(explanationLines(x).length >= 2);
    }
    if (row.inFinalGroup) assert.equal(all.advantage.arithmetic!.split(' = ').at(-1), fmtSigned(e.advantage), `${e.id}: A`);
    if (row.source === 'online') assert.equal(all.roger.arithmetic!.split(' = ').at(-1), fmtNum(e.r_oger), `${e.id}: R_OGER`);
    if (row.inFinalGroup || row.source === 'online') assert.equal(all.rtotal.arithmetic!.split(' = ').at(-1), fmtNum(e.r_total), `${e.id}: R_total`);
    // nothing in a consistent group disagrees with the maths
    for (const x of Object.values(all)) assert.ok(!x.notes.some((n) => /The trainer logged/.test(n)), `${e.id} ${x.key}: ${x.notes.join(' | ')}`);
  }
});

function change(id: string, before: Partial<MemberScore>, after: Partial<MemberScore>): MemberChange {
  const base: MemberScore = { id, source: 'online', verdict: 'correct', divergence: null, rOger: null, rTotal: null, advantage: null, replaced: false, inserted: false };
  return { id, before: { ...base, ...before }, after: { ...base, ...after }, deltaTotal: null, deltaAdvantage: null, signFlip: false };
}

test('what-if arrows: only where a value changes at display precision; a teacher outside the group shows none', () => {
  const fmt = (v: number | null | undefined) => fmtSigned(v);
  const w = (c: MemberChange, overridden = true): WhatIf => ({ byKey: new Map([[1, c]]), signFlips: 0, replacementChanged: false, overridden, error: null });
  // "A +0.354 → +0.354": the value moved in the 7th decimal
  const noise = change('a', { advantage: 0.35400001 }, { advantage: 0.35400049 });
  assert.equal(whatIfValue(w(noise), noise, 'advantage', fmt), undefined);
  // a real change
  const real = change('b', { advantage: 0.354 }, { advantage: -1.061 });
  assert.equal(whatIfValue(w(real), real, 'advantage', fmt), -1.061);
  // a teacher outside the group: no R_total and no advantage before or after, whatever was logged
  const outside = change('t', { source: 'offline', rTotal: null, advantage: null }, { source: 'offline', rTotal: null, advantage: null });
  assert.equal(whatIfValue(w(outside), outside, 'rTotal', (v) => fmtNum(v)), undefined);
  assert.equal(whatIfValue(w(outside), outside, 'advantage', fmt), undefined);
  // no relabels: no arrows at all
  assert.equal(whatIfValue(w(real, false), real, 'advantage', fmt), undefined);
  assert.equal(changedAtDisplay(0.1231, 0.1234), false);
  assert.equal(changedAtDisplay(0.1231, 0.1234, (v) => fmtNum(v, 4)), true);
  assert.equal(changedAtDisplay(null, 0), true);
});

test('what-if arrows on a real group: relabelling an online member moves others, the unused teacher never gets an arrow', () => {
  const g = sampleGroup({ chars: 300, seed: 4 });
  const rows = orderMembers(g);
  const target = rows.find((r) => r.source === 'online' && !r.member.event.replaced)!;
  target.member.label = { current: { id: 1, label: target.member.event.verdict === 'correct' ? 'wrong' : 'correct', note: null, author: 'a', createdAt: 'x', supersedes: null }, notes: [], history: [] };
  // the teacher outside the group logged an R_total, as some trainers do: no arrow for it
  const outside = rows.find((r) => r.source === 'offline' && !r.inFinalGroup)!;
  outside.member.event.r_total = 1;
  const w = computeWhatIf(g);
  assert.equal(w.overridden, true);
  const outsideChange = w.byKey.get(outside.member.trajectoryKey);
  assert.equal(whatIfValue(w, outsideChange, 'rTotal', (v) => fmtNum(v)), undefined);
  assert.equal(whatIfValue(w, outsideChange, 'advantage', (v) => fmtSigned(v)), undefined);
  const moved = rows.filter((r) => whatIfValue(w, w.byKey.get(r.member.trajectoryKey), 'advantage', (v) => fmtSigned(v)) !== undefined);
  assert.ok(moved.length >= 2, 'the relabel moves the advantages of the final group');
  assert.ok(moved.every((r) => r.inFinalGroup));
});

test('member rows: identical texts point at the first, previews drop the format\'s markers', () => {
  const g = sampleGroup({ chars: 300, seed: 4 });
  const rows = orderMembers(g);
  rows[3]!.member.event.text = rows[1]!.member.event.text;
  rows[5]!.member.event.text = rows[1]!.member.event.text;
  const d = duplicatesOf(rows);
  assert.deepEqual([...d.entries()], [[3, 1], [5, 1]]);
  assert.equal(previewText('<think>\nFirst, add   the tens.</think> 42', 'think'), 'First, add the tens. 42');
  assert.equal(previewText('<|begin_of_thought|>\n\nSo I have this problem', 'skythought'), 'So I have this problem');
  assert.equal(previewText('a\u202Eb', 'none'), 'a b', 'controls never reach a one-line preview');
  assert.equal(previewText('x'.repeat(500), 'none', 20).length, 20);
});

// The columnar whole-run re-scoring (src/core/columnar.ts) gives exactly whatIfGroup's numbers:
// random groups of every variant, advantage mode, group shape and verdict change, compared member by
// member with ===, plus the run totals and the failure of a group that cannot be scored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VERDICT_CODE, whatIfRun, type RunColumns } from '../../src/core/columnar';
import { whatIfGroup, type ScoredTrajectory } from '../../src/core/rescore';
import type { RewardSettings, Verdict } from '../../src/core/protocol';
import { VARIANTS } from '../../src/core/reward';
import { prng } from '../kit/events';

interface Case {
  members: ScoredTrajectory[];
  settings: RewardSettings;
  overrides: Map<string, Verdict>;
  divergences: Map<string, number>;
}

function randomCase(r: () => number, g: number): Case {
  const variant = VARIANTS[Math.floor(r() * VARIANTS.length)] as RewardSettings['variant'];
  const std = (['sample', 'population', 'none'] as const)[Math.floor(r() * 3)] as RewardSettings['advantage']['std'];
  const nOn = 1 + Math.floor(r() * 8);
  const nOff = Math.floor(r() * 4);
  const verdicts: Verdict[] = ['correct', 'wrong', 'error'];
  const members: ScoredTrajectory[] = [];
  const overrides = new Map<string, Verdict>();
  const divergences = new Map<string, number>();
  const tie = r() < 0.2 ? 0.5 : null; // ties in D go to the lower index
  for (let i = 0; i < nOn + nOff; i++) {
    const online = i < nOn;
    const id = `g${g}-${i}`;
    const verdict = verdicts[Math.floor(r() * (r() < 0.9 ? 2 : 3))] as Verdict;
    // Every fifth group is untouched, as most groups of a real what-if are (whatIfRun copies their scores).
    if (r() < 0.3 && g % 5 !== 0) overrides.set(id, verdicts[Math.floor(r() * 3)] as Verdict);
    if (online && g % 2 === 1 && g % 5 !== 0 && r() < 0.5) divergences.set(id, Math.round(r() * 1000) / 1000); // another encoder's D
    members.push({
      id,
      source: online ? 'online' : 'offline',
      index: online ? i : i - nOn,
      verdict,
      divergence: online ? (r() < 0.03 ? null : tie ?? Math.round(r() * 1.2 * 1000) / 1000) : null,
      entropy_last: online ? (r() < 0.05 ? null : r() * 2) : null,
      replaced: false,
      inserted: online ? undefined : r() < 0.6,
      embedding_truncated: false,
    });
  }
  // Stored order is not trusted: shuffle, as the store may hand members in any order.
  for (let i = members.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [members[i], members[j]] = [members[j] as ScoredTrajectory, members[i] as ScoredTrajectory];
  }
  return { members, settings: { variant, replace: 1, advantage: { std, eps: r() < 0.5 ? 1e-6 : 1e-4 } }, overrides, divergences };
}

function toColumns(cases: readonly Case[]): { cols: RunColumns; settings: RewardSettings[]; order: ScoredTrajectory[][] } {
  const settings: RewardSettings[] = [];
  const total = cases.reduce((n, c) => n + c.members.length, 0);
  const cols: RunColumns = {
    groupCount: cases.length, groupStart: new Uint32Array(cases.length + 1), settings: new Uint16Array(cases.length),
    online: new Uint8Array(total), verdict: new Uint8Array(total), verdictAfter: new Uint8Array(total),
    divergence: new Float64Array(total), divergenceAfter: new Float64Array(total), entropy: new Float64Array(total), inserted: new Uint8Array(total),
  };
  const order: ScoredTrajectory[][] = [];
  let m = 0;
  cases.forEach((c, g) => {
    cols.groupStart[g] = m;
    settings.push(c.settings);
    cols.settings[g] = settings.length - 1;
    const byIndex = (a: ScoredTrajectory, b: ScoredTrajectory) => (a.index ?? 0) - (b.index ?? 0);
    const sorted = [...c.members.filter((t) => t.source === 'online').sort(byIndex), ...c.members.filter((t) => t.source === 'offline').sort(byIndex)];
    order.push(sorted);
    for (const t of sorted) {
      cols.online[m] = t.source === 'online' ? 1 : 0;
      cols.verdict[m] = VERDICT_CODE[t.verdict];
      cols.verdictAfter[m] = VERDICT_CODE[c.overrides.get(t.id) ?? t.verdict];
      cols.divergence[m] = t.divergence ?? Number.NaN;
      cols.divergenceAfter![m] = c.divergences.get(t.id) ?? t.divergence ?? Number.NaN;
      cols.entropy[m] = t.entropy_last ?? Number.NaN;
      cols.inserted[m] = t.inserted ? 1 : 0;
      m++;
    }
  });
  cols.groupStart[cases.length] = m;
  return { cols, settings, order };
}

const nullOfNaN = (x: number): number | null => (Number.isNaN(x) ? null : x);

test('whatIfRun equals whatIfGroup member by member on 3,000 random groups', () => {
  const r = prng(2024);
  const cases = Array.from({ length: 3000 }, (_, g) => randomCase(r, g));
  const { cols, settings, order } = toColumns(cases);
  const run = whatIfRun(cols, settings, 100_000);
  let flips = 0;
  let replacements = 0;
  let failures = 0;
  let sumAbsA = 0;
  cases.forEach((c, g) => {
    let want;
    try {
      want = whatIfGroup(c.members, c.settings, { verdicts: c.overrides, divergences: c.divergences });
    } catch (e) {
      failures++;
      assert.ok(run.failures.messages.some((msg) => msg.startsWith(`group #${g}:`)) || run.failures.messages.length === 20, (e as Error).message);
      assert.ok(run.changed.every((x) => x.group !== g));
      // A refused group has no score on either side (no stale zeros that would read as R = 0).
      for (let m = cols.groupStart[g] as number; m < (cols.groupStart[g + 1] as number); m++) {
        for (const side of [run.before, run.after]) assert.ok(Number.isNaN(side.rTotal[m]) && Number.isNaN(side.advantage[m]), `group ${g} member ${m} is NaN`);
      }
      return;
    }
    flips += want.signFlips;
    if (want.replacementChanged) replacements++;
    const start = cols.groupStart[g] as number;
    order[g]!.forEach((t, k) => {
      const mc = want.members.find((x) => x.id === t.id)!;
      const m = start + k;
      for (const [side, s] of [['before', run.before], ['after', run.after]] as const) {
        assert.equal(nullOfNaN(s.rTotal[m] as number), mc[side].rTotal, `group ${g} ${t.id} ${side} rTotal`);
        assert.equal(nullOfNaN(s.advantage[m] as number), mc[side].advantage, `group ${g} ${t.id} ${side} advantage`);
        assert.equal(s.replaced[m] === 1, mc[side].replaced, `group ${g} ${t.id} ${side} replaced`);
      }
      if (mc.deltaAdvantage !== null) sumAbsA += Math.abs(mc.deltaAdvantage);
    });
  });
  assert.ok(failures > 0 && failures < cases.length / 4, `some groups cannot be scored (${failures})`);
  assert.ok(cases.some((c, g) => g % 5 === 0 && c.members.some((t) => t.source === 'online' && t.divergence === null && c.settings.variant === 'oger')), 'an untouched group that cannot be scored');
  assert.equal(run.failures.count, failures);
  assert.equal(run.signFlips, flips);
  assert.equal(run.replacementChanged, replacements);
  assert.ok(flips > 50 && replacements > 20, `the cases exercise flips (${flips}) and replacement changes (${replacements})`);
  assert.ok(Math.abs(run.sumAbsDeltaAdvantage - sumAbsA) < 1e-9 * Math.max(1, sumAbsA));
  // The changed list leads with the groups that flip most.
  assert.ok(run.changed.length > 0);
  for (let i = 1; i < run.changed.length; i++) assert.ok((run.changed[i - 1] as { signFlips: number }).signFlips >= (run.changed[i] as { signFlips: number }).signFlips);
  // Keeping fewer gives the head of the same order.
  assert.deepEqual(whatIfRun(cols, settings, 50).changed, run.changed.slice(0, 50));
});

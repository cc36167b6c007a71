// The trajectories table's store queries against a real SQLite store: every order, filter, page,
// grouping and the relabel-flip filter must give what the events say (computed here in JS, not SQL).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunStore } from '../../src/node/store';
import type { GroupEvent, TrajectoryEvent } from '../../src/core/protocol';
import { whatIfGroup, type ScoredTrajectory } from '../../src/core/rescore';
import { SORTABLE_COLUMNS, type TableQuery, type TableRow } from '../../src/core/tableMessages';
import { LINT_BITS } from '../../src/node/store/writer';
import { tablePageSql } from '../../src/node/store/tableQueries';
import { groupEvent, runStart } from '../kit/events';

interface Member { key: number; run: string; step: number; prompt: string; groupId: number; t: TrajectoryEvent; event: GroupEvent }

async function build(): Promise<{ store: RunStore; members: Member[]; groups: GroupEvent[] }> {
  const store = await RunStore.open(':memory:');
  const events: (GroupEvent | ReturnType<typeof runStart>)[] = [];
  const groups: GroupEvent[] = [];
  events.push(runStart('a'), runStart('b'));
  // The runs' groups interleaved, so a tie broken by run and by ingest order are different orders.
  for (let step = 0; step < 3; step++) {
    for (let g = 0; g < 5; g++) {
      for (const run of ['a', 'b']) {
        const e = groupEvent(run, step, g, { textBytes: 80, seed: run === 'a' ? 3 : 4 });
        e.prompt_id = `q-${g}`;
        e.trajectories.forEach((t, i) => {
          (t as { text: string }).text += i % 4 === 1 ? ' a zebra appears' : ' nothing';
          if (i === 2 && g === 1) (t as { r_total: number | null }).r_total = null; // nulls sort last
        });
        events.push(e);
        groups.push(e);
      }
    }
  }
  await store.writeBatch({ file: 'm', events: events.map((event, i) => ({ line: i + 1, byteOffset: i, event })), malformed: [], endOffset: 1, endLine: 1 });
  const rows = await store.db.all<{ id: number; run_id: string; traj_id: string; group_id: number }>('SELECT id, run_id, traj_id, group_id FROM trajectories');
  const members: Member[] = [];
  for (const e of groups) {
    for (const t of e.trajectories) {
      const r = rows.find((x) => x.run_id === e.run_id && x.traj_id === t.id);
      assert.ok(r);
      members.push({ key: r.id, run: e.run_id, step: e.step, prompt: e.prompt_id, groupId: r.group_id, t, event: e });
    }
  }
  return { store, members, groups };
}

const query = (over: Partial<TableQuery> = {}): TableQuery => ({ filter: '', sort: { column: 'step', dir: 'asc' }, groupBy: 'none', flippedOnly: false, ...over });

test('sorted pages: any column, both directions, nulls last, the key breaking ties; pages tile the order', async () => {
  const { store, members } = await build();
  try {
    const byRTotal = [...members].sort((x, y) => {
      const a = x.t.r_total ?? null;
      const b = y.t.r_total ?? null;
      if (a === null || b === null) return a === b ? y.run.localeCompare(x.run) || y.key - x.key : a === null ? 1 : -1;
      return b - a || y.run.localeCompare(x.run) || y.key - x.key;
    });
    const q = query({ sort: { column: 'rTotal', dir: 'desc' } });
    const all = await store.tableRows(q, 0, 500);
    assert.equal(all.total, members.length);
    assert.equal(all.totalCapped, false);
    assert.deepEqual(all.rows.map((r) => r.trajectoryKey), byRTotal.map((m) => m.key));
    assert.equal(all.rows.at(-1)?.rTotal, null, 'a null total sorts last');
    const ascending = await store.tableRows(query({ sort: { column: 'rTotal', dir: 'asc' } }), 0, 500);
    assert.equal(ascending.rows.at(-1)?.rTotal, null, 'last ascending too (SQLite would put it first)');
    assert.ok(ascending.rows[0]?.rTotal !== null);
    const pages = [...(await store.tableRows(q, 0, 7)).rows, ...(await store.tableRows(q, 7, 7)).rows, ...(await store.tableRows(q, 14, 500)).rows];
    assert.deepEqual(pages.map((r) => r.trajectoryKey), all.rows.map((r) => r.trajectoryKey));
    const newest = await store.tableRows(query({ sort: { column: 'order', dir: 'desc' } }), 0, 500);
    assert.deepEqual(newest.rows.map((r) => r.trajectoryKey), members.map((m) => m.key).sort((a, b) => b - a), 'ingest order, newest first');
    const byPrompt = await store.tableRows(query({ sort: { column: 'prompt', dir: 'asc' } }), 0, 500);
    assert.deepEqual(byPrompt.rows.map((r) => r.trajectoryKey), [...members].sort((x, y) => x.prompt.localeCompare(y.prompt) || x.groupId - y.groupId || x.key - y.key).map((m) => m.key));
    const row = all.rows.find((r) => r.trajectoryKey === members[0]!.key)!;
    assert.deepEqual([row.runId, row.step, row.promptId, row.trajectoryId, row.source, row.verdict, row.length], [members[0]!.run, 0, 'q-0', members[0]!.t.id, members[0]!.t.source, members[0]!.t.verdict, members[0]!.t.text.length]);
  } finally {
    await store.close();
  }
});

// Every sortable column, both directions, under filters that take each plan: the per-run index walks
// merged (none, runs, verdicts, sources: wide), SQLite's own plan (a step: narrow). Membership
// from the events; the order checked against a reference comparator on the rows' own values.
test('every column sorts alike whichever plan reads it: merged per-run index walks or one sort; pages tile', async () => {
  const { store, members } = await build();
  try {
    const maskOf = (lints: readonly string[]) => lints.reduce((m, k) => m | (LINT_BITS as Record<string, number>)[k]!, 0);
    const filters: [string, (m: Member) => boolean][] = [
      ['', () => true],
      ['run:a', (m) => m.run === 'a'],
      ['verdict:wrong', (m) => m.t.verdict === 'wrong'],
      ['source:online run:b', (m) => m.run === 'b' && m.t.source === 'online'],
      ['step:1', (m) => m.step === 1],
    ];
    for (const [filter, keep] of filters) {
      for (const column of SORTABLE_COLUMNS) {
        for (const dir of ['asc', 'desc'] as const) {
          const q = query({ filter, sort: { column, dir } });
          const rows = (await store.tableRows(q, 0, 1000)).rows;
          const what = `${column} ${dir} '${filter}'`;
          assert.deepEqual(rows.map((r) => r.trajectoryKey).sort((a, b) => a - b), members.filter(keep).map((m) => m.key).sort((a, b) => a - b), `${what}: the rows`);
          const groupOf = new Map(members.map((m) => [m.key, m.groupId]));
          const keyOf = (r: TableRow): (string | number | null)[] => {
            switch (column) {
              case 'order': return [r.trajectoryKey];
              case 'run': return [r.runId, r.step, r.trajectoryKey];
              case 'prompt': return [r.promptId, groupOf.get(r.trajectoryKey)!, r.trajectoryKey];
              case 'lints': return [maskOf(r.lints), r.runId, r.trajectoryKey];
              default: return [r[column === 'length' ? 'length' : column] as string | number | null, r.runId, r.trajectoryKey];
            }
          };
          const sign = dir === 'asc' ? 1 : -1;
          const cmp = (x: TableRow, y: TableRow): number => {
            const a = keyOf(x);
            const b = keyOf(y);
            for (let i = 0; i < a.length; i++) {
              if (a[i] === b[i]) continue;
              if (a[i] === null) return 1; // nulls last in both directions
              if (b[i] === null) return -1;
              return (a[i]! < b[i]! ? -1 : 1) * sign;
            }
            return 0;
          };
          assert.deepEqual(rows.map((r) => r.trajectoryKey), [...rows].sort(cmp).map((r) => r.trajectoryKey), `${what}: the order`);
          const pages = [...(await store.tableRows(q, 0, 9)).rows, ...(await store.tableRows(q, 9, 9)).rows, ...(await store.tableRows(q, 18, 1000)).rows];
          assert.deepEqual(pages.map((r) => r.trajectoryKey), rows.map((r) => r.trajectoryKey), `${what}: pages tile the order`);
        }
      }
    }
  } finally {
    await store.close();
  }
});

test('a wide sort walks each run\'s index and merges them: no sort of the whole run', async () => {
  const { store } = await build();
  try {
    for (const [column, index] of [['rTotal', 'trajectories_sort_r_total'], ['step', 'trajectories_run_step'], ['length', 'trajectories_sort_text_chars']] as const) {
      const page = tablePageSql(query({ sort: { column, dir: 'asc' } }), { sql: '1', params: [] }, { runs: ['a', 'b'], narrow: false }, 100, 50);
      const plan = (await store.db.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${page.sql}`, page.params)).map((r) => r.detail);
      assert.ok(plan.some((d) => d.includes('MERGE')), `${column}: ${plan.join(' | ')}`);
      assert.equal(plan.filter((d) => d.includes(`COVERING INDEX ${index} (run_id=?)`)).length, 2, `${column}: each run's arm reads only its index: ${plan.join(' | ')}`);
      assert.ok(!plan.some((d) => d.includes('TEMP B-TREE')), `${column}: nothing sorted: ${plan.join(' | ')}`);
    }
    const byPrompt = tablePageSql(query({ sort: { column: 'prompt', dir: 'desc' } }), { sql: '1', params: [] }, { runs: ['a', 'b'], narrow: false }, 0, 50);
    const plan = (await store.db.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${byPrompt.sql}`, byPrompt.params)).map((r) => r.detail);
    assert.ok(plan.some((d) => d.includes('groups_prompt')) && !plan.some((d) => d.includes('TEMP B-TREE')), plan.join(' | '));
  } finally {
    await store.close();
  }
});

test('filters: Find\'s tokens and free words, the total, and a bad token explained', async () => {
  const { store, members } = await build();
  try {
    const got = async (filter: string) => (await store.tableRows(query({ filter }), 0, 500)).rows.map((r) => r.trajectoryKey).sort((a, b) => a - b);
    const want = (f: (m: Member) => boolean) => members.filter(f).map((m) => m.key).sort((a, b) => a - b);
    assert.deepEqual(await got('run:a verdict:wrong'), want((m) => m.run === 'a' && m.t.verdict === 'wrong'));
    assert.deepEqual(await got('source:teacher step:1-2'), want((m) => m.t.source === 'offline' && m.step >= 1));
    assert.deepEqual(await got('verdict:wrong step:1'), want((m) => m.t.verdict === 'wrong' && m.step === 1), 'a narrow step range (through the run/step index)');
    assert.deepEqual(await got('zebra prompt:q-3'), want((m) => m.t.text.includes('zebra') && m.prompt === 'q-3'));
    const counted = await store.tableRows(query({ filter: 'zebra' }), 0, 3);
    assert.equal(counted.rows.length, 3);
    assert.equal(counted.total, members.filter((m) => m.t.text.includes('zebra')).length, 'the total counts every match, not the page');
    const bad = await store.tableRows(query({ filter: 'verdict:maybe run:b' }), 0, 500);
    assert.equal(bad.problems.length, 1);
    assert.equal(bad.total, members.filter((m) => m.run === 'b').length);
  } finally {
    await store.close();
  }
});

test('grouped by prompt and by verdict: counts and means from the events', async () => {
  const { store, members } = await build();
  try {
    const { groups } = await store.tableGroups(query({ filter: 'run:a' }), 'prompt');
    const inA = members.filter((m) => m.run === 'a');
    for (const g of groups) {
      const ms = inA.filter((m) => m.prompt === g.key);
      assert.equal(g.count, ms.length, g.key);
      const online = ms.filter((m) => m.t.source === 'online');
      assert.ok(Math.abs((g.accuracy ?? -1) - online.filter((m) => m.t.verdict === 'correct').length / online.length) < 1e-12, g.key);
      assert.equal(g.groupId, Math.max(...ms.map((m) => m.groupId)), 'the newest group opens');
    }
    assert.equal(groups.length, 5);
    const byVerdict = await store.tableGroups(query(), 'verdict');
    for (const g of byVerdict.groups) assert.equal(g.count, members.filter((m) => m.t.verdict === g.key).length, g.key);
    assert.equal(byVerdict.groups.reduce((n, g) => n + g.count, 0), members.length);
  } finally {
    await store.close();
  }
});

test('"advantage sign flipped by a relabel": the members the reward core says flip when their group is re-scored with its relabels', async () => {
  const { store, members, groups } = await build();
  try {
    assert.deepEqual(await store.relabelSignFlips(), [], 'no relabel, no flip');
    // Relabel a correct online member wrong in three groups; a note changes nothing.
    const want: number[] = [];
    for (const e of groups.slice(0, 12)) {
      const target = e.trajectories.find((t) => t.source === 'online' && t.verdict === 'correct');
      if (!target) continue;
      const m = members.find((x) => x.t === target)!;
      await store.addLabel({ trajectoryKey: m.key, label: 'wrong', author: 'test' });
      const w = whatIfGroup(e.trajectories as ScoredTrajectory[], (await store.getGroup(m.groupId))!.reward, { verdicts: new Map([[target.id, 'wrong']]) });
      for (const c of w.members) if (c.signFlip) want.push(members.find((x) => x.event === e && x.t.id === c.id)!.key);
      if (want.length > 4) break;
    }
    await store.addLabel({ trajectoryKey: members[0]!.key, label: 'note', note: 'just a note', author: 'test' });
    const flips = await store.relabelSignFlips();
    assert.ok(want.length > 0, 'the relabels flip some advantages');
    assert.deepEqual([...flips].sort((a, b) => a - b), [...want].sort((a, b) => a - b));
    const only = await store.tableRows(query({ flippedOnly: true }), 0, 500, flips);
    assert.deepEqual(only.rows.map((r) => r.trajectoryKey).sort((a, b) => a - b), [...want].sort((a, b) => a - b));
    assert.ok(only.rows.some((r) => r.label === 'wrong'), 'a relabelled row shows its label');
    assert.equal((await store.tableRows(query({ flippedOnly: true }), 0, 500, [])).total, 0, 'no flip keys, no rows');
  } finally {
    await store.close();
  }
});

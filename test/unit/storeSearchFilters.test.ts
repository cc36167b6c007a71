// Find's filters and prompt hits against a real SQLite store, on both full-text layouts: every
// filtered search must return exactly the trajectories the events say pass (computed here in JS,
// not in SQL), a prompt id finds its prompt, and a prompt's words find it too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunStore } from '../../src/node/store';
import { SEARCH_TUNING } from '../../src/node/store/store';
import type { GroupEvent } from '../../src/core/protocol';
import { groupEvent, runStart } from '../kit/events';

interface Member { key: number; run: string; step: number; verdict: string; source: string; prompt: string; text: string; groupId: number }

async function build(positional: boolean): Promise<{ store: RunStore; members: Member[] }> {
  const store = await RunStore.open(':memory:');
  if (positional) {
    await store.db.exec(`DROP TABLE trajectory_fts;
      CREATE VIRTUAL TABLE trajectory_fts USING fts5(text, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2')`);
  }
  const events: (GroupEvent | ReturnType<typeof runStart>)[] = [];
  for (const run of ['a', 'b']) {
    events.push(runStart(run));
    for (let step = 0; step < 3; step++) {
      for (let g = 0; g < 4; g++) {
        const e = groupEvent(run, step, g, { textBytes: 60, seed: run === 'a' ? 1 : 2 });
        // Prompt ids shared across runs and steps, as a dataset's are; a hyphen, as real ids have.
        e.prompt_id = `gsm8k-${g}`;
        e.prompt = g === 2 ? 'How many zebras cross the road?' : `Problem ${g}: add the numbers.`;
        e.trajectories.forEach((t, i) => {
          (t as { text: string }).text += i % 3 === 0 ? ' the marker word' : ' nothing special';
        });
        events.push(e);
      }
    }
  }
  await store.writeBatch({ file: 'm', events: events.map((event, i) => ({ line: i + 1, byteOffset: i, event })), malformed: [], endOffset: 1, endLine: 1 });
  const rows = await store.db.all<{ id: number; run_id: string; traj_id: string; group_id: number }>('SELECT id, run_id, traj_id, group_id FROM trajectories');
  const members: Member[] = [];
  for (const e of events) {
    if (e.type !== 'group') continue;
    for (const t of e.trajectories) {
      const r = rows.find((x) => x.run_id === e.run_id && x.traj_id === t.id);
      assert.ok(r);
      members.push({ key: r.id, run: e.run_id, step: e.step, verdict: t.verdict, source: t.source, prompt: e.prompt_id, text: t.text, groupId: r.group_id });
    }
  }
  return { store, members };
}

const keys = (ms: Member[]) => ms.map((m) => m.key).sort((x, y) => x - y);

for (const positional of [false, true]) {
  const layout = positional ? 'positional index' : 'presence-only index';

  test(`filters with text and without, on the ${layout}`, async () => {
    const { store, members } = await build(positional);
    try {
      const search = async (q: string) => {
        const r = await store.search(q, 500);
        assert.deepEqual(r.problems, [], q);
        return r;
      };
      const marked = members.filter((m) => m.text.includes('marker'));
      const cases: [string, (m: Member) => boolean][] = [
        ['marker run:a', (m) => m.run === 'a'],
        ['marker verdict:wrong', (m) => m.verdict === 'wrong'],
        ['marker verdict:wrong,error step:1-2', (m) => m.verdict !== 'correct' && m.step >= 1],
        ['marker source:teacher run:b step:0', (m) => m.source === 'offline' && m.run === 'b' && m.step === 0],
        ['marker prompt:gsm8k-1', (m) => m.prompt === 'gsm8k-1'],
        ['"the marker" step:2', (m) => m.step === 2],
        ['mark* source:online', (m) => m.source === 'online'],
      ];
      for (const [q, pass] of cases) {
        const r = await search(q);
        assert.deepEqual(r.hits.map((h) => h.trajectoryKey).sort((x, y) => x - y), keys(marked.filter(pass)), q);
        assert.ok(r.hits.length > 0, q);
      }
      // No text: the newest matching trajectories; one run: by step, newest first.
      const noText = await search('step:1 source:teacher');
      assert.deepEqual(noText.hits.map((h) => h.trajectoryKey), keys(members.filter((m) => m.step === 1 && m.source === 'offline')).reverse());
      // A narrow step range goes through the (run_id, step) index, a wide one walks the newest rows: same answer.
      const wide = await search('step:0-2 source:teacher');
      assert.deepEqual(wide.hits.map((h) => h.trajectoryKey), keys(members.filter((m) => m.source === 'offline')).reverse().slice(0, wide.hits.length));
      assert.ok(wide.hits.length > 0);
      const oneRun = await store.search('run:a', 10);
      assert.equal(oneRun.hits.length, 10);
      assert.ok(oneRun.hits.every((h) => h.runId === 'a' && h.step === 2));
      const empty = await search('run:nosuchrun');
      assert.deepEqual(empty.hits, []);
    } finally {
      await store.close();
    }
  });
}

test('label and lint filters follow the current label and the trajectory lints', async () => {
  const { store, members } = await build(false);
  try {
    const inA0 = members.filter((m) => m.run === 'a' && m.step === 0);
    const [x, y, z] = inA0 as [Member, Member, Member];
    await store.addLabel({ trajectoryKey: x.key, label: 'correct', author: 't' });
    const first = await store.addLabel({ trajectoryKey: y.key, label: 'wrong', author: 't' });
    await store.addLabel({ trajectoryKey: y.key, label: 'correct', author: 't', supersedes: first.id });
    await store.addLabel({ trajectoryKey: z.key, label: 'note', note: 'look', author: 't' });
    const got = async (q: string) => (await store.search(q, 500)).hits.map((h) => h.trajectoryKey).sort((a, b) => a - b);
    assert.deepEqual(await got('label:correct'), keys([x, y]));
    assert.deepEqual(await got('label:wrong'), []);
    assert.deepEqual(await got('run:a step:0 label:none'), keys(inA0.filter((m) => m !== x && m !== y)));
    assert.deepEqual(await got('run:a step:0 label:none,correct'), keys(inA0));

    // Expected lints from the groups' lint lists, not from the column the filter reads.
    const linted: Member[] = [];
    const byKind = new Map<string, Member[]>();
    for (const gid of new Set(members.map((m) => m.groupId))) {
      const d = await store.getGroup(gid);
      for (const t of d?.trajectories ?? []) {
        if (!t.lints.length) continue;
        const m = members.find((k) => k.key === t.trajectoryKey) as Member;
        linted.push(m);
        for (const l of t.lints) byKind.set(l.kind, [...(byKind.get(l.kind) ?? []), m]);
      }
    }
    assert.ok(linted.length > 0, 'the fixture has linted trajectories');
    assert.deepEqual(await got('lint:any'), keys(linted));
    for (const [kind, ms] of byKind) assert.deepEqual(await got(`lint:${kind}`), keys([...new Set(ms)]), kind);
  } finally {
    await store.close();
  }
});

test('a prompt id finds its prompt; prompt words find it too; filters narrow both', async () => {
  const { store, members } = await build(false);
  try {
    const newest = (f: (m: Member) => boolean) => Math.max(...members.filter(f).map((m) => m.groupId));
    const byId = await store.search('gsm8k-2', 100);
    assert.equal(byId.prompts[0]?.promptId, 'gsm8k-2');
    assert.equal(byId.prompts[0]?.match, 'id');
    assert.equal(byId.prompts[0]?.groups, 6);
    assert.equal(byId.prompts[0]?.groupId, newest((m) => m.prompt === 'gsm8k-2'));

    const inRun = await store.search('gsm8k-2 run:a step:0-1', 100);
    assert.equal(inRun.prompts.length, 1);
    assert.equal(inRun.prompts[0]?.groups, 2);
    assert.equal(inRun.prompts[0]?.groupId, newest((m) => m.prompt === 'gsm8k-2' && m.run === 'a' && m.step <= 1));

    const words = await store.search('zebras', 100);
    assert.deepEqual(words.prompts.map((p) => [p.promptId, p.match]), [['gsm8k-2', 'text']]);
    assert.ok(words.prompts[0]?.snippet.some((p) => p.match && p.text.toLowerCase() === 'zebras'));
    assert.equal(words.prompts[0]?.groups, 6, 'a prompt found by its text counts its groups');
    assert.equal((await store.search('zebras run:a step:0-1', 100)).prompts[0]?.groups, 2, 'those passing the filters');
    assert.deepEqual(words.hits, []);
    assert.deepEqual((await store.search('"cross the road"', 100)).prompts.map((p) => p.promptId), ['gsm8k-2']);
    assert.deepEqual((await store.search('"road the cross"', 100)).prompts, []);
    const several = await store.search('numbers', 100);
    assert.deepEqual(several.prompts.map((p) => p.promptId).sort(), ['gsm8k-0', 'gsm8k-1', 'gsm8k-3']);

    // prompt: alone lists the prompt and the trajectories of its groups.
    const filterOnly = await store.search('prompt:gsm8k-3 run:b', 500);
    assert.deepEqual(filterOnly.prompts.map((p) => p.promptId), ['gsm8k-3']);
    assert.deepEqual(filterOnly.hits.map((h) => h.trajectoryKey).sort((a, b) => a - b), keys(members.filter((m) => m.prompt === 'gsm8k-3' && m.run === 'b')));

    // Under filters a word held by many prompts is asked of the prompt index page by page: the same answer.
    SEARCH_TUNING.promptSetLimit = 0;
    try {
      assert.deepEqual((await store.search('zebras run:a step:0-1', 100)).prompts.map((p) => [p.promptId, p.groups]), [['gsm8k-2', 2]]);
      assert.deepEqual((await store.search('numbers step:1', 100)).prompts.map((p) => p.promptId).sort(), ['gsm8k-0', 'gsm8k-1', 'gsm8k-3']);
      assert.deepEqual((await store.search('"road the cross" step:1', 100)).prompts, []);
    } finally {
      SEARCH_TUNING.promptSetLimit = 50_000;
    }
    assert.deepEqual((await store.search('numbers step:1', 100)).prompts.map((p) => p.promptId).sort(), ['gsm8k-0', 'gsm8k-1', 'gsm8k-3']);

    // A member filter applies to prompt hits through the group's members.
    assert.deepEqual((await store.search('zebras label:hack', 100)).prompts, []);

    const bad = await store.search('verdict:maybe zebras', 100);
    assert.equal(bad.problems.length, 1);
    assert.deepEqual(bad.prompts.map((p) => p.promptId), ['gsm8k-2']);
    // The distinct-prompt list is kept between searches: a label or a new group must still show.
    const zebraKey = members.find((m) => m.prompt === 'gsm8k-2')?.key as number;
    await store.addLabel({ trajectoryKey: zebraKey, label: 'hack', author: 'test' });
    assert.deepEqual((await store.search('zebras label:hack', 100)).prompts.map((p) => p.promptId), ['gsm8k-2'], 'a new label is seen');
    const later = groupEvent('a', 9, 0, { textBytes: 60, seed: 7 });
    later.prompt_id = 'late-prompt';
    later.prompt = 'How many zebras live in the late prompt?';
    await store.writeBatch({ file: 'late', events: [{ line: 1, byteOffset: 0, event: later }], malformed: [], endOffset: 1, endLine: 1 });
    assert.deepEqual((await store.search('zebras', 100)).prompts.map((p) => p.promptId).sort(), ['gsm8k-2', 'late-prompt'], 'a new group is seen');
  } finally {
    await store.close();
  }
});

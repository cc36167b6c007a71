// Search on a large match set returns the newest matches unranked (ranking them all took seconds on
// a 2M-trajectory store); a small match set is still ranked by bm25; the phrase fallback holds on both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStore, SEARCH_RANK_LIMIT } from '../../src/node/store';
import type { GroupEvent } from '../../src/core/protocol';
import { groupEvent, prng, runStart } from '../kit/events';

test('search ranks small match sets and returns the newest matches of large ones', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rl-search-'));
  const store = await RunStore.open(join(dir, 'store.db'));
  try {
    const groupCount = Math.ceil((SEARCH_RANK_LIMIT + 1) / 8) + 1;
    const groups: GroupEvent[] = [];
    for (let g = 0; g < groupCount; g++) {
      const e = groupEvent('r1', Math.floor(g / 50), g, { textBytes: 40, seed: g });
      e.trajectories.forEach((t, i) => {
        (t as { text: string }).text += ` everywhereword${g % 3 === 0 && i === 1 ? ' rarezorb rarezorb rarezorb' : g % 7 === 0 && i === 2 ? ' rarezorb' : ''}`;
      });
      groups.push(e);
    }
    await store.writeBatch({
      file: 'mem',
      events: [runStart('r1'), ...groups].map((event, i) => ({ line: i + 1, byteOffset: i, event })),
      malformed: [],
      endOffset: groups.length + 1,
      endLine: groups.length + 1,
    });
    const total = groups.length * 8;
    assert.ok(total > SEARCH_RANK_LIMIT);

    const big = await store.search('everywhereword', 50);
    assert.equal(big.ranked, false);
    assert.equal(big.fellBackToPhrase, false);
    const newest = Array.from({ length: 50 }, (_, i) => total - i);
    assert.deepEqual(big.hits.map((h) => h.trajectoryKey), newest);
    assert.ok(big.hits.every((h) => h.rank === null));
    assert.ok(big.hits.every((h) => h.snippet.some((p) => p.match && p.text === 'everywhereword')));

    const small = await store.search('rarezorb', 500);
    assert.equal(small.ranked, true);
    const expected = groups.filter((_, g) => g % 3 === 0).length + groups.filter((_, g) => g % 7 === 0).length;
    assert.equal(small.hits.length, expected);
    const ranks = small.hits.map((h) => h.rank as number);
    assert.ok(ranks.every((r) => typeof r === 'number'));
    assert.deepEqual(ranks, [...ranks].sort((a, b) => a - b));
    // bm25 puts the texts with the word three times before those with it once.
    assert.ok(small.hits[0]?.trajectoryId.endsWith('-on1'));
    assert.ok(small.hits[small.hits.length - 1]?.trajectoryId.endsWith('-on2'));

    const fb = await store.search('everywhereword"', 20);
    assert.equal(fb.fellBackToPhrase, true);
    assert.equal(fb.ranked, false);
    assert.equal(fb.hits.length, 20);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

const FILLER = ['lorem', 'ipsum', 'dolor', 'sit', 'amet', 'x', 'y', '2', 'quad', 'root', 'sum', 'so', 'we', 'here', 'pick', 'then'];

test('a phrase over more candidates than are ranked: the newest texts that hold the phrase, checked page by page', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rl-search-'));
  const store = await RunStore.open(join(dir, 'store.db'));
  try {
    const groups: GroupEvent[] = [];
    const groupCount = Math.ceil((SEARCH_RANK_LIMIT + 1) / 8) + 40;
    for (let g = 0; g < groupCount; g++) {
      const e = groupEvent('r1', Math.floor(g / 50), g, { textBytes: 40, seed: g });
      // Every text holds both words; one in 13 holds them as the phrase. One in 9 is a long trace
      // (deflated, over 4 KiB of it) with the words before or after its bulk, so that a check that
      // reads only a text's start is taken both where it decides and where it cannot.
      e.trajectories.forEach((t, i) => {
        const serial = g * 8 + i;
        const words = serial % 13 === 0 ? ' so we pick alpha beta here' : ' beta before alpha here';
        const pick = prng(serial + 1);
        const bulk = serial % 9 === 0 ? ` ${Array.from({ length: 6000 }, () => FILLER[Math.floor(pick() * FILLER.length)]).join(' ')}` : '';
        (t as { text: string }).text += serial % 2 === 0 ? `${words}${bulk}` : `${bulk}${words}`;
      });
      groups.push(e);
    }
    await store.writeBatch({ file: 'mem', events: [runStart('r1'), ...groups].map((event, i) => ({ line: i + 1, byteOffset: i, event })), malformed: [], endOffset: 1, endLine: 1 });
    const keys = await store.db.all<{ id: number; traj_id: string }>('SELECT id, traj_id FROM trajectories ORDER BY id DESC');
    const want = keys.filter((_, k) => {
      const serial = keys.length - 1 - k; // insertion order: group-major, member-minor
      return serial % 13 === 0;
    }).map((r) => r.id);
    const res = await store.search('"alpha beta"', 100);
    assert.equal(res.ranked, false);
    assert.equal(res.partial ?? false, false);
    assert.deepEqual(res.hits.map((h) => h.trajectoryKey), want.slice(0, 100));
    assert.ok(res.hits.every((h) => h.snippet.some((p) => p.match)));
    // A search the caller no longer wants (Find: the user typed on) stops after its first page of
    // candidates and says the result is partial.
    let asked = 0;
    const stopped = await store.search('"alpha beta"', 100, { isStale: () => asked++ > 0 });
    assert.equal(stopped.partial, true);
    assert.ok(stopped.hits.length > 0 && stopped.hits.length < 100, `one page of candidates checked: ${stopped.hits.length} hits`);
    assert.deepEqual(stopped.hits.map((h) => h.trajectoryKey), want.slice(0, stopped.hits.length));
    // NOT a phrase: texts with both words where the phrase is absent.
    const not = await store.search('beta NOT "alpha beta"', 20);
    assert.deepEqual(not.hits.map((h) => h.trajectoryKey), keys.map((r) => r.id).filter((id) => !want.includes(id)).slice(0, 20));
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

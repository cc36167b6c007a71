// Every kind of query the Find box offers gives the same hits on schema 3's presence-only index
// (detail=none: phrases and NEAR are checked on the texts) as on the positional index that stores
// of schema 1-2 keep, which FTS5 answers itself. Plus the query parser and matcher alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunStore } from '../../src/node/store';
import { matchesText, matchesTokens, needsPositions, parseQuery, prefixMatches, presenceQuery, QuerySyntaxError, termStats, tokenize } from '../../src/node/store/search';
import type { GroupEvent } from '../../src/core/protocol';
import { groupEvent, prng, runStart } from '../kit/events';

const PHRASES = [
  'let me check the answer', 'check me let the answer', 'so the answer is 42', 'the answer, is it 42?', 'Wait, let me recheck',
  'intersection of the graphs', 'we intersect both', 'café déjà vu', 'CAFE deja VU', 'periodic with period 2', 'symmetric about x',
  'sin and cos', 'only sin here', 'alpha beta gamma delta', 'alpha x x x x x x x x x x x x delta', 'delta then alpha',
];

const WORDS = PHRASES.join(' ').split(/[^\p{L}\p{N}]+/u).filter(Boolean).concat(['x', 'y', 'z', 'qua', 'lorem', 'ipsum', 'dolor', 'sit']);

function events(): GroupEvent[] {
  const r = prng(9);
  const out: GroupEvent[] = [];
  for (let g = 0; g < 30; g++) {
    const e = groupEvent('q', Math.floor(g / 10), g, { textBytes: 60, seed: g + 1 });
    for (const t of e.trajectories) {
      const picks = [PHRASES[Math.floor(r() * PHRASES.length)], PHRASES[Math.floor(r() * PHRASES.length)]];
      // Some long traces (stored deflated, over 4 KiB of it), so that phrase checks and snippets
      // that read only a text's start are compared with the positional index too.
      const long = g % 5 === 0 ? ` ${Array.from({ length: 4000 }, () => WORDS[Math.floor(r() * WORDS.length)]).join(' ')}` : '';
      (t as { text: string }).text = r() < 0.5 ? `${t.text} ${picks.join('. ')}.${long}` : `${t.text}${long} ${picks.join('. ')}.`;
    }
    out.push(e);
  }
  return out;
}

const QUERIES = [
  'answer', 'ANSWER', 'check answer', 'check AND answer', '"let me check"', '"the answer is"', 'answer 42', '"answer is 42"',
  'intersect*', 'inter*', '"the answer" OR periodic', 'sin NOT cos', 'answer NOT "let me check"', '(sin OR symmetric) AND x',
  'NEAR(alpha delta, 3)', 'NEAR(alpha delta)', 'NEAR("the answer" 42, 2)', 'café', 'cafe deja', '"déjà vu"', 'recheck*',
  '"let me" NOT recheck', 'zzzznothing', '"check me let"',
];

async function storeWith(positional: boolean): Promise<RunStore> {
  const store = await RunStore.open(':memory:');
  if (positional) {
    // the index of a schema 1-2 store
    await store.db.exec(`DROP TABLE trajectory_fts;
      CREATE VIRTUAL TABLE trajectory_fts USING fts5(text, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2')`);
  }
  const evs = events();
  await store.writeBatch({ file: 'm', events: [runStart('q'), ...evs].map((event, i) => ({ line: i + 1, byteOffset: i, event })), malformed: [], endOffset: 1, endLine: 1 });
  return store;
}

test('every query kind finds the same trajectories on the presence-only and the positional index', async () => {
  const presence = await storeWith(false);
  const positions = await storeWith(true);
  try {
    assert.match((await presence.db.get<{ sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'trajectory_fts'"))!.sql, /detail=none/);
    for (const q of QUERIES) {
      const a = await presence.search(q, 500);
      const b = await positions.search(q, 500);
      const keys = (r: typeof a) => r.hits.map((h) => h.trajectoryKey).sort((x, y) => x - y);
      assert.deepEqual(keys(a), keys(b), `hits of ${q}`);
      assert.equal(a.fellBackToPhrase, b.fellBackToPhrase, `fallback of ${q}`);
      assert.equal(a.ranked, b.ranked, `ranked of ${q}`);
      assert.ok(a.hits.every((h) => typeof h.rank === 'number'), `${q} is ranked`);
      if (!/"|NEAR/.test(q)) {
        // Without multi-word phrases, the presence index ranks exactly as FTS5's bm25 does on the
        // positional one: same lengths (FTS5's docsize), document count and average length.
        const want = new Map(b.hits.map((h) => [h.trajectoryKey, h.rank as number]));
        for (const h of a.hits) assert.ok(Math.abs((h.rank as number) - (want.get(h.trajectoryKey) as number)) < 1e-9, `rank of ${h.trajectoryKey} for ${q}: ${h.rank} vs ${want.get(h.trajectoryKey)}`);
      }
    }
    // The phrase really narrows: the words alone match more texts than the phrase.
    assert.ok((await presence.search('"check me let"', 500)).hits.length < (await presence.search('check me let', 500)).hits.length);
    // A query that is not FTS5 syntax is searched as one phrase on both.
    for (const q of ['answer"', '(sin', 'AND answer']) {
      const a = await presence.search(q, 500);
      assert.equal(a.fellBackToPhrase, true, q);
      assert.deepEqual(a.hits.map((h) => h.trajectoryKey).sort(), (await positions.search(q, 500)).hits.map((h) => h.trajectoryKey).sort(), q);
    }
  } finally {
    await presence.close();
    await positions.close();
  }
});

test('query parser and matcher', () => {
  assert.deepEqual(tokenize('Café, DÉJÀ-vu x^2+1'), ['cafe', 'deja', 'vu', 'x', '2', '1']);
  const t = parseQuery('"let me check" OR intersect* NOT cos');
  assert.ok(t);
  assert.equal(needsPositions(t), true);
  assert.equal(presenceQuery(t), '(("let" AND "me" AND "check") OR ("intersect"* NOT "cos"))');
  assert.equal(matchesText(t, 'Now let me check it'), true);
  assert.equal(matchesText(t, 'check: let me'), false);
  assert.equal(matchesText(t, 'intersection with cos'), false);
  assert.equal(matchesText(t, 'intersection with sin'), true);
  assert.equal(presenceQuery(parseQuery('a NOT "b c"')!), '"a"', 'a NOT with a phrase on its right is checked on the text');
  assert.equal(matchesText(parseQuery('NEAR(a b, 1)')!, 'a x b'), true);
  assert.equal(matchesText(parseQuery('NEAR(a b, 1)')!, 'a x y b'), false);
  assert.equal(matchesText(parseQuery('NEAR(a b, 1)')!, 'b x a'), true);
  assert.equal(parseQuery('text:answer'), null, 'column filters are left to FTS5');
  assert.throws(() => parseQuery('"open'), QuerySyntaxError);
  assert.throws(() => parseQuery('(a'), QuerySyntaxError);
  assert.throws(() => parseQuery('a OR'), QuerySyntaxError);
});

test('the ASCII fast paths decide as tokenising does', () => {
  const texts = ['Wait, the answer is 42.', 'wait--the_answer: is 4 2', 'WAITthe answer', 'the answers is', 'x^2+1 = intersect(a,b)', 'Intersection; INTERSECTED!', 'café the answer', ''];
  const queries = ['"wait the answer"', '"the answer*"', 'intersect*', '"x 2 1"', 'answer NOT "the answer is"', '"answer is 42" OR intersected', '"cafe the"'];
  for (const q of queries) {
    const tree = parseQuery(q)!;
    for (const t of texts) assert.equal(matchesText(tree, t), matchesTokens(tree, tokenize(t)), `${q} on ${JSON.stringify(t)}`);
  }
  for (const t of texts) {
    const terms = ['the', 'answer*', 'intersect*', 'x', 'cafe'];
    const tokens = tokenize(t);
    const want = terms.map((w) => tokens.filter((k) => (w.endsWith('*') ? k.startsWith(w.slice(0, -1)) : k === w)).length);
    assert.deepEqual(termStats(t, terms), { length: tokens.length, tf: want }, t);
  }
});

test('the plain-unicode reading decides and counts as tokenising does, on random mixed texts', () => {
  // Pieces a trace holds: ASCII words and punctuation, math symbols and dashes (separators), Greek
  // and CJK letters (tokens), and what must fall back to tokenising: precomposed and combining
  // diacritics, sigma (lower-cased by its neighbours: 'ΟΔΟΣ.Α' gives σ, 'ΟΔΟΣ' alone ς), dotted
  // capital I (lower-cases to i plus a combining mark), a supplementary letter.
  const pieces = ['the', 'Answer', 'is', '42', ' ', ' ', ', ', '—', '≤', '·', 'π', 'θ', '数学', 'x²', 'café', 'e\u0301', 'ΟΔΟΣ', 'İs', '𝑥', 'THE', 'answers', '\n', '½', 'ǅ', '.', 'Α', '≠', '한'];
  const queries = ['"the answer is"', 'answer*', 'π', '"π θ"', '数学', 'the NOT "answer is"', '"is 42"', 'x', 'cafe', 'is', 'οδος', 'οδοσ', '한'];
  const r = prng(17);
  const trees = queries.map((q) => parseQuery(q)!);
  const terms = ['the', 'answer*', 'π', 'is', '数学', 'x'];
  for (let k = 0; k < 3000; k++) {
    const n = 1 + Math.floor(r() * 12);
    let t = '';
    for (let i = 0; i < n; i++) t += pieces[Math.floor(r() * pieces.length)] + (r() < 0.5 ? ' ' : '');
    const tokens = tokenize(t);
    trees.forEach((tree, q) => assert.equal(matchesText(tree, t), matchesTokens(tree, tokens), `${queries[q]} on ${JSON.stringify(t)}`));
    const want = terms.map((w) => tokens.filter((x) => (w.endsWith('*') ? x.startsWith(w.slice(0, -1)) : x === w)).length);
    assert.deepEqual(termStats(t, terms), { length: tokens.length, tf: want }, JSON.stringify(t));
  }
});

test("a text's start shows a match only where the whole text matches", () => {
  // Cut anywhere, the start spoiled as a cut UTF-8 sequence decodes: a match shown by the start
  // must hold on the whole text, including a word cut short ("answer" of "answers") and a NOT
  // that the rest of the text could satisfy.
  const words = ['the', 'answer', 'answers', 'is', '42', 'let', 'me', 'check', 'π', '—', 'Answer', 'wait', 'checked'];
  const queries = ['"the answer is"', '"let me check"', 'answer', 'answer*', 'wait AND check', 'answer NOT wait', '"is 42" OR checked', 'NEAR(let check, 2)'];
  const trees = queries.map((q) => parseQuery(q)!);
  const r = prng(5);
  let shown = 0;
  for (let k = 0; k < 1500; k++) {
    const text = Array.from({ length: 3 + Math.floor(r() * 40) }, () => words[Math.floor(r() * words.length)] as string).join(r() < 0.5 ? ' ' : ', ');
    const cut = Math.floor(r() * (text.length + 1));
    const prefix = text.slice(0, cut) + '\ufffd'.repeat(Math.floor(r() * 4));
    trees.forEach((tree, q) => {
      if (!prefixMatches(tree, prefix)) return;
      shown++;
      assert.equal(matchesText(tree, text), true, `${queries[q]}: ${JSON.stringify(prefix)} of ${JSON.stringify(text)}`);
    });
  }
  assert.ok(shown > 1000, `the start showed ${shown} matches`);
});

// Hostile webview messages: a webview renders model output, so whatever it posts is hostile until
// validated. Every hostile message (wrong types, unknown commands, paths, oversized payloads,
// prototype-pollution keys, throwing getters) must be refused by the validators in src/core without
// throwing, and nothing — neither those nor well-formed messages that point outside the store —
// may change the store. A positive control proves the store snapshot would see a change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { validateDashboardMessage, validateInspectorMessage, MESSAGE_LIMITS } from '../../src/core/messages';
import { validateDiffMessage } from '../../src/core/diffMessages';
import { RunStore } from '../../src/node/store';
import { ingestFile } from '../../src/node/ingest/ingest';
import { groupEventOf, runStartEvent, stepEventOf, tempDir } from './helpers';

type View = 'inspector' | 'dashboard' | 'diff';
type Result = { ok: true; message: { type: string } & Record<string, unknown> } | { ok: false; reason: string };

const validate: Record<View, (raw: unknown) => Result> = {
  inspector: (raw) => validateInspectorMessage(raw) as Result,
  dashboard: (raw) => validateDashboardMessage(raw) as Result,
  diff: (raw) => validateDiffMessage(raw) as Result,
};

const badNumbers: unknown[] = ['1', -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, -0.5, 2 ** 60, null, true, [], {}, '1; DROP TABLE labels', '../../etc/passwd'];
const badStrings: unknown[] = [42, null, [], {}, true, '', 'x'.repeat(MESSAGE_LIMITS.maxIdChars + 1)];

/** Every hostile message, by the view it is posted to. */
function hostileMessages(): Array<{ view: View; what: string; raw: unknown }> {
  const out: Array<{ view: View; what: string; raw: unknown }> = [];
  const add = (view: View, what: string, raw: unknown) => out.push({ view, what, raw });
  const views: View[] = ['inspector', 'dashboard', 'diff'];
  for (const view of views) {
    // Wrong types for the message itself.
    for (const raw of [null, undefined, 0, 42, 'relabel', '', [], [{ type: 'ready' }], true, new Date(), new Map([['type', 'ready']]), Object.create({ type: 'ready' }), () => 0]) {
      add(view, `non-object ${Object.prototype.toString.call(raw)}`, raw);
    }
    // Unknown commands and near misses.
    for (const type of ['deleteStore', 'eval', 'exec', 'runCommand', 'openFile', 'writeFile', 'RELABEL', 'relabel ', 'Ready', 'ready\u0000', '__proto__', 'constructor', 'toString', 1, null, ['ready'], { toString: 'ready' }]) {
      add(view, `unknown command ${JSON.stringify(type)}`, { type });
    }
    // Paths and URIs where ids belong, or as extra fields.
    for (const p of ['../../etc/passwd', '/etc/passwd', 'file:///etc/passwd', '\\\\server\\share', 'C:\\Windows\\win.ini', 'vscode://file/etc/passwd']) {
      add(view, `path field ${p}`, { type: 'ready', path: p });
      add(view, `uri field ${p}`, { type: view === 'diff' ? 'openTrajectory' : 'openDocument', trajectoryKey: 1, uri: p });
      add(view, `path as id ${p}`, { type: view === 'dashboard' ? 'openGroup' : view === 'diff' ? 'openTrajectory' : 'openDocument', trajectoryKey: p, groupId: p });
    }
    // Oversized payloads.
    add(view, 'oversized extra field', { type: 'ready', pad: 'x'.repeat(5_000_000) });
    add(view, 'oversized array', { type: 'ready', pad: new Array(1_000_000).fill(1) });
    const deep: Record<string, unknown> = {};
    let cur = deep;
    for (let i = 0; i < 20_000; i++) {
      const next: Record<string, unknown> = {};
      cur.a = next;
      cur = next;
    }
    add(view, 'deeply nested payload', { type: 'ready', deep });
    const cyclic: Record<string, unknown> = { type: 'ready' };
    cyclic.self = cyclic;
    add(view, 'cyclic payload', cyclic);
    add(view, 'BigInt field', { type: 'ready', n: 10n });
    // Prototype pollution: as JSON.parse would deliver it (own "__proto__" key) and as plain keys.
    add(view, '__proto__ own key', JSON.parse('{"type":"ready","__proto__":{"polluted":"yes"}}'));
    add(view, 'constructor.prototype', { type: 'ready', constructor: { prototype: { polluted: 'yes' } } });
    add(view, 'prototype key', { type: 'ready', prototype: { polluted: 'yes' } });
    add(view, 'null-prototype with __proto__', Object.assign(Object.create(null), JSON.parse('{"type":"ready","__proto__":{"polluted":"yes"}}')));
    // A getter that throws: validators must never throw.
    add(
      view,
      'throwing getter',
      Object.defineProperty({}, 'type', {
        enumerable: true,
        get() {
          throw new Error('boom');
        },
      }),
    );
  }
  // Wrong field types for every command of every view.
  for (const v of badNumbers) {
    add('inspector', `relabel.groupId=${String(v)}`, { type: 'relabel', groupId: v, trajectoryKey: 1, label: 'correct' });
    add('inspector', `relabel.trajectoryKey=${String(v)}`, { type: 'relabel', groupId: 1, trajectoryKey: v, label: 'wrong' });
    add('inspector', `note.trajectoryKey=${String(v)}`, { type: 'note', groupId: 1, trajectoryKey: v, text: 'hi' });
    add('inspector', `openDocument.trajectoryKey=${String(v)}`, { type: 'openDocument', trajectoryKey: v });
    add('dashboard', `selectStep.step=${String(v)}`, { type: 'selectStep', runId: 'r', step: v });
    add('dashboard', `openGroup.groupId=${String(v)}`, { type: 'openGroup', groupId: v, focusTrajectoryKey: null });
    add('dashboard', `openGroup.focus=${String(v)}`, { type: 'openGroup', groupId: 1, focusTrajectoryKey: v === null ? 'null' : v });
    add('diff', `openTrajectory.trajectoryKey=${String(v)}`, { type: 'openTrajectory', trajectoryKey: v });
    add('inspector', `rendered.ms=${String(v)}`, { type: 'rendered', view: 'inspector', what: 'group', ms: typeof v === 'number' && v >= 0 && Number.isFinite(v) ? 1e12 : v, size: 1 });
  }
  for (const s of badStrings) add('dashboard', `selectStep.runId=${String(s).slice(0, 20)}`, { type: 'selectStep', runId: s, step: 1 });
  for (const label of ['note', 'Correct', 'correct ', '', null, 1, ['correct'], { toString: 'correct' }, 'delete']) {
    add('inspector', `relabel.label=${JSON.stringify(label)}`, { type: 'relabel', groupId: 1, trajectoryKey: 1, label });
  }
  for (const text of ['', '   ', null, 7, ['a'], 'x'.repeat(MESSAGE_LIMITS.maxNoteChars + 1), 'y'.repeat(10_000_000)]) {
    add('inspector', `note.text=${typeof text === 'string' ? `${text.length} chars` : JSON.stringify(text)}`, { type: 'note', groupId: 1, trajectoryKey: 1, text });
  }
  for (const id of ['', 'abc', 'A'.repeat(64), '0'.repeat(63), `${'0'.repeat(64)}\n`, '../'.repeat(22), 5, null]) {
    add('diff', `accept.verifierId=${JSON.stringify(id).slice(0, 30)}`, { type: 'accept', verifierId: id });
  }
  add('inspector', 'rendered for the wrong view', { type: 'rendered', view: 'dashboard', what: 'series', ms: 1, size: 1 });
  add('dashboard', 'rendered unknown measure', { type: 'rendered', view: 'dashboard', what: 'exfiltrate', ms: 1, size: 1 });
  add('inspector', 'relabel with an extra field', { type: 'relabel', groupId: 1, trajectoryKey: 1, label: 'correct', author: 'attacker' });
  add('inspector', 'relabel with supersedes smuggled in', { type: 'relabel', groupId: 1, trajectoryKey: 1, label: 'correct', supersedes: 1 });
  return out;
}

/** The store's whole content, hashed table by table (ordered), to see any effect at all. */
async function snapshot(store: RunStore): Promise<string> {
  // The full-text indexes (trajectories', prompts') are contentless: counted below, not listed.
  const tables = await store.db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'trajectory_fts%' AND name NOT LIKE 'prompt_fts%' ORDER BY name");
  const h = createHash('sha256');
  for (const { name } of tables) {
    const rows = await store.db.all(`SELECT * FROM "${name}" ORDER BY 1, 2`);
    h.update(name);
    h.update(JSON.stringify(rows, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v)));
  }
  for (const fts of ['trajectory_fts', 'prompt_fts']) {
    const rows = await store.db.get<{ n: number }>(`SELECT count(*) AS n FROM ${fts}`);
    h.update(String(rows?.n));
  }
  return h.digest('hex');
}

/**
 * What the extension host does with a message that passed validation, through the store API:
 * writes only for relabel/note (after checking the trajectory belongs to the group), accept only
 * for the diff the panel showed, reads otherwise. Errors are the host's to log, never to crash on.
 */
async function act(store: RunStore, view: View, m: { type: string } & Record<string, unknown>, shownVerifierId: string): Promise<string> {
  try {
    switch (`${view}:${m.type}`) {
      case 'inspector:relabel':
      case 'inspector:note': {
        const g = await store.getGroup(m.groupId as number);
        if (!g || !g.trajectories.some((t) => t.trajectoryKey === m.trajectoryKey)) return 'refused: not a member of that group';
        await store.addLabel(
          m.type === 'note'
            ? { trajectoryKey: m.trajectoryKey as number, label: 'note', note: m.text as string, author: 'webview' }
            : { trajectoryKey: m.trajectoryKey as number, label: m.label as 'correct', author: 'webview' },
        );
        return 'written';
      }
      case 'inspector:openDocument':
      case 'diff:openTrajectory':
        return (await store.getTrajectory(m.trajectoryKey as number)) ? 'read' : 'not found';
      case 'dashboard:selectStep':
        await store.listGroups(m.runId as string, m.step as number);
        await store.stepPoints(m.runId as string, m.step as number);
        return 'read';
      case 'dashboard:openGroup':
        return (await store.getGroup(m.groupId as number)) ? 'read' : 'not found';
      case 'diff:accept':
        if (m.verifierId !== shownVerifierId) return 'refused: not the diff shown';
        await store.setActiveVerifier('r-msg', m.verifierId as string);
        return 'written';
      default:
        return 'no effect';
    }
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

test('hostile webview messages are all refused, never throw, and leave the store and Object.prototype unchanged', async () => {
  const { dir, cleanup } = tempDir('messages');
  const file = path.join(dir, 'events.jsonl');
  writeFileSync(file, [runStartEvent('r-msg'), stepEventOf('r-msg', 0), groupEventOf('r-msg', 0, 0), groupEventOf('r-msg', 0, 1)].map((e) => JSON.stringify(e)).join('\n') + '\n');
  const store = await RunStore.open(path.join(dir, 'store.db'));
  try {
    await ingestFile(store, file);
    const before = await snapshot(store);
    const hostile = hostileMessages();
    assert.ok(hostile.length >= 300, `${hostile.length} hostile messages`);
    const accepted: string[] = [];
    const byView = new Map<View, number>();
    for (const h of hostile) {
      let res: Result | undefined;
      assert.doesNotThrow(() => {
        res = validate[h.view](h.raw);
      }, `${h.view} validator threw on ${h.what}`);
      const r = res as Result;
      if (r.ok) {
        accepted.push(`${h.view}: ${h.what}`);
        await act(store, h.view, r.message, 'f'.repeat(64));
      } else {
        assert.equal(typeof r.reason, 'string');
        assert.ok(r.reason.length > 0 && r.reason.length <= 200, `${h.what}: the refusal reason is short and never echoes the payload (${r.reason.length} chars)`);
      }
      byView.set(h.view, (byView.get(h.view) ?? 0) + 1);
    }
    assert.deepEqual(accepted, [], 'hostile messages accepted');
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype polluted');
    assert.equal(await snapshot(store), before, 'a refused message changed the store');
    console.log(`hostile messages refused: ${[...byView].map(([v, n]) => `${v} ${n}`).join(', ')} (total ${hostile.length})`);

    // Well-formed messages that point outside the store: accepted by shape, no effect.
    const outside: Array<{ view: View; raw: unknown }> = [
      { view: 'inspector', raw: { type: 'relabel', groupId: 999_999, trajectoryKey: 999_999, label: 'correct' } },
      { view: 'inspector', raw: { type: 'relabel', groupId: 1, trajectoryKey: 999_999, label: 'wrong' } },
      { view: 'inspector', raw: { type: 'note', groupId: 2 ** 52, trajectoryKey: 2 ** 52, text: '<script>alert(1)</script>' } },
      { view: 'inspector', raw: { type: 'openDocument', trajectoryKey: Number.MAX_SAFE_INTEGER } },
      { view: 'dashboard', raw: { type: 'selectStep', runId: '../../etc/passwd', step: 0 } },
      { view: 'dashboard', raw: { type: 'selectStep', runId: "r-msg' OR 1=1 --", step: 0 } },
      { view: 'dashboard', raw: { type: 'openGroup', groupId: 123_456_789, focusTrajectoryKey: null } },
      { view: 'diff', raw: { type: 'openTrajectory', trajectoryKey: 99_999_999 } },
      { view: 'diff', raw: { type: 'accept', verifierId: 'a'.repeat(64) } },
    ];
    const outcomes: string[] = [];
    for (const o of outside) {
      const r = validate[o.view](o.raw);
      if (r.ok) outcomes.push(await act(store, o.view, r.message, 'f'.repeat(64)));
      else outcomes.push(`refused: ${r.reason}`);
    }
    assert.ok(outcomes.every((x) => !x.startsWith('written')), `an out-of-store message wrote: ${outcomes.join(' | ')}`);
    assert.equal(await snapshot(store), before, 'an out-of-store message changed the store');

    // Positive control: a genuine relabel does change the snapshot, so the check above can fail.
    const g = (await store.listGroups('r-msg', 0))[0];
    const detail = g ? await store.getGroup(g.groupId) : null;
    const key = detail?.trajectories[0]?.trajectoryKey as number;
    const ok = validate.inspector({ type: 'relabel', groupId: g?.groupId, trajectoryKey: key, label: 'wrong' });
    assert.ok(ok.ok, 'a genuine relabel validates');
    if (ok.ok) assert.equal(await act(store, 'inspector', ok.message, ''), 'written');
    assert.notEqual(await snapshot(store), before, 'the snapshot sees a real write');
  } finally {
    await store.close();
    cleanup();
  }
});

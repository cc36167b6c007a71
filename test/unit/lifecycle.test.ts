// The ownership rules behind every panel: what is registered is disposed once, what arrives after
// disposal is disposed at once, a closed panel leaves the open set, and the page channel holds
// messages until the page is ready.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Disposable, DisposableSet, disposeAll, toDisposable } from '../../src/extension/lifecycle';
import { ReadyChannel, isReadyMessage } from '../../src/extension/panels/channel';

class Owner extends Disposable {
  own(fn: () => void): void {
    this._register(toDisposable(fn));
  }
}

test('Disposable: registered items are disposed once, newest first; a late registration is disposed at once', () => {
  const order: string[] = [];
  const o = new Owner();
  o.own(() => order.push('a'));
  o.own(() => order.push('b'));
  o.dispose();
  o.dispose();
  assert.deepEqual(order, ['b', 'a']);
  assert.equal(o.isDisposed, true);
  o.own(() => order.push('late'));
  assert.deepEqual(order, ['b', 'a', 'late'], 'a subscription made after the panel closed does not leak');
});

test('disposeAll: one throwing item does not keep the others alive', () => {
  const done: number[] = [];
  const items = [toDisposable(() => done.push(1)), toDisposable(() => { throw new Error('boom'); }), toDisposable(() => done.push(3))];
  assert.throws(() => disposeAll(items), /boom/);
  assert.deepEqual(done, [3, 1]);
  assert.equal(items.length, 0);
});

test('DisposableSet: a closed panel leaves the set; the rest are disposed at deactivation', () => {
  const panels = new DisposableSet();
  const closed: string[] = [];
  class Panel extends Disposable {
    constructor(readonly name: string) {
      super();
      panels.add(this);
      this._register(toDisposable(() => closed.push(name)));
    }
    override dispose(): void {
      super.dispose();
      panels.delete(this);
    }
  }
  for (let i = 0; i < 50; i++) new Panel(`p${i}`).dispose();
  assert.equal(panels.size, 0, 'fifty opened and closed panels leave nothing behind');
  const a = new Panel('a');
  new Panel('b');
  assert.equal(panels.size, 2);
  panels.dispose();
  assert.equal(a.isDisposed, true);
  assert.deepEqual(closed.slice(-2).sort(), ['a', 'b']);
  const late = new Panel('late');
  assert.equal(late.isDisposed, true, 'a panel opened during shutdown is disposed at once');
});

test('ReadyChannel: posts wait for ready and go out in order; after close they resolve false', async () => {
  const sent: number[] = [];
  const ch = new ReadyChannel<number>((m) => { sent.push(m); return true; });
  const early = [ch.post(1), ch.post(2)];
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(sent, [], 'nothing reaches a page whose script has not loaded');
  ch.markReady();
  assert.deepEqual(await Promise.all(early), [true, true]);
  assert.deepEqual(sent, [1, 2]);
  assert.equal(await ch.post(3), true);
  ch.close();
  assert.equal(await ch.post(4), false);
  assert.deepEqual(sent, [1, 2, 3]);
});

test('ReadyChannel: a panel closed before its page loaded releases the waiting posts', async () => {
  const ch = new ReadyChannel<string>(() => { throw new Error('webview is disposed'); });
  const waiting = ch.post('x');
  ch.close();
  assert.equal(await waiting, false);
  const failing = new ReadyChannel<string>(() => { throw new Error('webview is disposed'); });
  failing.markReady();
  assert.equal(await failing.post('y'), false, 'a failed post resolves false, never throws');
});

test('isReadyMessage: only an object whose type is ready', () => {
  assert.equal(isReadyMessage({ type: 'ready' }), true);
  for (const raw of [null, 'ready', ['ready'], { type: 'Ready' }, { kind: 'ready' }]) assert.equal(isReadyMessage(raw), false);
});

// The encoder worker keeps the caller's event loop free and stops within 1 s when cancelled.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { EmbedCancelledError, EncoderClient } from '../../src/node/encoder/client';
import { TextEncoderOnnx } from '../../src/node/encoder/engine';
import { tinyEncoderFolder } from '../parity/fixtures';

let folder = '';
before(() => {
  // Big enough that one batch of 64 full windows takes well over the timer-lag bound when run
  // on the calling thread, small enough to build in seconds.
  folder = tinyEncoderFolder({ hidden: 64, layers: 2, maxLength: 512, strategy: 'chunk-mean' });
});

function longTraces(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `Trace ${i}. ` + `Let x = ${i}; then 17 * 12 = 204 and ${i} + 204 = ${i + 204}. Wait, check again. `.repeat(30));
}

test('embedding 2,000 long traces in the worker leaves the event loop responsive, and cancel stops it within 1 s', async () => {
  const client = await EncoderClient.start(folder);
  const controller = new AbortController();
  let progressEvents = 0;
  let firstProgress: () => void = () => undefined;
  const started = new Promise<void>((r) => (firstProgress = r));
  const job = client.embed(longTraces(2000), {
    batchSize: 64,
    signal: controller.signal,
    onProgress: () => {
      progressEvents++;
      firstProgress();
    },
  });
  job.catch(() => undefined);
  await started;

  // Timer lag while batches run: a blocked event loop would show whole batch durations here.
  const lags: number[] = [];
  await new Promise<void>((resolve) => {
    let last = Date.now();
    const t0 = last;
    const iv = setInterval(() => {
      const now = Date.now();
      lags.push(now - last - 20);
      last = now;
      if (now - t0 > 1500) {
        clearInterval(iv);
        resolve();
      }
    }, 20);
  });
  const maxLag = Math.max(...lags);
  assert.ok(progressEvents >= 1, 'the worker was embedding during the measurement');
  process.stderr.write(`encoder worker: max timer lag ${maxLag} ms over ${lags.length} ticks\n`);
  assert.ok(maxLag < 200, `event loop blocked for ${maxLag} ms`);

  const t = Date.now();
  controller.abort();
  await assert.rejects(job, EmbedCancelledError);
  const rejectMs = Date.now() - t;
  // The worker itself has stopped, not just the promise: it finishes the batch in flight only.
  await client.whenIdle();
  const stopMs = Date.now() - t;
  process.stderr.write(`encoder worker: cancel rejected after ${rejectMs} ms, worker idle after ${stopMs} ms\n`);
  assert.ok(rejectMs < 100, `cancel took ${rejectMs} ms to reject`);
  assert.ok(stopMs < 1000, `the worker kept embedding for ${stopMs} ms after cancel`);

  // The same worker takes the next job.
  const again = await client.embed(['after cancel']);
  assert.equal(again.vectors.length, again.dim);
  assert.ok(again.vectors.every(Number.isFinite));
  await client.dispose();
});

test('the same batch on the calling thread would block it: the lag bound above can fail', async () => {
  const enc = await TextEncoderOnnx.load(folder);
  const windows = Array.from({ length: 64 }, () => Array.from({ length: 510 }, (_, k) => 60 + (k % 40)));
  const t = Date.now();
  await enc.forward(windows);
  const blocked = Date.now() - t;
  assert.ok(blocked > 200, `one batch took only ${blocked} ms on this machine, so the lag test would not detect blocking`);
  await enc.dispose();
});

test('jobs are serialised and an already-aborted signal is refused without touching the worker', async () => {
  const client = await EncoderClient.start(folder, { strategy: 'truncate', maxLength: 64 });
  const [a, b] = await Promise.all([client.embed(['one', 'two']), client.embed(['three'])]);
  assert.equal(a.vectors.length, 2 * a.dim);
  assert.equal(b.vectors.length, b.dim);
  const solo = await client.embed(['three']);
  solo.vectors.forEach((x, k) => assert.ok(Math.abs(x - (b.vectors[k] as number)) < 1e-6));
  const c = new AbortController();
  c.abort();
  await assert.rejects(client.embed(['x'], { signal: c.signal }), EmbedCancelledError);
  await client.dispose();
});

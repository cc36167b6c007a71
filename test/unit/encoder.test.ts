// The TypeScript encoder on a folder exported by the Python side: folder errors, the empty-text
// convention, windows, fingerprints. Parity of the vectors themselves with PyTorch is
// python/tests/test_encoder_parity.py.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TextEncoderOnnx, planWindows, specialIds } from '../../src/node/encoder/engine';
import { EncoderClient } from '../../src/node/encoder/client';
import { CONFIG_FILE, EncoderFolderError, canonicalJson, fingerprintOf, readEncoderFolder, sha256File } from '../../src/node/encoder/folder';
import { tinyEncoderFolder } from '../parity/fixtures';

let folder = '';
before(() => {
  folder = tinyEncoderFolder({ maxLength: 32, pooling: 'mean' });
});

function copyWithout(missing: string | null, mutate?: (dir: string) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'rl-enc-'));
  for (const f of readdirSync(folder)) if (f !== missing) copyFileSync(join(folder, f), join(dir, f));
  mutate?.(dir);
  return dir;
}

const COMMAND = 'python -m reward_lens.export_encoder';

test('a missing folder or file is named, with the command that creates it', async () => {
  await assert.rejects(readEncoderFolder(join(tmpdir(), 'no-such-encoder-folder')), (e: Error) => e instanceof EncoderFolderError && e.message.includes('does not exist') && e.message.includes(COMMAND));
  for (const f of ['model.onnx', 'tokenizer.json', CONFIG_FILE]) {
    const dir = copyWithout(f);
    await assert.rejects(TextEncoderOnnx.load(dir), (e: Error) => e instanceof EncoderFolderError && e.message.includes(`${f} is missing`) && e.message.includes(COMMAND), f);
  }
});

test('corrupt files are named, with the command that re-creates them', async () => {
  const cases: [string, string | Buffer][] = [
    ['model.onnx', Buffer.from('this is not an onnx graph')],
    [CONFIG_FILE, '{"pooling": "cls", '],
    ['tokenizer.json', '{"model": '],
    [CONFIG_FILE, '{"pooling": "max"}'],
    ['model.onnx', Buffer.alloc(0)],
  ];
  for (const [file, content] of cases) {
    const dir = copyWithout(null, (d) => writeFileSync(join(d, file), content));
    await assert.rejects(TextEncoderOnnx.load(dir), (e: Error) => e instanceof EncoderFolderError && e.message.includes(file) && e.message.includes(COMMAND), `${file}: ${String(content).slice(0, 20)}`);
  }
});

test('the worker client reports folder errors the same way', async () => {
  const dir = copyWithout('tokenizer.json');
  await assert.rejects(EncoderClient.start(dir), (e: Error) => e instanceof EncoderFolderError && e.message.includes('tokenizer.json is missing') && e.message.includes(COMMAND));
});

test('empty and whitespace texts get the model\'s own [CLS][SEP] vector, finite, under both strategies', async () => {
  for (const strategy of ['truncate', 'chunk-mean'] as const) {
    const enc = await TextEncoderOnnx.load(folder, { strategy });
    const out = await enc.embed(['', '   \n\t  ', 'a']);
    const { pooled, dim } = await enc.forward([[]]);
    const norm = Math.hypot(...pooled);
    for (const row of [0, 1]) {
      const v = out.vectors.subarray(row * dim, (row + 1) * dim);
      assert.ok(v.every(Number.isFinite));
      v.forEach((x, k) => assert.ok(Math.abs(x - (pooled[k] as number) / norm) < 1e-6, `${strategy} row ${row} dim ${k}`));
    }
    const a = out.vectors.subarray(2 * dim, 3 * dim);
    assert.ok(a.some((x, k) => Math.abs(x - (out.vectors[k] as number)) > 1e-3), 'a real text differs from the empty one');
    assert.deepEqual(out.truncated, [false, false, false]);
    await enc.dispose();
  }
});

test('windows: truncate keeps the first max_length-2 tokens, chunk-mean covers all of them', () => {
  const ids = Array.from({ length: 25 }, (_, i) => i + 100);
  assert.deepEqual(planWindows(ids, 12, 'truncate'), { windows: [ids.slice(0, 10)], truncated: true });
  assert.deepEqual(planWindows(ids.slice(0, 10), 12, 'truncate'), { windows: [ids.slice(0, 10)], truncated: false });
  assert.deepEqual(planWindows(ids, 12, 'chunk-mean'), { windows: [ids.slice(0, 10), ids.slice(10, 20), ids.slice(20)], truncated: false });
  assert.deepEqual(planWindows([], 12, 'chunk-mean'), { windows: [[]], truncated: false });
});

test('chunk-mean is the token-weighted mean of unit window vectors, re-normalised', async () => {
  const enc = await TextEncoderOnnx.load(folder, { strategy: 'chunk-mean' });
  const text = 'Therefore the final answer is 204, since 17 * 12 = 204. '.repeat(4);
  const ids = enc.tokenIds(text);
  const windows = planWindows(ids, 32, 'chunk-mean').windows;
  assert.ok(windows.length >= 3);
  const { pooled, dim } = await enc.forward(windows);
  const acc = new Float64Array(dim);
  windows.forEach((w, r) => {
    const v = pooled.subarray(r * dim, (r + 1) * dim);
    const n = Math.hypot(...v);
    for (let k = 0; k < dim; k++) acc[k] = (acc[k] as number) + (w.length * (v[k] as number)) / n;
  });
  const n = Math.hypot(...acc);
  const out = await enc.embed([text], { batchSize: 2 });
  for (let k = 0; k < dim; k++) assert.ok(Math.abs((out.vectors[k] as number) - (acc[k] as number) / n) < 1e-5);
  await enc.dispose();
});

test('length batching and batch size do not change the vectors; progress counts windows', async () => {
  const enc = await TextEncoderOnnx.load(folder, { strategy: 'chunk-mean' });
  const texts = ['short', 'a much longer text with several words in it, 1 + 1 = 2', '', 'x '.repeat(80), 'mid length text here'];
  const progress: [number, number][] = [];
  const one = await enc.embed(texts, { batchSize: 1, onProgress: (d, t) => progress.push([d, t]) });
  const many = await enc.embed(texts, { batchSize: 64 });
  one.vectors.forEach((x, k) => assert.ok(Math.abs(x - (many.vectors[k] as number)) < 1e-5));
  const total = progress[0]?.[1] ?? 0;
  assert.ok(total > texts.length, 'the long text spans several windows');
  assert.deepEqual(progress.map((p) => p[0]), Array.from({ length: total }, (_, i) => i + 1));
  await enc.dispose();
});

test('fingerprint: sha256(model.onnx digest + "\\n" + canonical settings), as the Python exporter records it', async () => {
  const cfg = JSON.parse(readFileSync(join(folder, CONFIG_FILE), 'utf8')) as Record<string, string>;
  const enc = await TextEncoderOnnx.load(folder);
  assert.equal(enc.info.fingerprint, cfg.fingerprint);
  assert.equal(enc.info.sourceFingerprint, cfg.source_fingerprint);
  assert.equal(await sha256File(join(folder, 'model.onnx')), cfg.model_sha256);
  const other = await TextEncoderOnnx.load(folder, { strategy: 'chunk-mean' });
  assert.notEqual(other.info.fingerprint, enc.info.fingerprint);
  assert.equal(other.info.fingerprint, fingerprintOf(cfg.model_sha256 as string, other.info.settings));
  assert.equal(canonicalJson({ strategy: 'truncate', max_length: 8, normalize: true, pooling: 'cls' }), '{"max_length":8,"normalize":true,"pooling":"cls","strategy":"truncate"}');
  await enc.dispose();
  await other.dispose();
});

test('special ids come from the tokenizer: post-processor first, vocabulary second', () => {
  assert.deepEqual(specialIds({ post_processor: { type: 'BertProcessing', cls: ['[CLS]', 7], sep: ['[SEP]', 9] }, model: { vocab: { '[PAD]': 3 } } }), { cls: 7, sep: 9, pad: 3 });
  assert.deepEqual(specialIds({ model: { vocab: { '[CLS]': 1, '[SEP]': 2 } }, post_processor: null }), { cls: 1, sep: 2, pad: 0 });
  assert.throws(() => specialIds({ model: { vocab: { a: 1 } } }), EncoderFolderError);
});

test('asking for CUDA without its libraries falls back to CPU with a message saying why and how to fix it', async () => {
  const enc = await TextEncoderOnnx.load(folder, { device: 'cuda' });
  if (enc.info.device === 'cuda') {
    assert.deepEqual(enc.info.warnings, []);
  } else {
    assert.equal(enc.info.device, 'cpu');
    assert.match(enc.info.warnings.join('\n'), /CUDA execution provider unavailable.*embedding on CPU.*ONNXRUNTIME_NODE_INSTALL/s);
    const out = await enc.embed(['still works']);
    assert.ok(out.vectors.every(Number.isFinite));
  }
  await enc.dispose();
});

// reward-lens embed: texts.jsonl → vectors.jsonl with an exported encoder folder, in the encoder
// worker. Each input line is a JSON string or an object with a string "text" (and any "id");
// each output line is {"line", "id"?, "truncated", "vector"}. Malformed lines are counted and
// reported on stderr, never fatal.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { EncoderClient } from '../encoder/client';
import { isStrategy, type Pooling } from '../encoder/folder';
import type { EncoderOptions } from '../encoder/engine';
import { parseFlags, requireFlag, type CliCommand } from './types';

interface InputText {
  line: number;
  id: unknown;
  text: string;
}

export function encoderOptionsFromFlags(flags: Map<string, string | true>): EncoderOptions {
  const opts: EncoderOptions = {};
  const strategy = flags.get('strategy');
  if (typeof strategy === 'string') {
    if (!isStrategy(strategy)) throw new Error(`--strategy must be truncate or chunk-mean, got ${strategy}`);
    opts.strategy = strategy;
  }
  const pooling = flags.get('pooling');
  if (typeof pooling === 'string') {
    if (pooling !== 'cls' && pooling !== 'mean') throw new Error(`--pooling must be cls or mean, got ${pooling}`);
    opts.pooling = pooling as Pooling;
  }
  const int = (name: string): number | undefined => {
    const v = flags.get(name);
    if (typeof v !== 'string') return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
    return n;
  };
  opts.maxLength = int('max-length');
  opts.threads = int('threads');
  const device = flags.get('device');
  if (typeof device === 'string') {
    if (device !== 'cpu' && device !== 'cuda') throw new Error(`--device must be cpu or cuda, got ${device}`);
    opts.device = device;
  }
  if (flags.get('no-normalize') === true) opts.normalize = false;
  return opts;
}

export async function readTexts(path: string): Promise<{ texts: InputText[]; malformed: { line: number; reason: string }[] }> {
  const texts: InputText[] = [];
  const malformed: { line: number; reason: string }[] = [];
  const rl = createInterface({ input: path === '-' ? process.stdin : createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let line = 0;
  for await (const raw of rl) {
    line++;
    if (raw.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch (e) {
      malformed.push({ line, reason: `not JSON (${(e as Error).message})` });
      continue;
    }
    if (typeof v === 'string') texts.push({ line, id: undefined, text: v });
    else if (v && typeof v === 'object' && typeof (v as { text?: unknown }).text === 'string') {
      texts.push({ line, id: (v as { id?: unknown }).id, text: (v as { text: string }).text });
    } else malformed.push({ line, reason: 'neither a JSON string nor an object with a string "text"' });
  }
  return { texts, malformed };
}

export const embedCommand: CliCommand = {
  name: 'embed',
  usage: 'embed --encoder DIR --in texts.jsonl --out vectors.jsonl',
  summary: 'embed texts with an exported encoder folder ([--strategy S] [--pooling P] [--max-length N] [--threads N] [--device cpu|cuda])',
  async run(args) {
    const { flags } = parseFlags(args, ['no-normalize', 'quiet']);
    const dir = requireFlag(flags, 'encoder');
    const input = requireFlag(flags, 'in');
    const output = requireFlag(flags, 'out');
    const options = encoderOptionsFromFlags(flags);
    const batchFlag = flags.get('batch-size');
    const batchSize = typeof batchFlag === 'string' ? Number(batchFlag) : 32;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`--batch-size must be a positive integer`);
    const { texts, malformed } = await readTexts(input);
    const client = await EncoderClient.start(dir, options);
    try {
      for (const w of client.info.warnings) process.stderr.write(`reward-lens embed: ${w}\n`);
      const started = Date.now();
      const out = await client.embed(
        texts.map((t) => t.text),
        { batchSize },
      );
      const fh = await open(output, 'w');
      try {
        let buf = '';
        for (let i = 0; i < texts.length; i++) {
          const t = texts[i] as InputText;
          const vector = Array.from(out.vectors.subarray(i * out.dim, (i + 1) * out.dim));
          const rec: Record<string, unknown> = { line: t.line };
          if (t.id !== undefined) rec.id = t.id;
          rec.truncated = out.truncated[i];
          rec.vector = vector;
          buf += JSON.stringify(rec) + '\n';
          if (buf.length > 1 << 20) {
            await fh.write(buf);
            buf = '';
          }
        }
        await fh.write(buf);
      } finally {
        await fh.close();
      }
      const info = client.info;
      const summary = {
        embedded: texts.length,
        malformed: malformed.length,
        truncated: out.truncated.filter(Boolean).length,
        dim: out.dim,
        fingerprint: info.fingerprint,
        settings: info.settings,
        device: info.device,
        seconds: (Date.now() - started) / 1000,
      };
      for (const m of malformed.slice(0, 20)) process.stderr.write(`reward-lens embed: ${input}:${m.line}: skipped, ${m.reason}\n`);
      if (malformed.length > 20) process.stderr.write(`reward-lens embed: ... and ${malformed.length - 20} more malformed lines\n`);
      if (flags.get('quiet') !== true) process.stderr.write(JSON.stringify(summary) + '\n');
      return 0;
    } finally {
      await client.dispose();
    }
  },
};

// reward-lens embed: texts.jsonl → vectors.jsonl with an exported encoder folder, in the encoder
// worker. Each input line is a JSON string or an object with a string "text" (and any "id");
// each output line is {"line", "id"?, "truncated", "vector"}. Malformed lines are counted and
// reported on stderr, never fatal.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { EncoderClient } from '../encoder/client';
import { STRATEGIES } from '../encoder/folder';
import type { EncoderOptions } from '../encoder/engine';
import { choiceFlag, flag, intFlag, required, type CliCommand, type OptionSpec, type ParsedArgs } from './command';

interface InputText {
  line: number;
  id: unknown;
  text: string;
}

/** The encoder flags `embed` and `audit` share. */
export const ENCODER_OPTIONS: Record<string, OptionSpec> = {
  strategy: { type: 'string', value: 'S', help: 'long-text strategy: truncate or chunk-mean (default: the folder\'s)' },
  pooling: { type: 'string', value: 'P', help: 'cls or mean (default: the folder\'s)' },
  'max-length': { type: 'string', value: 'N', help: 'tokens per window (default: the folder\'s)' },
  threads: { type: 'string', value: 'N', help: 'ONNX Runtime intra-op threads' },
  device: { type: 'string', value: 'cpu|cuda', help: 'execution provider (default cpu)' },
  'no-normalize': { type: 'boolean', help: 'keep vectors unnormalised' },
};

export function encoderOptionsFromArgs(args: ParsedArgs): EncoderOptions {
  const opts: EncoderOptions = {};
  const strategy = choiceFlag(args, 'strategy', STRATEGIES);
  if (strategy) opts.strategy = strategy;
  const pooling = choiceFlag(args, 'pooling', ['cls', 'mean'] as const);
  if (pooling) opts.pooling = pooling;
  opts.maxLength = intFlag(args, 'max-length', 1);
  opts.threads = intFlag(args, 'threads', 1);
  const device = choiceFlag(args, 'device', ['cpu', 'cuda'] as const);
  if (device) opts.device = device;
  if (flag(args, 'no-normalize')) opts.normalize = false;
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
  usage: 'embed --encoder DIR --in texts.jsonl --out vectors.jsonl [options]',
  summary: 'embed texts with an exported encoder folder',
  options: {
    encoder: { type: 'string', value: 'DIR', required: true, help: 'an exported encoder folder (model.onnx, tokenizer.json, reward_lens_encoder.json)' },
    in: { type: 'string', value: 'FILE', required: true, help: 'texts.jsonl: one JSON string or {"text", "id"?} per line; - reads stdin' },
    out: { type: 'string', value: 'FILE', required: true, help: 'vectors.jsonl: {"line", "id"?, "truncated", "vector"} per text' },
    ...ENCODER_OPTIONS,
    'batch-size': { type: 'string', value: 'N', help: 'texts per ONNX run (default 32)' },
    quiet: { type: 'boolean', help: 'no JSON summary on stderr' },
  },
  notes: ['malformed input lines are counted and reported on stderr, never fatal'],
  async run(args) {
    const dir = required(args, 'encoder');
    const input = required(args, 'in');
    const output = required(args, 'out');
    const options = encoderOptionsFromArgs(args);
    const batchSize = intFlag(args, 'batch-size', 1) ?? 32;
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
      if (!flag(args, 'quiet')) process.stderr.write(JSON.stringify(summary) + '\n');
      return 0;
    } finally {
      await client.dispose();
    }
  },
};

// Encoder folders for TypeScript tests, made by the Python side itself (tiny random BERT + export),
// so the TS tests run on exactly what `python -m reward_lens.export_encoder` writes. Python is
// $REWARD_LENS_PYTHON or <repo>/.venv/bin/python (CI's setup creates it). Folders are cached
// under the OS temp dir, keyed by the exporter's source and the parameters, because building one
// costs a torch start-up (seconds) and several test files need one.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '..', '..');

export function pythonBin(): string {
  const env = process.env.REWARD_LENS_PYTHON;
  if (env) return env;
  const venv = join(REPO_ROOT, '.venv', 'bin', 'python');
  if (!existsSync(venv)) throw new Error(`no Python for the encoder fixtures: ${venv} is missing (run scripts/setup.sh) and REWARD_LENS_PYTHON is unset`);
  return venv;
}

export interface TinyEncoderSpec {
  seed?: number;
  hidden?: number;
  layers?: number;
  maxLength?: number;
  pooling?: 'cls' | 'mean';
  strategy?: 'truncate' | 'chunk-mean';
}

/** Path of an exported tiny random BERT folder (created once per spec and exporter version). */
export function tinyEncoderFolder(spec: TinyEncoderSpec = {}): string {
  const s = { seed: 0, hidden: 32, layers: 2, maxLength: 64, pooling: 'cls', strategy: 'truncate', ...spec };
  const h = createHash('sha256');
  for (const f of ['encoder.py', 'export_encoder.py']) h.update(readFileSync(join(REPO_ROOT, 'python', 'reward_lens', f)));
  h.update(JSON.stringify(s));
  const base = join(tmpdir(), 'reward-lens-test-encoders');
  const dir = join(base, h.digest('hex').slice(0, 16));
  if (existsSync(join(dir, 'reward_lens_encoder.json'))) return dir;
  mkdirSync(base, { recursive: true });
  const work = `${dir}.tmp-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  const script = [
    'import sys',
    'from reward_lens.encoder import tiny_random_bert',
    'from reward_lens.export_encoder import export',
    `src = tiny_random_bert(sys.argv[1] + "/src", seed=${s.seed}, hidden=${s.hidden}, layers=${s.layers})`,
    `export(src, sys.argv[1] + "/enc", pooling="${s.pooling}", max_length=${s.maxLength}, strategy="${s.strategy}")`,
  ].join('\n');
  execFileSync(pythonBin(), ['-c', script, work], {
    env: { ...process.env, HF_HUB_OFFLINE: '1', PYTHONPATH: join(REPO_ROOT, 'python') },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    renameSync(join(work, 'enc'), dir);
  } catch (e) {
    // Another test process won the race; its folder is identical.
    if (!existsSync(join(dir, 'reward_lens_encoder.json'))) throw e;
  }
  rmSync(work, { recursive: true, force: true });
  return dir;
}

// Turns a trainer's exit and its last log lines into one message that says what happened and
// what to do. The patterns are the failures researchers actually hit first: missing packages,
// CUDA out of memory, the kernel's OOM killer, a bad config.
import type { ExitOutcome } from './supervisor';

export interface ExitFacts {
  outcome: ExitOutcome;
  code: number | null;
  signal: NodeJS.Signals | null;
  command: string;
  spawnError?: Error;
  lastLines: readonly string[];
  logFile: string;
}

interface Known {
  test: RegExp;
  advice: (m: RegExpMatchArray) => string;
}

const KNOWN: Known[] = [
  {
    test: /CUDA out of memory|OutOfMemoryError|CUBLAS_STATUS_ALLOC_FAILED/,
    advice: () => 'CUDA ran out of memory: lower the config\'s batch size, group size or max response length, or enable gradient checkpointing / LoRA, then start again.',
  },
  {
    test: /No module named '?(reward_lens|torch|transformers|math_verify|numpy|pyarrow)'?/,
    advice: (m) => `The Python backend is not installed in this interpreter (missing module ${m[1]}): run "Reward Lens: Set Up Python Backend", or point rewardLens.python.interpreter at an environment that has it.`,
  },
  {
    test: /No space left on device/,
    advice: () => 'The disk is full: free space where the run directory and checkpoints are written (see rewardLens.runsDirectory), then start again.',
  },
  {
    test: /(?:config|Config)[^\n]*(?:error|invalid)|ConfigError|invalid config/,
    advice: () => 'The config was rejected: the line above names the field; fix it and start again.',
  },
];

export function diagnoseExit(f: ExitFacts): string {
  const where = `Full log: ${f.logFile}`;
  switch (f.outcome) {
    case 'spawn-failed': {
      const code = (f.spawnError as NodeJS.ErrnoException | undefined)?.code;
      if (code === 'ENOENT') {
        return `Cannot start the trainer: ${f.command} was not found. Run "Reward Lens: Set Up Python Backend" or set rewardLens.python.interpreter to a Python that has the backend.`;
      }
      if (code === 'EACCES') {
        return `Cannot start the trainer: ${f.command} is not executable (permission denied). Point rewardLens.python.interpreter at a working Python.`;
      }
      return `Cannot start the trainer (${f.spawnError?.message ?? 'unknown error'}). Check rewardLens.python.interpreter. ${where}`;
    }
    case 'completed':
      return 'The training run completed.';
    case 'stopped':
      return 'The training run stopped (the trainer finished its step and wrote a checkpoint).';
    case 'killed':
      return `The trainer did not exit after SIGTERM within the grace period and was killed (SIGKILL); its last step may not be checkpointed. ${where}`;
    case 'crashed': {
      const joined = f.lastLines.join('\n');
      for (const k of KNOWN) {
        const m = joined.match(k.test);
        if (m) return `The trainer failed (${exitText(f)}). ${k.advice(m)} ${where}`;
      }
      if (f.signal === 'SIGKILL') {
        return `The trainer was killed by SIGKILL without being asked to stop: usually the kernel's out-of-memory killer (check \`dmesg\`). Lower the batch or group size and start again. ${where}`;
      }
      const last = lastMeaningfulLine(f.lastLines);
      return `The trainer failed (${exitText(f)})${last ? `: ${last}` : ''}. Read the log for the cause, fix it, and start again. ${where}`;
    }
  }
}

function exitText(f: ExitFacts): string {
  return f.signal ? `killed by ${f.signal}` : `exit code ${f.code}`;
}

/** The last line that is not blank or a traceback frame: usually the exception itself. */
export function lastMeaningfulLine(lines: readonly string[]): string | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = (lines[i] as string).trim();
    if (!l || l.startsWith('File "') || l.startsWith('[reward-lens]') || /^\^+$/.test(l)) continue;
    return l.length > 300 ? `${l.slice(0, 300)}…` : l;
  }
  return undefined;
}

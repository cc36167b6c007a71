import { readFile } from 'node:fs/promises';
import { CaseError, evaluateRewardInput } from '../../core/rewardCase';
import { parseFlags, type CliCommand } from './types';

async function readInput(path: string): Promise<string> {
  if (path === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  return readFile(path, 'utf8');
}

export const rewardCommand: CliCommand = {
  name: 'reward',
  usage: 'reward --in FILE|-',
  summary: 'score one case or a JSON array of cases (OGER/LUFFY/GRPO) and print JSON',
  async run(args) {
    const { flags } = parseFlags(args);
    const path = flags.get('in');
    if (typeof path !== 'string') throw new Error('--in FILE is required (use - for stdin)');
    let input: unknown;
    try {
      input = JSON.parse(await readInput(path));
    } catch (e) {
      throw new Error(`${path} is not valid JSON: ${(e as Error).message}`);
    }
    try {
      process.stdout.write(JSON.stringify(evaluateRewardInput(input)) + '\n');
      return 0;
    } catch (e) {
      if (e instanceof CaseError) {
        process.stderr.write(`reward-lens reward: ${e.message}\n`);
        return 2;
      }
      throw e;
    }
  },
};

// reward-lens reward: the reward maths on one case or an array of cases (the JSON contract in
// docs/protocol.md; `python -m reward_lens.reward` speaks the same one).
import { readFile } from 'node:fs/promises';
import { CaseError, evaluateRewardInput } from '../../core/rewardCase';
import { required, type CliCommand } from './command';

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
  options: {
    in: { type: 'string', value: 'FILE', required: true, help: 'the case(s) as JSON; - reads stdin' },
  },
  notes: ['exit codes: 0 scored, 1 unreadable input, 2 a bad case (the message names the field and value)'],
  async run(args) {
    const path = required(args, 'in');
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

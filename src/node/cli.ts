#!/usr/bin/env node
// reward-lens: the command-line face of Reward Lens. Each subcommand lives in src/node/cli/.
import { rewardCommand } from './cli/reward';
import { ingestCommand } from './cli/ingest';
import { statsCommand } from './cli/stats';
import { importCommand } from './cli/import';
import { embedCommand } from './cli/embed';
import { auditCommand } from './cli/audit';
import type { CliCommand } from './cli/types';

const commands: CliCommand[] = [rewardCommand, ingestCommand, statsCommand, importCommand, embedCommand, auditCommand];

function usage(): string {
  const lines = commands.map((c) => `  ${c.usage.padEnd(58)} ${c.summary}`);
  return `usage: reward-lens <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`reward-lens: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    process.stderr.write(`reward-lens ${name}: ${(e as Error).message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});

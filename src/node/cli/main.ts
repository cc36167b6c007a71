// reward-lens: the command-line face of Reward Lens. Each subcommand lives in src/node/cli/;
// command.ts holds the conventions they share (parseArgs, --help, exit 2 on a usage error).
import { version } from '../../../package.json';
import { auditCommand } from './audit';
import { embedCommand } from './embed';
import { importCommand } from './import';
import { ingestCommand } from './ingest';
import { rewardCommand } from './reward';
import { statsCommand } from './stats';
import { UsageError, commandHelp, parseCommandArgs, wantsHelp, type CliCommand } from './command';

export const COMMANDS: readonly CliCommand[] = [rewardCommand, ingestCommand, statsCommand, importCommand, embedCommand, auditCommand];

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

const processIo: CliIo = { out: (t) => void process.stdout.write(t), err: (t) => void process.stderr.write(t) };

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `usage: reward-lens <command> [options]\n       reward-lens <command> --help\n       reward-lens --version\n\ncommands:\n${lines.join('\n')}\n`;
}

/** Runs one command line; resolves the exit code (0 done, 1 failed, 2 usage error, 3 audit mismatches). */
export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') {
    io.out(`reward-lens ${version}\n`);
    return 0;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return 0;
  }
  if (!name) {
    io.err(usage());
    return 2;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    io.err(`reward-lens: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  if (wantsHelp(rest)) {
    io.out(commandHelp(cmd));
    return 0;
  }
  try {
    return await cmd.run(parseCommandArgs(cmd, rest));
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`reward-lens ${name}: ${e.message}\nusage: reward-lens ${cmd.usage}\n(reward-lens ${name} --help lists every option)\n`);
      return 2;
    }
    io.err(`reward-lens ${name}: ${(e as Error).message}\n`);
    return 1;
  }
}

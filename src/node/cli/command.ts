// The shape of a `reward-lens` subcommand and the one argument parser behind all of them
// (node:util parseArgs, strict). Conventions: `--help`/`-h` on any subcommand prints its usage and
// exits 0; a usage error (an unknown flag, a missing value or required flag, a bad value) names
// the flag, prints the usage and exits 2; a failure while running exits 1.
import { parseArgs } from 'node:util';

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** a string flag that may be given more than once */
  multiple?: boolean;
  short?: string;
  /** shown in --help; string flags show their value name from `value` */
  help: string;
  value?: string;
  required?: boolean;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export interface CliCommand {
  name: string;
  /** one line: the command, its required flags, `[options]` */
  usage: string;
  summary: string;
  options: Record<string, OptionSpec>;
  /** what positionals mean (e.g. "EVENTS... events.jsonl files"); none accepted when absent */
  positionals?: string;
  /** extra lines after the options in --help (exit codes, examples) */
  notes?: string[];
  /** Returns the exit code. A UsageError exits 2, any other throw 1. */
  run(args: ParsedArgs): Promise<number>;
}

/** A bad command line: the message names the flag; the process exits 2 after the usage. */
export class UsageError extends Error {}

export function commandHelp(cmd: CliCommand): string {
  const flag = (name: string, o: OptionSpec) => `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
  const rows = Object.entries(cmd.options).map(([name, o]) => [flag(name, o), `${o.help}${o.required ? ' (required)' : ''}${o.multiple ? ' (repeatable)' : ''}`] as const);
  rows.push(['-h, --help', 'show this help and exit']);
  const width = Math.max(...rows.map(([f]) => f.length));
  const lines = [`usage: reward-lens ${cmd.usage}`, '', cmd.summary, ''];
  if (cmd.positionals) lines.push(`arguments:\n  ${cmd.positionals}`, '');
  lines.push('options:', ...rows.map(([f, h]) => `  ${f.padEnd(width)}  ${h}`));
  if (cmd.notes?.length) lines.push('', ...cmd.notes);
  return `${lines.join('\n')}\n`;
}

/** True when the arguments ask for help (before a `--` that ends the options). */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

/** Parses argv against the command's options; every problem is a UsageError naming the flag. */
export function parseCommandArgs(cmd: CliCommand, argv: string[]): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {};
  for (const [name, o] of Object.entries(cmd.options)) options[name] = { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) };
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: cmd.positionals !== undefined, strict: true }) as ParsedArgs;
  } catch (e) {
    // parseArgs' messages already name the option ("Unknown option '--nope'", "Option '--db <value>' argument missing").
    throw new UsageError((e as Error).message.split('\n')[0] ?? String(e));
  }
  for (const [name, o] of Object.entries(cmd.options)) {
    if (o.required && parsed.values[name] === undefined) throw new UsageError(`--${name} is required`);
  }
  return parsed;
}

/** The value of a string flag, or undefined. */
export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** The value of a required string flag (parseCommandArgs has checked it is there). */
export function required(args: ParsedArgs, name: string): string {
  const v = str(args, name);
  if (v === undefined) throw new UsageError(`--${name} is required`);
  return v;
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

/** An integer flag >= min, or undefined when absent; anything else is a UsageError naming the flag. */
export function intFlag(args: ParsedArgs, name: string, min: number): number | undefined {
  const v = str(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  const want = min === 0 ? 'a non-negative integer' : min === 1 ? 'a positive integer' : `an integer >= ${min}`;
  if (v.trim() === '' || !Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be ${want}, got ${JSON.stringify(v)}`);
  return n;
}

/** A flag limited to a few values. */
export function choiceFlag<T extends string>(args: ParsedArgs, name: string, choices: readonly T[]): T | undefined {
  const v = str(args, name);
  if (v === undefined) return undefined;
  if (!(choices as readonly string[]).includes(v)) throw new UsageError(`--${name} must be ${choices.join(' or ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

export interface CliCommand {
  name: string;
  usage: string;
  summary: string;
  /** Returns the process exit code. Throwing prints the message and exits 1. */
  run(args: string[]): Promise<number>;
}

/** Minimal --flag value parser: every flag takes one value unless listed in booleans. */
export function parseFlags(args: string[], booleans: string[] = []): { flags: Map<string, string | true>; positional: string[] } {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) {
        flags.set(a.slice(2, eq), a.slice(eq + 1));
      } else if (booleans.includes(a.slice(2))) {
        flags.set(a.slice(2), true);
      } else {
        const v = args[i + 1];
        if (v === undefined) throw new Error(`${a} needs a value`);
        flags.set(a.slice(2), v);
        i++;
      }
    } else {
      positional.push(a);
    }
  }
  return { flags, positional };
}

export function requireFlag(flags: Map<string, string | true>, name: string): string {
  const v = flags.get(name);
  if (typeof v !== 'string') throw new Error(`--${name} is required`);
  return v;
}

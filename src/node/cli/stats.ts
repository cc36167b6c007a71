import { existsSync } from 'node:fs';
import { RunStore } from '../store/store';
import { parseFlags, requireFlag, type CliCommand } from './types';

export const statsCommand: CliCommand = {
  name: 'stats',
  usage: 'stats --db DB [--json]',
  summary: 'count runs, steps, groups, trajectories, labels and malformed lines in a store',
  async run(args) {
    const { flags } = parseFlags(args, ['json']);
    const db = requireFlag(flags, 'db');
    if (!existsSync(db)) throw new Error(`no store at ${db}`);
    const store = await RunStore.open(db, { readonly: true });
    try {
      const s = await store.stats();
      if (flags.has('json')) {
        process.stdout.write(JSON.stringify(s) + '\n');
      } else {
        for (const [k, v] of Object.entries(s)) process.stdout.write(`${k.padEnd(16)} ${v}\n`);
      }
      return 0;
    } finally {
      await store.close();
    }
  },
};

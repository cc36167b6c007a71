// reward-lens stats: what a store holds.
import { existsSync } from 'node:fs';
import { RunStore } from '../store/store';
import { flag, required, type CliCommand } from './command';

export const statsCommand: CliCommand = {
  name: 'stats',
  usage: 'stats --db DB [--json]',
  summary: 'count runs, steps, groups, trajectories, labels and malformed lines in a store',
  options: {
    db: { type: 'string', value: 'DB', required: true, help: 'the run store (SQLite); opened read-only' },
    json: { type: 'boolean', help: 'print one JSON object' },
  },
  async run(args) {
    const db = required(args, 'db');
    if (!existsSync(db)) throw new Error(`no store at ${db}`);
    const store = await RunStore.open(db, { readonly: true });
    try {
      const s = await store.stats();
      if (flag(args, 'json')) {
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

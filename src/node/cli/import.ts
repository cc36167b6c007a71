import { existsSync } from 'node:fs';
import { importTrl } from '../importers/trl';
import { importVerl } from '../importers/verl';
import { RunStore } from '../store/store';
import { parseFlags, requireFlag, type CliCommand } from './types';

export const importCommand: CliCommand = {
  name: 'import',
  usage: 'import --verl DIR|--trl DIR --db DB [--run-id ID] [--model M] [--json]',
  summary: "import a verl rollout_data_dir or TRL completions/*.parquet as a grpo run",
  async run(args) {
    const { flags } = parseFlags(args, ['json']);
    const db = requireFlag(flags, 'db');
    const verl = flags.get('verl');
    const trl = flags.get('trl');
    if ((typeof verl === 'string') === (typeof trl === 'string')) throw new Error('give exactly one of --verl DIR or --trl DIR');
    const dir = (typeof verl === 'string' ? verl : trl) as string;
    if (!existsSync(dir)) throw new Error(`no such directory: ${dir}`);
    const runId = flags.get('run-id');
    const model = flags.get('model');
    const options = { ...(typeof runId === 'string' ? { runId } : {}), ...(typeof model === 'string' ? { model } : {}) };
    const store = await RunStore.open(db);
    try {
      const s = typeof verl === 'string' ? await importVerl(store, dir, options) : await importTrl(store, dir, options);
      for (const m of s.malformed) process.stderr.write(`${m.file}:${m.line}: ${m.reason}\n`);
      if (flags.has('json')) {
        const { changes: _changes, ...rest } = s;
        process.stdout.write(JSON.stringify({ ...rest, malformed: s.malformed.map((m) => ({ file: m.file, line: m.line, reason: m.reason })) }) + '\n');
      } else {
        process.stdout.write(
          `${s.source} ${dir} → run ${s.runId}: ${s.files} files read (${s.skippedFiles} already imported), ${s.rows} rows, ` +
            `${s.groups} new groups, ${s.trajectories} trajectories, ${s.malformed.length} malformed\n`,
        );
      }
      return 0;
    } finally {
      await store.close();
    }
  },
};

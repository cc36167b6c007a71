import { existsSync } from 'node:fs';
import { importTrl } from '../importers/trl';
import { importVerl } from '../importers/verl';
import { RunStore } from '../store/store';
import { UsageError, flag, required, str, type CliCommand } from './command';

export const importCommand: CliCommand = {
  name: 'import',
  usage: 'import --verl DIR|--trl DIR --db DB [--run-id ID] [--model M] [--json]',
  summary: 'import a verl rollout_data_dir or TRL completions/*.parquet as a grpo run',
  options: {
    verl: { type: 'string', value: 'DIR', help: "verl's trainer.rollout_data_dir (one {step}.jsonl per step)" },
    trl: { type: 'string', value: 'DIR', help: "TRL's completions folder (completions_*.parquet)" },
    db: { type: 'string', value: 'DB', required: true, help: 'the run store (SQLite); created when missing' },
    'run-id': { type: 'string', value: 'ID', help: 'the run id to store it under (default: from the folder)' },
    model: { type: 'string', value: 'M', help: 'the model name to record' },
    json: { type: 'boolean', help: 'print one JSON summary' },
  },
  async run(args) {
    const db = required(args, 'db');
    const verl = str(args, 'verl');
    const trl = str(args, 'trl');
    if ((verl === undefined) === (trl === undefined)) throw new UsageError('give exactly one of --verl DIR or --trl DIR');
    const dir = (verl ?? trl) as string;
    if (!existsSync(dir)) throw new Error(`no such directory: ${dir}`);
    const runId = str(args, 'run-id');
    const model = str(args, 'model');
    const options = { ...(runId !== undefined ? { runId } : {}), ...(model !== undefined ? { model } : {}) };
    const store = await RunStore.open(db);
    try {
      const s = verl !== undefined ? await importVerl(store, dir, options) : await importTrl(store, dir, options);
      for (const m of s.malformed) process.stderr.write(`${m.file}:${m.line}: ${m.reason}\n`);
      if (flag(args, 'json')) {
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

import { existsSync } from 'node:fs';
import { ingestFile, type IngestSummary } from '../ingest/ingest';
import { RunStore } from '../store/store';
import type { MalformedInput } from '../store/writer';
import { UsageError, flag, required, type CliCommand } from './command';

/** Malformed lines go to stderr as FILE:LINE: reason, the format editors and grep understand. */
export function reportMalformed(file: string, malformed: readonly MalformedInput[]): void {
  for (const m of malformed) process.stderr.write(`${file}:${m.line}: ${m.reason}\n`);
}

export function summaryJson(s: IngestSummary) {
  return {
    file: s.file,
    events: s.events,
    groups: s.groups,
    trajectories: s.trajectories,
    duplicates: s.duplicates,
    bytes: s.bytes,
    lines: s.lines,
    pendingBytes: s.pendingBytes,
    restarted: s.restarted,
    malformed: s.malformed.map((m) => ({ line: m.line, byteOffset: m.byteOffset, reason: m.reason })),
  };
}

export const ingestCommand: CliCommand = {
  name: 'ingest',
  usage: 'ingest EVENTS... --db DB [--json]',
  summary: 'ingest events.jsonl files into a store (resumable; bad lines reported, not fatal)',
  positionals: 'EVENTS...  one or more events.jsonl files (protocol v1)',
  options: {
    db: { type: 'string', value: 'DB', required: true, help: 'the run store (SQLite); created when missing' },
    json: { type: 'boolean', help: 'print the summary as JSON (one object per file)' },
  },
  notes: ['malformed lines are reported on stderr as FILE:LINE: reason and do not fail the command'],
  async run(args) {
    const positional = args.positionals;
    const db = required(args, 'db');
    if (positional.length === 0) throw new UsageError('give at least one events.jsonl file');
    for (const f of positional) if (!existsSync(f)) throw new Error(`no such file: ${f}`);
    const store = await RunStore.open(db);
    const results: IngestSummary[] = [];
    try {
      for (const file of positional) {
        const s = await ingestFile(store, file);
        results.push(s);
        reportMalformed(file, s.malformed);
        if (!flag(args, 'json')) {
          process.stdout.write(
            `${file}: ${s.events} events (${s.groups} new groups, ${s.trajectories} trajectories, ${s.duplicates} already stored), ` +
              `${s.bytes} bytes, ${s.malformed.length} malformed line${s.malformed.length === 1 ? '' : 's'}` +
              `${s.pendingBytes > 0 ? `, ${s.pendingBytes} bytes waiting for a newline` : ''}\n`,
          );
        }
      }
    } finally {
      await store.close();
    }
    if (flag(args, 'json')) {
      const out = results.map(summaryJson);
      process.stdout.write(JSON.stringify(out.length === 1 ? out[0] : out) + '\n');
    }
    return 0;
  },
};

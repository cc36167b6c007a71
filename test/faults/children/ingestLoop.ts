// Child process for the crash test: ingests one events.jsonl again and again in small batches (so a
// kill -9 lands inside a transaction often), printing the committed offset after each pass.
import { RunStore } from '../../../src/node/store';
import { ingestFile } from '../../../src/node/ingest/ingest';

async function main(): Promise<void> {
  const [db, file] = process.argv.slice(2) as [string, string];
  const store = await RunStore.open(db);
  process.stdout.write('ready\n');
  for (;;) {
    const s = await ingestFile(store, file, { batchLines: 7 });
    process.stdout.write(`pass start=${s.startOffset} end=${s.endOffset} events=${s.events} pending=${s.pendingBytes}\n`);
    if (s.events === 0) await new Promise((r) => setTimeout(r, 10));
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`ingest child failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(3);
});

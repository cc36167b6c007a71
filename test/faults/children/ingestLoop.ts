// Child process for the crash and concurrency tests: ingests one events.jsonl again and again in small batches (so a
// kill -9 lands inside a transaction often), printing the committed offset after each pass.
import { RunStore } from '../../../src/node/store';
import { ingestFile } from '../../../src/node/ingest/ingest';

async function main(): Promise<void> {
  const [db, file, batchArg] = process.argv.slice(2) as [string, string, string | undefined];
  // Small batches by default, so a kill -9 lands inside a transaction often; the concurrency test
  // passes 0 for the ingest's own defaults (full speed).
  const batchLines = batchArg === undefined ? 7 : Number(batchArg) || undefined;
  const store = await RunStore.open(db);
  process.stdout.write('ready\n');
  for (;;) {
    const s = await ingestFile(store, file, {
      ...(batchLines ? { batchLines } : {}),
      onProgress: (p) => process.stdout.write(`progress ${p.byteOffset} ${p.trajectories}\n`),
    });
    process.stdout.write(`pass start=${s.startOffset} end=${s.endOffset} events=${s.events} pending=${s.pendingBytes}\n`);
    if (s.events === 0) await new Promise((r) => setTimeout(r, 10));
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`ingest child failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(3);
});

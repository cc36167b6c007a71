// Child process for the crash test: adds labels through the store API one after another and
// prints `ack <label id> <trajectory key>` only after addLabel's promise resolved, i.e. after the
// store acknowledged the write. The parent kills it with SIGKILL at random moments.
import { RunStore } from '../../../src/node/store';

async function main(): Promise<void> {
  const [db, tag] = process.argv.slice(2) as [string, string];
  const store = await RunStore.open(db);
  const keys = (await store.db.all<{ id: number }>('SELECT id FROM trajectories ORDER BY id')).map((r) => r.id);
  process.stdout.write('ready\n');
  for (let i = 0; ; i++) {
    const key = keys[i % keys.length] as number;
    const l = await store.addLabel({ trajectoryKey: key, label: i % 3 === 0 ? 'wrong' : i % 3 === 1 ? 'correct' : 'note', note: `${tag} #${i}`, author: 'fault-test' });
    process.stdout.write(`ack ${l.id} ${key}\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`label child failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(3);
});

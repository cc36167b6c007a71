// Find on a large store, as the quick pick calls it (RunStore.search, 50 hits): a fixed set of
// queries, each run 5 times in a row (the first pays for reading the pages it needs into the cache;
// the quick pick searches again on every keystroke). Prints the median and the maximum per query.
// Not a runner benchmark (Find has no target of its own): a probe for the notes and the README.
//
// Usage: node --import tsx bench/find-probe.ts STORE.db
//   e.g. .cache/bench/compare-3x2000.db (3 runs x 2M trajectories, 750,000 groups each with its
//   own prompt: the worst case for prompt matching; `npm run bench -- --only compare` builds it)
import { RunStore } from '../src/node/store';

const QUERIES = ['answer', 'p267-54', 'verdict:wrong step:100-110', 'lint:any run:study-oger-s1 step:5', '"let me check"', 'simplify verdict:correct', 'prompt:p1999-3'];

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file) throw new Error('usage: node --import tsx bench/find-probe.ts STORE.db');
  const store = await RunStore.open(file, { readonly: true });
  try {
    for (const q of QUERIES) {
      const times: number[] = [];
      let hits = 0;
      let prompts = 0;
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        const r = await store.search(q, 50);
        times.push(performance.now() - t0);
        hits = r.hits.length;
        prompts = r.prompts.length;
      }
      const sorted = [...times].sort((a, b) => a - b);
      console.log(`${JSON.stringify(q).padEnd(38)} ${String(hits).padStart(3)} hits ${String(prompts).padStart(2)} prompts  first ${(times[0] as number).toFixed(1)} ms  median ${(sorted[2] as number).toFixed(1)} ms  max ${(sorted[4] as number).toFixed(1)} ms`);
    }
  } finally {
    await store.close();
  }
}

void main();

import { RunStore } from '../src/node/store';
const s = await RunStore.open(process.argv[2]!, { readonly: true });
const all: number[] = [];
for (const q of process.argv.slice(3)) {
  const ms: number[] = [];
  for (let i = 0; i < 4; i++) { const t0 = performance.now(); await s.search(q, 50); ms.push(performance.now() - t0); }
  all.push(...ms.slice(1));
  console.log(q, ms.map((x) => x.toFixed(1)).join(' '));
}
all.sort((a, b) => a - b);
console.log('p50', all[Math.floor((all.length - 1) / 2)]!.toFixed(1), 'p95', all[Math.ceil(0.95 * all.length) - 1]!.toFixed(1), 'n', all.length);
await s.close();

// The extension host's end-to-end timings in a running rig: VS Code writes the "Reward Lens"
// output channel to a file under the rig's user-data dir, and the host logs one
// "[perf] host.<what> N ms" line per open there (src/extension/panels, src/extension/compare).
// For benchmarks that drive code-server (bench/compare.ts; bench/vscode-latency.ts keeps its own
// copy of the same reader until the store rework is merged).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Rig } from './rig';
import { waitFor } from './rig';
import { parsePerfLine, type PerfSample } from './ui';

/** The file VS Code writes the Reward Lens output channel to (exthost logs, one per session). */
export function findChannelLog(root: string): string | undefined {
  const stack = [join(root, 'user', 'logs')];
  while (stack.length) {
    const dir = stack.pop() as string;
    let names: string[];
    try { names = readdirSync(dir); } catch { continue; }
    for (const n of names) {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) stack.push(p);
      else if (/Reward Lens\.log$/.test(n)) return p;
    }
  }
  return undefined;
}

export class HostPerf {
  private file: string | undefined;
  constructor(private readonly rig: Rig) {}

  samples(what: PerfSample['what']): PerfSample[] {
    this.file ??= findChannelLog(this.rig.root);
    if (!this.file) return [];
    return readFileSync(this.file, 'utf8').split('\n').map(parsePerfLine).filter((s): s is PerfSample => s !== null && s.view === 'host' && s.what === what);
  }

  /** Waits for the (count)th host line of `what` and returns it. */
  async nth(what: PerfSample['what'], count: number, timeoutMs = 60_000): Promise<PerfSample> {
    return waitFor(`host perf line #${count} for ${what}`, timeoutMs, () => this.samples(what)[count - 1], 50);
  }
}

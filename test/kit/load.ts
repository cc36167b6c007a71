// Wall-clock bounds for tests on a shared 2-core machine. A bound that holds on an idle machine
// (the claim under test) is stretched by how far the 1-minute load exceeds the cores, so other
// work on the machine does not fail a test, while a slow run on an idle machine still does.
import { cpus, loadavg } from 'node:os';

/** `idleMs` scaled by max(1, load / cores); the load is printed with the bound when it fails. */
export function loadScaledBound(idleMs: number): { ms: number; note: string } {
  const load = loadavg()[0] ?? 0;
  const cores = Math.max(1, cpus().length);
  const ms = Math.round(idleMs * Math.max(1, load / cores));
  return { ms, note: `bound ${ms} ms (${idleMs} ms idle, load ${load.toFixed(1)} on ${cores} cores)` };
}

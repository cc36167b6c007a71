// What a whole-run what-if needs on the queries benchmark's 2M store: a second verdict set (a
// stricter verifier flipping ~3% of the logged verdicts, one verdict per trajectory, as a full
// re-verify writes) and 1,000 relabels. Added once to the cached store, idempotently; the set is made
// active only while the what-if is measured (activate/deactivate), so the other benchmarks on the
// store still see the logged verdicts.
import { RunStore } from '../../src/node/store/store';
import type { Verdict } from '../../src/core/protocol';

export const STRICT_VERIFIER = { source: 'reward-lens bench: strict verifier v2', name: 'bench-strict.py' };

/** Deterministic pseudo-random in [0, 1) from a trajectory key. */
function unit(key: number, salt: number): number {
  let x = (Math.imul(key, 2654435761) ^ Math.imul(salt + 1, 40503)) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 2246822519) >>> 0;
  x ^= x >>> 13;
  return (x >>> 0) / 4294967296;
}

export async function prepareWhatIf(file: string, runId: string, log: (s: string) => void = () => undefined): Promise<{ strictId: string; loggedId: string }> {
  const store = await RunStore.open(file);
  try {
    const run = await store.getRun(runId);
    if (!run) throw new Error(`no run ${runId} in ${file}`);
    const v = await store.addVerifierVersion(STRICT_VERIFIER);
    const have = (await store.db.get<{ n: number }>('SELECT count(*) AS n FROM verdicts WHERE verifier_id = ?', [v.id]))?.n ?? 0;
    if (have < run.trajectoryCount) {
      const t0 = performance.now();
      let after = 0;
      for (;;) {
        const rows = await store.db.all<{ id: number; verdict: Verdict }>('SELECT id, verdict FROM trajectories WHERE run_id = ? AND id > ? ORDER BY id LIMIT 100000', [runId, after]);
        if (rows.length === 0) break;
        after = (rows[rows.length - 1] as { id: number }).id;
        await store.writeVerdicts(v.id, rows.map((r) => {
          const u = unit(r.id, 1);
          const verdict: Verdict = u < 0.02 && r.verdict === 'wrong' ? 'correct' : u > 0.99 && r.verdict === 'correct' ? 'wrong' : r.verdict;
          return { trajectoryKey: r.id, verdict, reason: 'bench strict', extracted: null };
        }));
      }
      log(`  what-if fixture: ${run.trajectoryCount} verdicts of ${STRICT_VERIFIER.name} written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    const labels = (await store.labels(runId)).length;
    if (labels < 1000) {
      const max = (await store.db.get<{ n: number }>('SELECT max(id) AS n FROM trajectories WHERE run_id = ?', [runId]))?.n ?? 0;
      for (let i = labels; i < 1000; i++) {
        const key = 1 + Math.floor(unit(i, 7) * max);
        const t = await store.db.get<{ verdict: Verdict }>('SELECT verdict FROM trajectories WHERE id = ?', [key]);
        if (!t) continue;
        await store.addLabel({ trajectoryKey: key, label: t.verdict === 'correct' ? (i % 3 === 0 ? 'hack' : 'wrong') : 'correct', author: 'bench' });
      }
    }
    const logged = await store.db.get<{ verifier_id: string }>('SELECT verifier_id FROM runs WHERE run_id = ?', [runId]);
    return { strictId: v.id, loggedId: logged?.verifier_id ?? '' };
  } finally {
    await store.close();
  }
}

/** Makes the strict set active (true) or the logged one again (false). */
export async function setWhatIfActive(file: string, runId: string, ids: { strictId: string; loggedId: string }, active: boolean): Promise<void> {
  const store = await RunStore.open(file);
  try {
    await store.setActiveVerifier(runId, active ? ids.strictId : ids.loggedId);
  } finally {
    await store.close();
  }
}

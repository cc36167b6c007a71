// The store reads of Compare Runs, kept out of store.ts: a run's per-prompt figures at one step.
// They take the store's database handle and read only columns the per-group sums already hold
// (groups) plus, for the entropy column, the online members' H_last and token entropies.
import type { PromptCell, RunCells } from '../../core/compare';
import { float32FromBlob } from './codec';
import type { Db } from './sqlite';

interface GroupRow {
  id: number;
  prompt_id: string;
  prompt_preview: string;
  step: number;
  online_count: number;
  online_correct: number;
  roger_correct_sum: number;
  roger_correct_n: number;
}

interface MemberRow {
  group_id: number;
  entropy_last: number | null;
  entropies: Buffer | null;
}

/**
 * Every group of `runId` at `step`, as table cells: accuracy and mean R_OGER from the group's
 * sums, entropy from its online members (their token entropies pooled, and their H_last).
 * Two indexed reads: groups by (run_id, step, prompt_id), trajectories by (run_id, step).
 */
export async function promptCellsAtStep(db: Db, runId: string, step: number): Promise<RunCells[]> {
  const groups = await db.all<GroupRow>(
    `SELECT id, prompt_id, prompt_preview, step, online_count, online_correct, roger_correct_sum, roger_correct_n
     FROM groups WHERE run_id = ? AND step = ?`,
    [runId, step],
  );
  if (groups.length === 0) return [];
  const members = await db.all<MemberRow>(
    `SELECT t.group_id, t.entropy_last, ts.entropies
     FROM trajectories t LEFT JOIN token_stats ts ON ts.trajectory_id = t.id
     WHERE t.run_id = ? AND t.step = ? AND t.source = 'online'`,
    [runId, step],
  );
  const entropy = new Map<number, { tokSum: number; tokN: number; hSum: number; hN: number }>();
  for (const m of members) {
    let e = entropy.get(m.group_id);
    if (!e) {
      e = { tokSum: 0, tokN: 0, hSum: 0, hN: 0 };
      entropy.set(m.group_id, e);
    }
    if (m.entropy_last !== null && Number.isFinite(m.entropy_last)) {
      e.hSum += m.entropy_last;
      e.hN++;
    }
    if (m.entropies) {
      const values = float32FromBlob(m.entropies);
      for (let i = 0; i < values.length; i++) {
        const v = values[i] as number;
        if (Number.isFinite(v)) {
          e.tokSum += v;
          e.tokN++;
        }
      }
    }
  }
  return groups.map((g) => {
    const e = entropy.get(g.id);
    const cell: PromptCell = {
      groupId: g.id,
      step: g.step,
      n: g.online_count,
      correct: g.online_correct,
      meanROger: g.roger_correct_n > 0 ? g.roger_correct_sum / g.roger_correct_n : null,
      tokenEntropy: e && e.tokN > 0 ? e.tokSum / e.tokN : null,
      hLast: e && e.hN > 0 ? e.hSum / e.hN : null,
    };
    return { promptId: g.prompt_id, preview: g.prompt_preview, cell };
  });
}

// A run's scoring components as columns, for whole-run what-ifs (src/core/columnar.ts).
//
// At ingest each group's members are packed into one blob (`group_components`, schema 3), so that
// reading a 2,000,000-trajectory run is 250,000 short rows clustered by run, not 2,000,000
// trajectory rows that each carry their text. Groups stored before schema 3 have no blob; their
// trajectory rows are read instead (same columns, slower).
//
// Blob, little-endian, 24 bytes per member in event order:
//   u8 flags (1 online, 2 inserted, 4 embedding_truncated, 8 replaced as logged) · u8 verdict
//   (0 correct, 1 wrong, 2 error) · u16 0 · u32 index (absent: 0, as splitMembers orders it)
//   · f64 divergence (NaN: null) · f64 entropy_last (NaN: null)
import type { RewardSettings, TrajectoryEvent, Verdict } from '../../core/protocol';
import { VERDICT_CODE, type RunColumns } from '../../core/columnar';
import { RELABEL_VERDICT } from '../../core/rescore';
import type { Db } from './sqlite';

const MEMBER_BYTES = 24;
const ONLINE = 1;
const INSERTED = 2;
const EMBEDDING_TRUNCATED = 4;
const REPLACED = 8;

export function packMembers(trajectories: readonly TrajectoryEvent[]): Buffer {
  const buf = Buffer.alloc(trajectories.length * MEMBER_BYTES);
  trajectories.forEach((t, i) => {
    const o = i * MEMBER_BYTES;
    buf[o] = (t.source === 'online' ? ONLINE : 0) | (t.inserted === true ? INSERTED : 0) | (t.embedding_truncated === true ? EMBEDDING_TRUNCATED : 0) | (t.replaced ? REPLACED : 0);
    buf[o + 1] = VERDICT_CODE[t.verdict] ?? 2;
    buf.writeUInt32LE(Math.min(0xffffffff, Math.max(0, Math.floor(t.index ?? 0))), o + 4);
    buf.writeDoubleLE(typeof t.divergence === 'number' ? t.divergence : Number.NaN, o + 8);
    buf.writeDoubleLE(typeof t.entropy_last === 'number' ? t.entropy_last : Number.NaN, o + 16);
  });
  return buf;
}

export interface RunColumnsRead {
  /** verdictAfter holds each member's effective verdict: its label, else the active verifier's, else the logged one */
  cols: RunColumns;
  settings: RewardSettings[];
  /** per group: the store's group id and step */
  groupIds: Float64Array;
  steps: Float64Array;
  /** per member: the trajectory key */
  keys: Float64Array;
  /** members whose effective verdict comes from a label / from the active verifier and differs from the logged one */
  fromLabels: number;
  fromVerifier: number;
  /** the run's active verifier when it is not the logged one */
  activeVerifier: string | null;
  /** groups stored before schema 3, read from their trajectory rows */
  legacyGroups: number;
}

export interface ReadOptions {
  signal?: AbortSignal;
  /** groups read so far, of the run's groups */
  onProgress?: (done: number, total: number) => void;
  /** groups per query */
  batch?: number;
}

export class ReadCancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'ReadCancelled';
  }
}

/** Growable column buffers, filled group by group in the order of splitMembers. */
class Builder {
  groups = 0;
  members = 0;
  groupStart: Uint32Array;
  groupIds: Float64Array;
  steps: Float64Array;
  online: Uint8Array;
  verdict: Uint8Array;
  divergence: Float64Array;
  entropy: Float64Array;
  inserted: Uint8Array;
  keys: Float64Array;

  constructor(groups: number, members: number) {
    this.groupStart = new Uint32Array(groups + 1);
    this.groupIds = new Float64Array(groups);
    this.steps = new Float64Array(groups);
    this.online = new Uint8Array(members);
    this.verdict = new Uint8Array(members);
    this.divergence = new Float64Array(members);
    this.entropy = new Float64Array(members);
    this.inserted = new Uint8Array(members);
    this.keys = new Float64Array(members);
  }

  private grow(groups: number, members: number): void {
    const g2 = <T extends Uint32Array | Float64Array>(a: T, n: number): T => {
      if (a.length >= n) return a;
      const b = new (a.constructor as new (n: number) => T)(Math.max(n, a.length * 2));
      b.set(a);
      return b;
    };
    this.groupStart = g2(this.groupStart, groups + 1);
    this.groupIds = g2(this.groupIds, groups);
    this.steps = g2(this.steps, groups);
    const m8 = (a: Uint8Array): Uint8Array => {
      if (a.length >= members) return a;
      const b = new Uint8Array(Math.max(members, a.length * 2));
      b.set(a);
      return b;
    };
    this.online = m8(this.online);
    this.verdict = m8(this.verdict);
    this.inserted = m8(this.inserted);
    this.divergence = g2(this.divergence, members);
    this.entropy = g2(this.entropy, members);
    this.keys = g2(this.keys, members);
  }

  /**
   * Adds one group; `member(i)` gives event-order member i. Members are placed online first, each
   * side in index order, ties in event order (Array.prototype.sort is stable, as in splitMembers).
   */
  add(groupId: number, step: number, n: number, member: (i: number) => { online: boolean; index: number; verdict: number; divergence: number; entropy: number; inserted: boolean; key: number }): void {
    this.grow(this.groups + 1, this.members + n);
    const ms = Array.from({ length: n }, (_, i) => member(i));
    const order = [...ms.filter((m) => m.online).sort((a, b) => a.index - b.index), ...ms.filter((m) => !m.online).sort((a, b) => a.index - b.index)];
    const g = this.groups++;
    this.groupIds[g] = groupId;
    this.steps[g] = step;
    this.groupStart[g] = this.members;
    for (const m of order) {
      const k = this.members++;
      this.online[k] = m.online ? 1 : 0;
      this.verdict[k] = m.verdict;
      this.divergence[k] = m.divergence;
      this.entropy[k] = m.entropy;
      this.inserted[k] = m.inserted ? 1 : 0;
      this.keys[k] = m.key;
    }
    this.groupStart[this.groups] = this.members;
  }

  /** Fast path for a packed blob: members already known to be in order need no sort. */
  addPacked(groupId: number, step: number, first: number, blob: Buffer): void {
    const n = Math.floor(blob.length / MEMBER_BYTES);
    // Trainers write online members first, in index order: then the stored order is the order.
    let ordered = true;
    let seenOffline = false;
    let last = -1;
    for (let i = 0; i < n && ordered; i++) {
      const o = i * MEMBER_BYTES;
      const online = ((blob[o] as number) & ONLINE) !== 0;
      const index = blob.readUInt32LE(o + 4);
      if (online) {
        if (seenOffline || index < last) ordered = false;
        last = index;
      } else {
        if (!seenOffline) last = -1;
        seenOffline = true;
        if (index < last) ordered = false;
        last = index;
      }
    }
    const read = (i: number) => {
      const o = i * MEMBER_BYTES;
      const flags = blob[o] as number;
      return {
        online: (flags & ONLINE) !== 0,
        index: blob.readUInt32LE(o + 4),
        verdict: blob[o + 1] as number,
        divergence: blob.readDoubleLE(o + 8),
        entropy: blob.readDoubleLE(o + 16),
        inserted: (flags & INSERTED) !== 0,
        key: first + i,
      };
    };
    if (!ordered) {
      this.add(groupId, step, n, read);
      return;
    }
    this.grow(this.groups + 1, this.members + n);
    const g = this.groups++;
    this.groupIds[g] = groupId;
    this.steps[g] = step;
    this.groupStart[g] = this.members;
    for (let i = 0; i < n; i++) {
      const o = i * MEMBER_BYTES;
      const flags = blob[o] as number;
      const k = this.members++;
      this.online[k] = flags & ONLINE;
      this.verdict[k] = blob[o + 1] as number;
      this.inserted[k] = (flags & INSERTED) !== 0 ? 1 : 0;
      this.divergence[k] = blob.readDoubleLE(o + 8);
      this.entropy[k] = blob.readDoubleLE(o + 16);
      this.keys[k] = first + i;
    }
    this.groupStart[this.groups] = this.members;
  }
}

const LABEL_VERDICT: Record<string, number> = Object.fromEntries(Object.entries(RELABEL_VERDICT).map(([label, v]) => [label, VERDICT_CODE[v]]));
const VERDICT_INITIAL: Record<string, number> = { c: 0, w: 1, e: 2 };

/**
 * Reads a run's components column-wise in batches of groups, and each member's effective verdict
 * (a label, else the active verifier's verdict, else the logged one: what the inspector re-scores with).
 */
export async function readRunColumns(db: Db, runId: string, opts: ReadOptions = {}): Promise<RunColumnsRead> {
  const run = await db.get<{ reward: string; verifier_id: string | null; active_verifier: string | null }>(
    'SELECT reward, verifier_id, active_verifier FROM runs WHERE run_id = ?',
    [runId],
  );
  if (!run) throw new Error(`no run ${runId} in the store`);
  const settings = [JSON.parse(run.reward) as RewardSettings];
  const sums = await db.get<{ g: number | null; t: number | null }>('SELECT sum(group_count) AS g, sum(trajectory_count) AS t FROM step_stats WHERE run_id = ?', [runId]);
  const total = sums?.g ?? 0;
  const b = new Builder(total, sums?.t ?? 0);
  const batch = Math.max(1, opts.batch ?? 8192);
  const check = () => {
    if (opts.signal?.aborted) throw new ReadCancelled();
  };

  // Groups stored before schema 3 (no packed row): their trajectory rows, event order = id order.
  const legacy = await db.all<{ id: number; step: number }>(
    `SELECT g.id, g.step FROM groups g WHERE g.run_id = ?
       AND NOT EXISTS (SELECT 1 FROM group_components c WHERE c.run_id = g.run_id AND c.group_id = g.id) ORDER BY g.id`,
    [runId],
  );
  for (let i = 0; i < legacy.length; i += 500) {
    check();
    const chunk = legacy.slice(i, i + 500);
    const rows = await db.all<{ id: number; group_id: number; source: string; idx: number | null; verdict: Verdict; divergence: number | null; entropy_last: number | null; inserted: number | null }>(
      `SELECT id, group_id, source, idx, verdict, divergence, entropy_last, inserted FROM trajectories
       WHERE group_id IN (${chunk.map(() => '?').join(',')}) ORDER BY group_id, id`,
      chunk.map((g) => g.id),
    );
    let r = 0;
    for (const g of chunk) {
      const from = r;
      while (r < rows.length && rows[r]?.group_id === g.id) r++;
      const members = rows.slice(from, r);
      b.add(g.id, g.step, members.length, (k) => {
        const t = members[k] as (typeof rows)[number];
        return {
          online: t.source === 'online', index: t.idx ?? 0, verdict: VERDICT_CODE[t.verdict] ?? 2, divergence: t.divergence ?? Number.NaN,
          entropy: t.entropy_last ?? Number.NaN, inserted: t.inserted === 1, key: t.id,
        };
      });
    }
    opts.onProgress?.(b.groups, total);
  }

  let after = 0;
  for (;;) {
    check();
    const rows = await db.all<{ group_id: number; step: number; first_trajectory: number; members: Buffer }>(
      'SELECT group_id, step, first_trajectory, members FROM group_components WHERE run_id = ? AND group_id > ? ORDER BY group_id LIMIT ?',
      [runId, after, batch],
    );
    for (const r of rows) b.addPacked(r.group_id, r.step, r.first_trajectory, r.members);
    opts.onProgress?.(b.groups, total);
    if (rows.length < batch) break;
    after = (rows[rows.length - 1] as { group_id: number }).group_id;
  }

  const members = b.members;
  const cols: RunColumns = {
    groupCount: b.groups,
    groupStart: b.groupStart.subarray(0, b.groups + 1),
    settings: new Uint16Array(b.groups),
    online: b.online.subarray(0, members),
    verdict: b.verdict.subarray(0, members),
    verdictAfter: b.verdict.slice(0, members),
    divergence: b.divergence.subarray(0, members),
    entropy: b.entropy.subarray(0, members),
    inserted: b.inserted.subarray(0, members),
  };
  const keys = b.keys.subarray(0, members);
  const locate = memberLocator(cols, keys);

  // The active verifier's verdicts, when it is not the logged one, as one string per range of keys:
  // millions of verdict rows as JS objects would cost seconds, one concatenated string milliseconds.
  const activeVerifier = run.active_verifier !== null && run.active_verifier !== run.verifier_id ? run.active_verifier : null;
  if (activeVerifier !== null && members > 0) {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < members; k++) {
      lo = Math.min(lo, keys[k] as number);
      hi = Math.max(hi, keys[k] as number);
    }
    // 50,000 keys a query: its string is parsed in ~30 ms, so the event loop is never held long.
    const SPAN = 50_000;
    for (let from = lo; from <= hi; from += SPAN) {
      check();
      const r = await db.get<{ s: string | null }>(
        `SELECT group_concat(trajectory_id || substr(verdict, 1, 1), ',') AS s FROM verdicts
         WHERE verifier_id = ? AND trajectory_id >= ? AND trajectory_id < ?`,
        [activeVerifier, from, from + SPAN],
      );
      if (!r?.s) continue;
      for (const item of r.s.split(',')) {
        const code = VERDICT_INITIAL[item[item.length - 1] as string];
        const m = locate(Number(item.slice(0, -1)));
        if (m >= 0 && code !== undefined) cols.verdictAfter[m] = code;
      }
    }
  }

  // Labels win: the newest correct|wrong|hack label of a trajectory that no later label supersedes.
  let fromLabels = 0;
  const labels = await db.all<{ id: number; trajectory_id: number; label: string; supersedes: number | null }>(
    `SELECT l.id, l.trajectory_id, l.label, l.supersedes FROM labels l JOIN trajectories t ON t.id = l.trajectory_id
     WHERE t.run_id = ? ORDER BY l.id`,
    [runId],
  );
  const superseded = new Set(labels.map((l) => l.supersedes).filter((s): s is number => s !== null));
  const current = new Map<number, number>();
  for (const l of labels) {
    if (l.label !== 'note' && !superseded.has(l.id)) current.set(l.trajectory_id, LABEL_VERDICT[l.label] as number);
  }
  for (const [key, code] of current) {
    const m = locate(key);
    if (m < 0) continue;
    if (cols.verdict[m] !== code) fromLabels++;
    cols.verdictAfter[m] = code;
  }
  let changed = 0;
  for (let m = 0; m < members; m++) if (cols.verdictAfter[m] !== cols.verdict[m]) changed++;
  const fromVerifier = changed - fromLabels;

  return { cols, settings, groupIds: b.groupIds.subarray(0, b.groups), steps: b.steps.subarray(0, b.groups), keys, fromLabels, fromVerifier, activeVerifier, legacyGroups: legacy.length };
}

/** key → member row: groups' keys are consecutive in event order, so binary search on each group's smallest key. */
function memberLocator(cols: RunColumns, keys: Float64Array): (key: number) => number {
  const n = cols.groupCount;
  const firstKey = new Float64Array(n);
  for (let g = 0; g < n; g++) {
    let min = Number.POSITIVE_INFINITY;
    for (let m = cols.groupStart[g] as number; m < (cols.groupStart[g + 1] as number); m++) min = Math.min(min, keys[m] as number);
    firstKey[g] = min;
  }
  const order = Uint32Array.from({ length: n }, (_, g) => g);
  // Groups come in id order, and ingest gives later groups later keys: the sort is usually a no-op.
  let sorted = true;
  for (let g = 1; g < n && sorted; g++) if ((firstKey[g] as number) < (firstKey[g - 1] as number)) sorted = false;
  if (!sorted) order.sort((a, b) => (firstKey[a] as number) - (firstKey[b] as number));
  return (key: number) => {
    let lo = 0;
    let hi = n - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((firstKey[order[mid] as number] as number) <= key) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return -1;
    const g = order[found] as number;
    for (let m = cols.groupStart[g] as number; m < (cols.groupStart[g + 1] as number); m++) if (keys[m] === key) return m;
    return -1;
  };
}

/** Step and prompt id of the given groups (the rows of a what-if), by group id. */
export async function groupHeads(db: Db, groupIds: readonly number[]): Promise<Map<number, { step: number; promptId: string }>> {
  const out = new Map<number, { step: number; promptId: string }>();
  for (let i = 0; i < groupIds.length; i += 500) {
    const chunk = groupIds.slice(i, i + 500);
    const rows = await db.all<{ id: number; step: number; prompt_id: string }>(`SELECT id, step, prompt_id FROM groups WHERE id IN (${chunk.map(() => '?').join(',')})`, chunk as number[]);
    for (const r of rows) out.set(r.id, { step: r.step, promptId: r.prompt_id });
  }
  return out;
}

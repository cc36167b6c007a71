// A line diff of a member against its nearest teacher (Myers, with a cut-off that keeps two
// unrelated 150K-character traces cheap), and the line-set similarity that picks the teacher.

export type DiffOp = 'equal' | 'insert' | 'delete';

export interface DiffHunk {
  op: DiffOp;
  /** lines of the member (equal, insert) or of the teacher (delete) */
  lines: string[];
}

export interface LineDiff {
  hunks: DiffHunk[];
  added: number;
  removed: number;
  /** true when the texts differed too much for an exact diff and the middle was shown as replaced */
  approximate: boolean;
}

export function splitLines(s: string): string[] {
  return s.split(/\r?\n/);
}

/**
 * Myers' O((N+M)·D) line diff of `teacher` (old) → `member` (new). Beyond `maxEdits` edits the
 * texts share little, so the differing middle is reported as one delete + one insert; this keeps
 * two unrelated 150K-character traces from costing seconds.
 */
export function lineDiff(teacher: string, member: string, maxEdits = 1000): LineDiff {
  const a = splitLines(teacher);
  const b = splitLines(member);
  // Intern lines so comparisons are integer compares.
  const ids = new Map<string, number>();
  const intern = (l: string) => {
    let id = ids.get(l);
    if (id === undefined) ids.set(l, (id = ids.size));
    return id;
  };
  const A = Int32Array.from(a, intern);
  const B = Int32Array.from(b, intern);
  let pre = 0;
  while (pre < A.length && pre < B.length && A[pre] === B[pre]) pre++;
  let suf = 0;
  while (suf < A.length - pre && suf < B.length - pre && A[A.length - 1 - suf] === B[B.length - 1 - suf]) suf++;
  const n = A.length - pre - suf;
  const m = B.length - pre - suf;
  const hunks: DiffHunk[] = [];
  const push = (op: DiffOp, lines: string[]) => {
    if (lines.length === 0) return;
    const last = hunks[hunks.length - 1];
    if (last && last.op === op) last.lines.push(...lines);
    else hunks.push({ op, lines });
  };
  push('equal', b.slice(0, pre));
  let approximate = false;
  let script: Array<[DiffOp, number]> | null = null;
  if (n > 0 || m > 0) script = myers(A.subarray(pre, pre + n), B.subarray(pre, pre + m), maxEdits);
  if (script === null && (n > 0 || m > 0)) {
    approximate = true;
    push('delete', a.slice(pre, pre + n));
    push('insert', b.slice(pre, pre + m));
  } else if (script) {
    let i = pre;
    let j = pre;
    for (const [op, count] of script) {
      if (op === 'equal') { push('equal', b.slice(j, j + count)); i += count; j += count; }
      else if (op === 'delete') { push('delete', a.slice(i, i + count)); i += count; }
      else { push('insert', b.slice(j, j + count)); j += count; }
    }
  }
  push('equal', b.slice(b.length - suf));
  let added = 0;
  let removed = 0;
  for (const h of hunks) if (h.op === 'insert') added += h.lines.length; else if (h.op === 'delete') removed += h.lines.length;
  return { hunks, added, removed, approximate };
}

/** Edit script as run-length ops, or null when more than maxEdits edits are needed. */
function myers(A: Int32Array, B: Int32Array, maxEdits: number): Array<[DiffOp, number]> | null {
  const n = A.length;
  const m = B.length;
  const max = Math.min(n + m, maxEdits);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = -1;
  for (let d = 0; d <= max; d++) {
    // Only diagonals -d-1..d+1 can be read when backtracking from round d.
    trace.push(v.slice(offset - d - 1, offset + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && (v[offset + k - 1] as number) < (v[offset + k + 1] as number)) ? (v[offset + k + 1] as number) : (v[offset + k - 1] as number) + 1;
      let y = x - k;
      while (x < n && y < m && A[x] === B[y]) { x++; y++; }
      v[offset + k] = x;
      if (x >= n && y >= m) { found = d; break; }
    }
    if (found >= 0) break;
  }
  if (found < 0) return null;
  // Backtrack into single-step ops, then run-length encode.
  const ops: DiffOp[] = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const vd = trace[d] as Int32Array;
    const at = (kk: number) => vd[kk + d + 1] as number;
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const prevK = down ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) { ops.push('equal'); x--; y--; }
    ops.push(down ? 'insert' : 'delete');
    x = prevX;
    y = prevY;
  }
  while (x > 0 && y > 0) { ops.push('equal'); x--; y--; }
  ops.reverse();
  const out: Array<[DiffOp, number]> = [];
  for (const op of ops) {
    const last = out[out.length - 1];
    if (last && last[0] === op) last[1]++;
    else out.push([op, 1]);
  }
  return out;
}

/** Jaccard similarity of the two texts' sets of non-blank, whitespace-normalised lines. */
export function lineSimilarity(a: string, b: string): number {
  const set = (s: string) => new Set(splitLines(s).map((l) => l.trim().replace(/\s+/g, ' ')).filter((l) => l.length > 0));
  const A = set(a);
  const B = set(b);
  if (A.size === 0 && B.size === 0) return 1;
  let inter = 0;
  for (const l of A) if (B.has(l)) inter++;
  return inter / (A.size + B.size - inter);
}

/** The candidate whose text shares most lines with `text` (ties: the first); null when none. */
export function nearestByLines<T extends { text: string }>(text: string, candidates: readonly T[]): { candidate: T; similarity: number } | null {
  let best: { candidate: T; similarity: number } | null = null;
  for (const c of candidates) {
    const s = lineSimilarity(text, c.text);
    if (best === null || s > best.similarity) best = { candidate: c, similarity: s };
  }
  return best;
}

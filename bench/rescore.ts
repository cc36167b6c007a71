// Re-score benchmark: a what-if verdict change (a new verifier flips ~3% of verdicts) over a
// generated run of 2,000,000 trajectories (250,000 groups of 8), through the TypeScript reward core
// (whatIfGroup, and rescoreGroup alone), against numpy doing the same group arithmetic vectorised.
// Both sides read the same generated columns; the TypeScript side checks numpy's numbers on a sample
// of groups and on the run's totals, so a fast wrong answer cannot pass as a result.
//
// Run alone: node --import tsx --max-old-space-size=6144 bench/rescore.ts [--groups N]
import { spawnSync } from 'node:child_process';
import { realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { whatIfRun, type RunColumns } from '../src/core/columnar';
import { rescoreGroup, whatIfGroup, type ScoredTrajectory } from '../src/core/rescore';
import type { RewardSettings, Verdict } from '../src/core/protocol';
import type { Variant } from '../src/core/reward';
import { cpuDevice, ensureCacheDir, figure, findPython, lastJsonLine, printTable, REPO_ROOT, rng, round, type Figure } from './lib/common';

const SLOTS = 8;
const VARIANT_CODES: Variant[] = ['grpo', 'luffy', 'oger', 'oger-no-refine', 'oger-no-reward'];
const STD_CODES = ['sample', 'population', 'none'] as const;
const VERDICT_CODES: Verdict[] = ['correct', 'wrong', 'error'];

interface Columns {
  groups: number;
  variant: Uint8Array;
  std: Uint8Array;
  eps: Float64Array;
  source: Uint8Array; // 1 online, 0 offline
  index: Uint8Array;
  div: Float64Array; // NaN: not logged
  ent: Float64Array;
  verdictBefore: Uint8Array;
  verdictAfter: Uint8Array;
  inserted: Uint8Array;
  embeddingTruncated: Uint8Array;
}

/**
 * A realistic mix of the variants' groups: OGER runs dominate (6 online + 2 teachers, k = 1 or 2),
 * LUFFY groups (7 online + 1 teacher, advantages without std as LUFFY's script ran), GRPO groups of
 * 8 online. Accuracy varies per prompt, ~1% verifier errors, ~2% of D above 1.
 */
export function generate(groups: number, seed = 7): Columns {
  const r = rng(seed);
  const n = groups * SLOTS;
  const c: Columns = {
    groups,
    variant: new Uint8Array(groups),
    std: new Uint8Array(groups),
    eps: new Float64Array(groups),
    source: new Uint8Array(n),
    index: new Uint8Array(n),
    div: new Float64Array(n).fill(Number.NaN),
    ent: new Float64Array(n).fill(Number.NaN),
    verdictBefore: new Uint8Array(n),
    verdictAfter: new Uint8Array(n),
    inserted: new Uint8Array(n),
    embeddingTruncated: new Uint8Array(n),
  };
  for (let g = 0; g < groups; g++) {
    const u = r();
    const variant = u < 0.5 ? 2 : u < 0.6 ? 3 : u < 0.7 ? 4 : u < 0.85 ? 1 : 0;
    c.variant[g] = variant;
    c.std[g] = variant === 1 ? 2 : r() < 0.05 ? 1 : 0;
    c.eps[g] = 1e-6;
    const online = variant === 0 ? 8 : variant === 1 ? 7 : 6;
    const k = variant === 1 ? 1 : variant === 0 ? 0 : r() < 0.8 ? 1 : 2;
    const accuracy = r();
    for (let s = 0; s < SLOTS; s++) {
      const i = g * SLOTS + s;
      const isOnline = s < online;
      c.source[i] = isOnline ? 1 : 0;
      c.index[i] = isOnline ? s : s - online;
      let v: number;
      if (isOnline) {
        const e = r();
        v = e < 0.01 ? 2 : r() < accuracy ? 0 : 1;
        if (variant !== 0 && variant !== 1) {
          c.div[i] = r() < 0.02 ? 1 + r() * 0.15 : 0.05 + 0.9 * r() * r();
        }
        c.ent[i] = -Math.log(1 - r()) * 0.6;
      } else {
        const e = r();
        v = e < 0.01 ? 2 : e < 0.03 ? 1 : 0;
        c.inserted[i] = s - online < k ? 1 : 0;
      }
      c.verdictBefore[i] = v;
      // The what-if: a new verifier. ~2% false negatives become correct, ~0.5% correct become
      // wrong, and half of the errors now resolve.
      let after = v;
      const f = r();
      if (v === 1 && f < 0.02) after = 0;
      else if (v === 0 && f < 0.005) after = 1;
      else if (v === 2 && f < 0.5) after = f < 0.25 ? 0 : 1;
      c.verdictAfter[i] = after;
      c.embeddingTruncated[i] = r() < 0.05 ? 1 : 0;
    }
  }
  return c;
}

function writeColumns(c: Columns, dir: string, sampleGroups: number[]): { data: string; header: string } {
  const arrays: Array<[string, ArrayBufferView, string, 'group' | 'slot']> = [
    ['variant', c.variant, 'uint8', 'group'],
    ['std', c.std, 'uint8', 'group'],
    ['eps', c.eps, 'float64', 'group'],
    ['source', c.source, 'uint8', 'slot'],
    ['index', c.index, 'uint8', 'slot'],
    ['div', c.div, 'float64', 'slot'],
    ['ent', c.ent, 'float64', 'slot'],
    ['verdict_before', c.verdictBefore, 'uint8', 'slot'],
    ['verdict_after', c.verdictAfter, 'uint8', 'slot'],
    ['inserted', c.inserted, 'uint8', 'slot'],
  ];
  const parts: Buffer[] = [];
  const spec: Record<string, { dtype: string; count: number; offset: number; per: string }> = {};
  let offset = 0;
  for (const [name, arr, dtype, per] of arrays) {
    // Keep every array 8-byte aligned so numpy can view float64 in place.
    const pad = (8 - (offset % 8)) % 8;
    if (pad) parts.push(Buffer.alloc(pad));
    offset += pad;
    const buf = Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength);
    spec[name] = { dtype: dtype === 'float64' ? '<f8' : 'u1', count: arr.byteLength / (dtype === 'float64' ? 8 : 1), offset, per };
    parts.push(buf);
    offset += buf.length;
  }
  const data = path.join(dir, 'rescore.bin');
  const header = path.join(dir, 'rescore.json');
  writeFileSync(data, Buffer.concat(parts));
  writeFileSync(header, JSON.stringify({ groups: c.groups, slots: SLOTS, arrays: spec, sampleGroups }));
  return { data, header };
}

interface TsGroup {
  members: ScoredTrajectory[];
  settings: RewardSettings;
  overrides: Map<string, Verdict>;
}

/** The objects the store hands the core: one protocol-shaped trajectory per member. */
function toObjects(c: Columns): TsGroup[] {
  const settingsCache = new Map<string, RewardSettings>();
  const out: TsGroup[] = new Array(c.groups);
  const empty = new Map<string, Verdict>();
  for (let g = 0; g < c.groups; g++) {
    const variant = VARIANT_CODES[c.variant[g] as number] as Variant;
    let k = 0;
    const members: ScoredTrajectory[] = [];
    let overrides = empty;
    for (let s = 0; s < SLOTS; s++) {
      const i = g * SLOTS + s;
      const online = c.source[i] === 1;
      if (!online && c.inserted[i]) k++;
      const id = `g${g}-${online ? 'on' : 'off'}${c.index[i]}`;
      const div = c.div[i] as number;
      const ent = c.ent[i] as number;
      const before = VERDICT_CODES[c.verdictBefore[i] as number] as Verdict;
      const after = VERDICT_CODES[c.verdictAfter[i] as number] as Verdict;
      if (after !== before) {
        if (overrides === empty) overrides = new Map();
        overrides.set(id, after);
      }
      members.push({
        id,
        source: online ? 'online' : 'offline',
        index: c.index[i] as number,
        verdict: before,
        divergence: Number.isNaN(div) ? null : div,
        entropy_last: Number.isNaN(ent) ? null : ent,
        r_oger: 0,
        r_total: 0,
        advantage: 0,
        replaced: false,
        inserted: online ? undefined : c.inserted[i] === 1,
        embedding_truncated: c.embeddingTruncated[i] === 1,
      });
    }
    const std = STD_CODES[c.std[g] as number] as RewardSettings['advantage']['std'];
    const key = `${variant}/${k}/${std}/${c.eps[g]}`;
    let settings = settingsCache.get(key);
    if (!settings) {
      settings = { variant, replace: k, advantage: { std, eps: c.eps[g] as number } };
      settingsCache.set(key, settings);
    }
    out[g] = { members, settings, overrides };
  }
  return out;
}

interface Totals {
  signFlips: number;
  replacementChanged: number;
  sumAbsDeltaTotal: number;
  sumAbsDeltaAdvantage: number;
  groupsChanged: number;
}

function runWhatIf(groups: readonly TsGroup[]): { seconds: number; totals: Totals } {
  const totals: Totals = { signFlips: 0, replacementChanged: 0, sumAbsDeltaTotal: 0, sumAbsDeltaAdvantage: 0, groupsChanged: 0 };
  const t0 = performance.now();
  for (const g of groups) {
    const res = whatIfGroup(g.members, g.settings, { verdicts: g.overrides });
    totals.signFlips += res.signFlips;
    if (res.replacementChanged) totals.replacementChanged++;
    let changed = false;
    for (const m of res.members) {
      if (m.deltaTotal !== null) totals.sumAbsDeltaTotal += Math.abs(m.deltaTotal);
      if (m.deltaAdvantage !== null) {
        totals.sumAbsDeltaAdvantage += Math.abs(m.deltaAdvantage);
        if (Math.abs(m.deltaAdvantage) > 1e-12) changed = true;
      }
    }
    if (changed) totals.groupsChanged++;
  }
  return { seconds: (performance.now() - t0) / 1000, totals };
}

/** The arithmetic alone: the group re-scored as logged and under the new verdicts, no lints, no diff. */
function runRescoreOnly(groups: readonly TsGroup[]): { seconds: number; checksum: number } {
  let checksum = 0;
  const t0 = performance.now();
  for (const g of groups) {
    const before = rescoreGroup(g.members, g.settings);
    const after = rescoreGroup(g.members, g.settings, { verdicts: g.overrides });
    for (let i = 0; i < after.length; i++) {
      const a = after[i]?.advantage;
      const b = before[i]?.advantage;
      if (a != null && b != null) checksum += Math.abs(a - b);
    }
  }
  return { seconds: (performance.now() - t0) / 1000, checksum };
}

/** The generated columns as the columnar core takes them (members already online-first in index order). */
function toRunColumns(c: Columns): { cols: RunColumns; settings: RewardSettings[] } {
  const settings: RewardSettings[] = [];
  const key = new Map<string, number>();
  const n = c.groups * SLOTS;
  const cols: RunColumns = {
    groupCount: c.groups, groupStart: new Uint32Array(c.groups + 1), settings: new Uint16Array(c.groups),
    online: c.source, verdict: c.verdictBefore, verdictAfter: c.verdictAfter, divergence: c.div, entropy: c.ent, inserted: c.inserted,
  };
  for (let g = 0; g < c.groups; g++) {
    cols.groupStart[g] = g * SLOTS;
    const variant = VARIANT_CODES[c.variant[g] as number] as Variant;
    const std = STD_CODES[c.std[g] as number] as RewardSettings['advantage']['std'];
    const k = `${variant}/${std}/${c.eps[g]}`;
    let i = key.get(k);
    if (i === undefined) {
      i = settings.length;
      settings.push({ variant, replace: 1, advantage: { std, eps: c.eps[g] as number } });
      key.set(k, i);
    }
    cols.settings[g] = i;
  }
  cols.groupStart[c.groups] = n;
  return { cols, settings };
}

/** The columnar entry point: both scorings and the per-group diff over the whole run in one pass. */
function runColumnar(c: Columns): { seconds: number; totals: Totals; secondsAll: number[] } {
  const { cols, settings } = toRunColumns(c);
  whatIfRun(cols, settings, 0); // warm-up
  const secondsAll: number[] = [];
  let res = whatIfRun(cols, settings, 0);
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now();
    res = whatIfRun(cols, settings, 1000);
    secondsAll.push((performance.now() - t0) / 1000);
  }
  secondsAll.sort((a, b) => a - b);
  return {
    seconds: secondsAll[1] as number,
    secondsAll,
    totals: {
      signFlips: res.signFlips, replacementChanged: res.replacementChanged, sumAbsDeltaTotal: res.sumAbsDeltaRTotal,
      sumAbsDeltaAdvantage: res.sumAbsDeltaAdvantage, groupsChanged: res.groupsChanged,
    },
  };
}

interface NumpyOut {
  numpy: string;
  seconds: number;
  secondsAll: number[];
  totals: Totals;
  samples: Record<string, { rTotalAfter: (number | null)[]; advantageAfter: (number | null)[]; advantageBefore: (number | null)[] }>;
}

function closeEnough(a: number | null | undefined, b: number | null | undefined, tol = 1e-9): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return (a ?? null) === (b ?? null);
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));
}

/** Compares numpy's sample groups and totals with the core's; returns the mismatches found. */
function crossCheck(groups: readonly TsGroup[], np: NumpyOut, tsTotals: Totals): string[] {
  const problems: string[] = [];
  for (const [gs, want] of Object.entries(np.samples)) {
    const g = groups[Number(gs)] as TsGroup;
    const before = rescoreGroup(g.members, g.settings);
    const after = rescoreGroup(g.members, g.settings, { verdicts: g.overrides });
    after.forEach((m, s) => {
      if (!closeEnough(m.rTotal, want.rTotalAfter[s])) problems.push(`group ${gs} slot ${s}: R_total ${m.rTotal} vs numpy ${want.rTotalAfter[s]}`);
      if (!closeEnough(m.advantage, want.advantageAfter[s])) problems.push(`group ${gs} slot ${s}: advantage ${m.advantage} vs numpy ${want.advantageAfter[s]}`);
      if (!closeEnough(before[s]?.advantage, want.advantageBefore[s])) problems.push(`group ${gs} slot ${s}: advantage before ${before[s]?.advantage} vs numpy ${want.advantageBefore[s]}`);
    });
  }
  for (const key of ['signFlips', 'replacementChanged', 'groupsChanged'] as const) {
    if (tsTotals[key] !== np.totals[key]) problems.push(`${key}: core ${tsTotals[key]} vs numpy ${np.totals[key]}`);
  }
  for (const key of ['sumAbsDeltaTotal', 'sumAbsDeltaAdvantage'] as const) {
    if (!closeEnough(tsTotals[key], np.totals[key], 1e-7)) problems.push(`${key}: core ${tsTotals[key]} vs numpy ${np.totals[key]}`);
  }
  return problems;
}

export interface RescoreResult {
  figures: Figure[];
  details: Record<string, unknown>;
  problems: string[];
}

export async function runRescoreBench(groupCount = 250_000): Promise<RescoreResult> {
  const device = cpuDevice();
  const command = 'npm run bench (bench/rescore.ts)';
  const tGen = performance.now();
  const cols = generate(groupCount);
  const sampleGroups: number[] = [];
  for (let g = 0; g < groupCount; g += Math.max(1, Math.floor(groupCount / 400))) sampleGroups.push(g);
  const dir = ensureCacheDir();
  const files = writeColumns(cols, dir, sampleGroups);
  const genSeconds = (performance.now() - tGen) / 1000;
  const trajectories = groupCount * SLOTS;
  // The columnar pass runs before the per-group API's objects exist, as in the extension, whose
  // whole-run what-if never builds them: with ~1 GB of member objects alive, every large typed
  // array it allocates triggered a full GC of that heap (0.43 s here against 0.15-0.2 s alone).
  const columnar = runColumnar(cols);
  const groups = toObjects(cols);

  // Warm the JIT on a slice first so the timed pass measures steady-state code.
  runWhatIf(groups.slice(0, Math.min(20_000, groups.length)));
  const whatIf = runWhatIf(groups);
  const rescoreOnly = runRescoreOnly(groups);

  const problems: string[] = [];
  const python = findPython();
  let np: NumpyOut | null = null;
  if (!python) {
    problems.push('no Python with numpy: set REWARD_LENS_PYTHON or run scripts/setup.sh (.venv)');
  } else {
    const res = spawnSync(python, [path.join(REPO_ROOT, 'bench', 'rescore_numpy.py'), files.data, files.header, '3'], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      timeout: 300_000,
    });
    const parsed = lastJsonLine(res.stdout ?? '');
    if (res.status !== 0 || !parsed) {
      problems.push(`numpy peer failed (exit ${res.status}): ${(res.stderr ?? '').slice(-500)}`);
    } else {
      np = parsed as unknown as NumpyOut;
      problems.push(...crossCheck(groups, np, whatIf.totals).slice(0, 20));
      problems.push(...crossCheck([], { ...np, samples: {} }, columnar.totals).map((p) => `columnar ${p}`).slice(0, 20));
    }
  }
  const tsRate = trajectories / whatIf.seconds;
  const tsRateArith = trajectories / rescoreOnly.seconds;
  const npRate = np ? trajectories / np.seconds : null;
  const peer = np ? `numpy ${np.numpy} (vectorised, same arithmetic)` : null;
  const figures: Figure[] = [
    figure({
      benchmark: 'rescore',
      name: `what-if over ${trajectories} trajectories, columnar whatIfRun (s)`,
      unit: 's',
      value: round(columnar.seconds, 3),
      peer,
      peerValue: np ? round(np.seconds, 3) : null,
      better: 'lower',
      device,
      command,
      note: 'whatIfRun (src/core/columnar.ts): typed arrays, both scorings (an untouched group\'s second scoring is a copy), per-group diff and the 1,000 most changed groups in one pass; median of 3 after a warm-up, as numpy\'s; measured before the per-group objects exist, as in the extension',
    }),
    figure({
      benchmark: 'rescore',
      name: 'what-if throughput, columnar whatIfRun (trajectories/s)',
      unit: 'trajectories/s',
      value: Math.round(trajectories / columnar.seconds),
      peer,
      peerValue: npRate !== null ? Math.round(npRate) : null,
      better: 'higher',
      device,
      command,
    }),
    figure({
      benchmark: 'rescore',
      name: `what-if over ${trajectories} trajectories, whatIfGroup (s)`,
      unit: 's',
      value: round(whatIf.seconds, 3),
      peer,
      peerValue: np ? round(np.seconds, 3) : null,
      better: 'lower',
      device,
      command,
      note: 'whatIfGroup also builds both lint sets and the per-member diff; numpy computes advantages and deltas only',
    }),
    figure({
      benchmark: 'rescore',
      name: 'what-if throughput, whatIfGroup (trajectories/s)',
      unit: 'trajectories/s',
      value: Math.round(tsRate),
      peer,
      peerValue: npRate !== null ? Math.round(npRate) : null,
      better: 'higher',
      device,
      command,
    }),
    figure({
      benchmark: 'rescore',
      name: `what-if arithmetic only over ${trajectories} trajectories, rescoreGroup before+after (s)`,
      unit: 's',
      value: round(rescoreOnly.seconds, 3),
      peer,
      peerValue: np ? round(np.seconds, 3) : null,
      better: 'lower',
      device,
      command,
    }),
    figure({
      benchmark: 'rescore',
      name: 'what-if arithmetic throughput, rescoreGroup (trajectories/s)',
      unit: 'trajectories/s',
      value: Math.round(tsRateArith),
      peer,
      peerValue: npRate !== null ? Math.round(npRate) : null,
      better: 'higher',
      device,
      command,
    }),
  ];
  return {
    figures,
    problems,
    details: {
      groups: groupCount,
      trajectories,
      generateSeconds: round(genSeconds, 2),
      totals: whatIf.totals,
      columnarTotals: columnar.totals,
      columnarSecondsAll: columnar.secondsAll,
      numpyTotals: np?.totals ?? null,
      numpySecondsAll: np?.secondsAll ?? null,
      sampleGroupsChecked: sampleGroups.length,
      agreement: np ? (problems.length === 0 ? 'all sampled groups and totals agree within 1e-9' : `${problems.length} mismatches`) : 'not checked',
    },
  };
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

// realpath: run through a symlinked .cache (a worktree sharing one), argv[1] is the link, import.meta.url the target.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const groups = Number(argValue('--groups') ?? 250_000);
  runRescoreBench(groups).then(
    (res) => {
      printTable(`Re-score: what-if verdict change over ${groups * SLOTS} trajectories`, res.figures);
      console.log('details:', JSON.stringify(res.details));
      for (const p of res.problems) console.log(`PROBLEM: ${p}`);
      console.log(JSON.stringify({ benchmark: 'rescore', ok: res.problems.length === 0, figures: res.figures, details: res.details, problems: res.problems }));
      process.exitCode = res.problems.length === 0 ? 0 : 1;
    },
    (e: unknown) => {
      console.error(e);
      console.log(JSON.stringify({ benchmark: 'rescore', ok: false, error: String((e as Error)?.stack ?? e) }));
      process.exitCode = 1;
    },
  );
}

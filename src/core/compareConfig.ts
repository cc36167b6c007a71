// The runs' settings diffed, for Compare Runs: everything run_start recorded about how a run was
// configured (the trainer config, the reward settings, the encoder, the verifier, the model and
// variant), flattened to dotted paths, keeping only the paths whose values are not the same in
// every run. Pure; unit-tested in test/unit/compare.test.ts.

/** What run_start recorded about one run (the store's RunSummary has these fields). */
export interface RunSettings {
  variant: string;
  model: string;
  config: Record<string, unknown>;
  reward: unknown;
  encoder: unknown;
  verifier: unknown;
}

export interface ConfigDiffRow {
  /** dotted path, e.g. `config.lr` or `reward.advantage.std` */
  path: string;
  /** the value as JSON, one per run; null where the run does not have the path at all */
  values: Array<string | null>;
}

export interface ConfigDiff {
  rows: ConfigDiffRow[];
  /** paths present in the runs and equal in all of them (not listed) */
  same: number;
  /** the flattening stopped at LIMITS (a config too large or too deep to list in full) */
  truncated: boolean;
}

export const CONFIG_LIMITS = {
  /** nesting below this is compared as one JSON value */
  depth: 6,
  /** leaves per run beyond this are not listed */
  leaves: 2000,
  /** characters of a value shown (the comparison uses the whole value) */
  valueChars: 200,
} as const;

const SECTIONS: ReadonlyArray<keyof RunSettings> = ['variant', 'model', 'config', 'reward', 'encoder', 'verifier'];

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function json(v: unknown): string {
  try {
    return JSON.stringify(v) ?? 'undefined';
  } catch {
    return '"(not serialisable)"';
  }
}

/**
 * Leaves of one run's settings: path → JSON of the value. Arrays and deep objects are one leaf
 * each, and so is any path in `whole` (where another run has a plain value: `encoder: null` in one
 * run against an encoder object in another reads best as one row, not as one row per field).
 */
export function flattenSettings(s: RunSettings, whole: ReadonlySet<string> = new Set()): { leaves: Map<string, string>; objects: Set<string>; truncated: boolean } {
  const leaves = new Map<string, string>();
  const objects = new Set<string>();
  let truncated = false;
  const walk = (v: unknown, path: string, depth: number): void => {
    if (leaves.size >= CONFIG_LIMITS.leaves) {
      truncated = true;
      return;
    }
    if (isPlainObject(v) && depth < CONFIG_LIMITS.depth && !whole.has(path)) {
      objects.add(path);
      const keys = Object.keys(v).sort();
      // An empty object is a value of its own ({} differs from absent).
      if (keys.length === 0) leaves.set(path, '{}');
      for (const k of keys) walk(v[k], `${path}.${k}`, depth + 1);
      return;
    }
    leaves.set(path, json(v));
  };
  for (const section of SECTIONS) walk(s[section], section, 0);
  return { leaves, objects, truncated };
}

/** Paths in section order (variant, model, config, reward, encoder, verifier), then alphabetically. */
function pathOrder(a: string, b: string): number {
  const sa = SECTIONS.indexOf(a.split('.')[0] as keyof RunSettings);
  const sb = SECTIONS.indexOf(b.split('.')[0] as keyof RunSettings);
  return sa - sb || (a < b ? -1 : a > b ? 1 : 0);
}

/** The settings that differ between the runs (a path some runs lack differs too). */
export function diffSettings(runs: readonly RunSettings[]): ConfigDiff {
  const first = runs.map((r) => flattenSettings(r));
  // Paths that are an object in one run and a plain value (null, a number) in another.
  const whole = new Set<string>();
  for (const f of first) for (const p of f.objects) if (first.some((g) => g.leaves.has(p))) whole.add(p);
  const flat = whole.size ? runs.map((r) => flattenSettings(r, whole)) : first;
  const paths = new Set<string>();
  for (const f of flat) for (const p of f.leaves.keys()) paths.add(p);
  const rows: ConfigDiffRow[] = [];
  let same = 0;
  for (const path of [...paths].sort(pathOrder)) {
    const values = flat.map((f) => f.leaves.get(path) ?? null);
    if (values.every((v) => v === values[0])) same++;
    else rows.push({ path, values: values.map((v) => (v !== null && v.length > CONFIG_LIMITS.valueChars ? `${v.slice(0, CONFIG_LIMITS.valueChars - 1)}…` : v)) });
  }
  return { rows, same, truncated: flat.some((f) => f.truncated) };
}

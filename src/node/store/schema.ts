// Versioned migrations. MIGRATIONS[i] takes a store from user_version i to i + 1, inside one
// transaction that also bumps user_version, so a crash mid-migration leaves the old version.
// Never edit a released migration: append a new one. A migration is SQL, or a function when what
// it does depends on the store's contents.
import type { Db } from './sqlite';
import { unpackText } from './codec';
import { addColumnsDdl, columnDdl, RUNAWAY_COUNT } from './aggregates';

/**
 * The full-text index of schema 3 (docs/store.md, "Full-text search"): token presence only
 * (`detail=none`), contentless. On reasoning traces it is ~7.5x smaller than schema 1's positional
 * index (188 against 1,436 bytes per 4.5 KB text) and ~25% cheaper to build; phrases and NEAR are
 * checked on the text of the candidates (search.ts). The per-document sizes stay (no
 * `columnsize=0`, 12 bytes a text): without them the table cannot be scanned, e.g. counted.
 * Plain `content=''` rather than `contentless_delete=1`: no trajectory is ever deleted, and the
 * sqlite3 CLI before 3.43 (Debian 12's) cannot open a table with that option.
 */
export const FTS_DDL = `CREATE VIRTUAL TABLE trajectory_fts USING fts5(text, content='', detail=none, tokenize='unicode61 remove_diacritics 2')`;

/** Distinct prompts' texts (rowid: the first group with that prompt id), for Find's prompt matches. */
export const PROMPT_FTS_DDL = `CREATE VIRTUAL TABLE prompt_fts USING fts5(text, content='', detail=none, tokenize='unicode61 remove_diacritics 2')`;

export type Migration = string | ((db: Db) => Promise<void>);

/** Trajectory columns the table sorts per run by an index on (run_id, column); step has trajectories_run_step. */
export const SORT_INDEXED_COLUMNS = ['source', 'verdict', 'divergence', 'entropy_last', 'r_oger', 'r_total', 'advantage', 'text_chars', 'lint_mask'] as const;
export const sortIndexName = (column: string): string => `trajectories_sort_${column}`;

export const MIGRATIONS: readonly Migration[] = [
  // 0 → 1: the whole v1 schema.
  `
  CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    variant TEXT NOT NULL,
    model TEXT NOT NULL,
    config TEXT NOT NULL,            -- JSON
    reward TEXT NOT NULL,            -- JSON RewardSettings
    encoder TEXT,                    -- JSON or NULL
    verifier TEXT NOT NULL,          -- JSON {id, name, path}
    verifier_id TEXT,
    active_verifier TEXT,            -- NULL: the logged verifier
    status TEXT NOT NULL DEFAULT 'running',
    reason TEXT,
    started_at TEXT,
    ended_at TEXT,
    end_step INTEGER,
    extra TEXT,                      -- run_start's unknown fields (JSON)
    end_extra TEXT,                  -- run_end's unknown fields (JSON)
    placeholder INTEGER NOT NULL DEFAULT 0  -- 1: created by a step/group seen before its run_start
  );

  CREATE TABLE steps (
    run_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    metrics TEXT NOT NULL DEFAULT '{}',
    time TEXT,
    extra TEXT,
    has_event INTEGER NOT NULL DEFAULT 0,  -- 0: known only from group events
    PRIMARY KEY (run_id, step)
  ) WITHOUT ROWID;

  CREATE TABLE groups (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    prompt_id TEXT NOT NULL,
    prompt BLOB NOT NULL,
    prompt_z INTEGER NOT NULL DEFAULT 0,
    prompt_preview TEXT NOT NULL,
    gold TEXT NOT NULL,
    time TEXT,
    extra TEXT,
    trajectory_count INTEGER NOT NULL,
    online_count INTEGER NOT NULL,
    online_correct INTEGER NOT NULL,
    roger_correct_sum REAL NOT NULL,
    roger_correct_n INTEGER NOT NULL,
    roger_sum REAL NOT NULL,
    roger_n INTEGER NOT NULL,
    roger_max REAL,
    failed_count INTEGER NOT NULL,
    tokens_sum REAL NOT NULL,
    tokens_n INTEGER NOT NULL,
    chars_sum REAL NOT NULL,
    offline_adv_sum REAL NOT NULL,
    offline_adv_n INTEGER NOT NULL,
    lint_count INTEGER NOT NULL,
    zero_std INTEGER NOT NULL,
    lints TEXT NOT NULL,             -- JSON Lint[]
    UNIQUE (run_id, step, prompt_id)
  );

  CREATE TABLE trajectories (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL REFERENCES groups(id),
    run_id TEXT NOT NULL,
    traj_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    source TEXT NOT NULL,
    idx INTEGER,
    teacher TEXT,
    text BLOB NOT NULL,
    text_z INTEGER NOT NULL DEFAULT 0,   -- 1: raw deflate of the UTF-8 text
    text_chars INTEGER NOT NULL,
    tokens INTEGER,
    truncated INTEGER,
    r_m INTEGER NOT NULL,
    verdict TEXT NOT NULL,
    verdict_reason TEXT,
    extracted_answer TEXT,
    divergence REAL,
    entropy_last REAL,
    r_oger REAL,
    r_total REAL,
    advantage REAL,
    replaced INTEGER NOT NULL,
    inserted INTEGER,
    embedding_truncated INTEGER,
    present INTEGER NOT NULL,        -- bit mask of the optional protocol fields the event carried
    lint_mask INTEGER NOT NULL DEFAULT 0,
    extra TEXT,                      -- unknown fields (JSON)
    UNIQUE (run_id, traj_id)
  );
  CREATE INDEX trajectories_group ON trajectories(group_id);
  CREATE INDEX trajectories_run_step ON trajectories(run_id, step);

  CREATE TABLE token_stats (
    trajectory_id INTEGER PRIMARY KEY REFERENCES trajectories(id),
    stride INTEGER,
    offsets BLOB NOT NULL,           -- Uint32 little-endian
    entropies BLOB NOT NULL,         -- Float32 little-endian
    extra TEXT
  );

  CREATE TABLE labels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    trajectory_id INTEGER NOT NULL REFERENCES trajectories(id),
    label TEXT NOT NULL CHECK (label IN ('correct', 'wrong', 'hack', 'note')),
    note TEXT,
    author TEXT NOT NULL,
    created_at TEXT NOT NULL,
    supersedes INTEGER REFERENCES labels(id)
  );
  CREATE INDEX labels_trajectory ON labels(trajectory_id);
  CREATE TRIGGER labels_no_update BEFORE UPDATE ON labels
    BEGIN SELECT RAISE(ABORT, 'labels are append-only: add a label that supersedes this one'); END;
  CREATE TRIGGER labels_no_delete BEFORE DELETE ON labels
    BEGIN SELECT RAISE(ABORT, 'labels are append-only: add a label that supersedes this one'); END;

  CREATE TABLE verifier_versions (
    id TEXT PRIMARY KEY,             -- sha256 of the source
    name TEXT NOT NULL,
    path TEXT,
    created_at TEXT NOT NULL
  );

  CREATE TABLE verdicts (
    verifier_id TEXT NOT NULL REFERENCES verifier_versions(id),
    trajectory_id INTEGER NOT NULL REFERENCES trajectories(id),
    verdict TEXT NOT NULL CHECK (verdict IN ('correct', 'wrong', 'error')),
    reason TEXT,
    extracted TEXT,
    PRIMARY KEY (verifier_id, trajectory_id)
  ) WITHOUT ROWID;

  CREATE TABLE embeddings (
    fingerprint TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,            -- Float32 little-endian
    PRIMARY KEY (fingerprint, text_hash)
  ) WITHOUT ROWID;

  CREATE TABLE ingest_offsets (
    file TEXT PRIMARY KEY,
    byte_offset INTEGER NOT NULL,
    line INTEGER NOT NULL,           -- lines fully consumed so far
    updated_at TEXT NOT NULL
  );

  CREATE TABLE malformed_lines (
    file TEXT NOT NULL,
    line INTEGER NOT NULL,
    byte_offset INTEGER NOT NULL,
    reason TEXT NOT NULL,
    excerpt TEXT NOT NULL,
    PRIMARY KEY (file, line)
  ) WITHOUT ROWID;

  -- Contentless: the text lives (compressed) in trajectories, so an external-content table could
  -- not read it back, and a normal FTS table would store every text a second time uncompressed.
  -- Snippets are cut in JS from the decompressed text of the hits.
  CREATE VIRTUAL TABLE trajectory_fts USING fts5(text, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
  `,
  // 1 → 2: per-step sums of the per-group sums, kept by the batch writer in the transaction that
  // inserts the groups, so the dashboard series reads one row per step instead of aggregating every
  // group of the run on each call (250,000 groups for a 2,000-step run). Existing stores are
  // backfilled here from the groups they already hold.
  `
  CREATE TABLE step_stats (
    run_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    group_count INTEGER NOT NULL,
    trajectory_count INTEGER NOT NULL,
    online_count INTEGER NOT NULL,
    online_correct INTEGER NOT NULL,   -- by the logged verdicts (see docs/store.md)
    roger_correct_sum REAL NOT NULL,
    roger_correct_n INTEGER NOT NULL,
    roger_sum REAL NOT NULL,
    roger_n INTEGER NOT NULL,
    roger_max REAL,
    failed_count INTEGER NOT NULL,
    tokens_sum REAL NOT NULL,
    tokens_n INTEGER NOT NULL,
    chars_sum REAL NOT NULL,
    offline_adv_sum REAL NOT NULL,
    offline_adv_n INTEGER NOT NULL,
    lint_count INTEGER NOT NULL,
    PRIMARY KEY (run_id, step)
  ) WITHOUT ROWID;
  INSERT INTO step_stats
    SELECT run_id, step, count(*), sum(trajectory_count), sum(online_count), sum(online_correct), sum(roger_correct_sum),
      sum(roger_correct_n), sum(roger_sum), sum(roger_n), max(roger_max), sum(failed_count), sum(tokens_sum), sum(tokens_n),
      sum(chars_sum), sum(offline_adv_sum), sum(offline_adv_n), sum(lint_count)
    FROM groups GROUP BY run_id, step;
  `,
  // 2 → 3: (a) each group's scoring components packed per member (columns.ts), clustered by run, so a
  // whole-run what-if reads one short row per group instead of every trajectory row with its text.
  // Groups stored before have none; the what-if reads their trajectory rows instead.
  // (b) the smaller full-text index (FTS_DDL) for a store that holds no trajectory yet. A store with
  // trajectories keeps its positional index: rebuilding it means decompressing and tokenising every
  // text (tens of minutes for millions of trajectories), and search reads either layout.
  async (db) => {
    await db.exec(`CREATE TABLE IF NOT EXISTS group_components (
      run_id TEXT NOT NULL,
      group_id INTEGER NOT NULL REFERENCES groups(id),
      step INTEGER NOT NULL,
      first_trajectory INTEGER NOT NULL,   -- member i (in event order) is trajectory first_trajectory + i
      members BLOB NOT NULL,               -- columns.ts: packMembers
      PRIMARY KEY (run_id, group_id)
    ) WITHOUT ROWID`);
    const any = await db.get<{ id: number }>('SELECT id FROM trajectories LIMIT 1');
    if (any) return;
    await db.exec(`DROP TABLE trajectory_fts; ${FTS_DDL};`);
  },
  // 3 → 4: Find matches a prompt id (typed alone or as `prompt:ID`) and reads each distinct prompt
  // once for prompt-text matches; both need groups by prompt id, which the UNIQUE (run_id, step,
  // prompt_id) index cannot give without naming the run and step.
  `CREATE INDEX IF NOT EXISTS groups_prompt ON groups(prompt_id);`,
  // 4 → 5: the run's reasoning format (think | skythought | none), detected at ingest from its
  // first groups' texts (core/reasoning.ts detectFormat) so every group of a run folds alike; null
  // until decided (older stores: the inspector detects it per group, as before).
  // (Idempotent like the others: SQLite has no ADD COLUMN IF NOT EXISTS.)
  async (db: Db) => {
    const cols = await db.all<{ name: string }>('PRAGMA table_info(runs)');
    if (!cols.some((c) => c.name === 'reasoning_format')) await db.exec('ALTER TABLE runs ADD COLUMN reasoning_format TEXT');
  },
  // 5 → 6: runaway repetition counted at ingest (a lint per looping online response, and its count
  // per group and per step for the dashboard). Texts already stored are not scanned again (that
  // is the whole store decoded): their runs are marked runaway_counted = 0, and the dashboard says
  // their count is unknown rather than drawing zeros. Runs created from now on default to 1.
  async (db: Db) => {
    const has = async (table: string, column: string) => (await db.all<{ name: string }>(`PRAGMA table_info(${table})`)).some((c) => c.name === column);
    if (!(await has('groups', RUNAWAY_COUNT.name))) await db.exec(`ALTER TABLE groups ADD COLUMN ${columnDdl(RUNAWAY_COUNT)}`);
    if (!(await has('step_stats', RUNAWAY_COUNT.name))) await db.exec(addColumnsDdl([RUNAWAY_COUNT], false));
    if (!(await has('runs', 'runaway_counted'))) {
      await db.exec('ALTER TABLE runs ADD COLUMN runaway_counted INTEGER NOT NULL DEFAULT 1; UPDATE runs SET runaway_counted = 0;');
    }
  },
  // 6 → 7: the trajectories table sorts a run's rows by a value column through an index on (run_id,
  // column) and merges the runs (tableQueries.ts): without one, a sort of a 2M-trajectory run reads
  // and sorts every row (0.7 s; 1.8–4.3 s across 6M). Each index costs about 30 B per trajectory.
  // Creating them on a store of millions takes seconds per index, once (StoreHost shows progress).
  async (db: Db) => {
    for (const column of SORT_INDEXED_COLUMNS) await db.exec(`CREATE INDEX IF NOT EXISTS ${sortIndexName(column)} ON trajectories(run_id, ${column})`);
  },
  // 7 → 8: Find matches prompt text through a full-text index of each distinct prompt (rowid: the
  // first group that logged it), written at ingest. Before, it read and matched the newest 20,000
  // distinct prompts' texts on every search: 2 s on a store of 250,000 prompts when few match.
  // The prompts already stored are indexed here, page by page (prompts are short: seconds).
  async (db: Db) => {
    const has = await db.get<{ n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE name = 'prompt_fts'");
    if (has?.n) return;
    await db.exec(PROMPT_FTS_DDL);
    const firsts = await db.all<{ id: number }>('SELECT min(id) AS id FROM groups GROUP BY prompt_id ORDER BY id');
    for (let i = 0; i < firsts.length; i += 500) {
      const ids = firsts.slice(i, i + 500).map((r) => r.id);
      const rows = await db.all<{ id: number; prompt: unknown; prompt_z: number }>(`SELECT id, prompt, prompt_z FROM groups WHERE id IN (${ids.map(() => '?').join(',')})`, ids);
      const values = rows.flatMap((r) => [r.id, unpackText(r.prompt, r.prompt_z)]);
      if (rows.length) await db.run(`INSERT INTO prompt_fts (rowid, text) VALUES ${rows.map(() => '(?, ?)').join(', ')}`, values);
    }
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export class StoreVersionError extends Error {
  constructor(readonly found: number, readonly supported: number) {
    super(
      `this store was written by a newer Reward Lens (schema ${found}); this version reads up to ${supported}: update the extension`,
    );
    this.name = 'StoreVersionError';
  }
}

export async function userVersion(db: Db): Promise<number> {
  const row = await db.get<{ user_version: number }>('PRAGMA user_version');
  return row?.user_version ?? 0;
}

/** Brings the store up to SCHEMA_VERSION; refuses a store from a newer Reward Lens. */
export async function migrate(db: Db): Promise<number> {
  const found = await userVersion(db);
  if (found > SCHEMA_VERSION) throw new StoreVersionError(found, SCHEMA_VERSION);
  for (let v = found; v < SCHEMA_VERSION; v++) {
    await db.transaction(async () => {
      // Another process may have migrated between our read and our write lock.
      if ((await userVersion(db)) !== v) return;
      const m = MIGRATIONS[v] as Migration;
      if (typeof m === 'string') await db.exec(m);
      else await m(db);
      await db.exec(`PRAGMA user_version = ${v + 1}`);
    });
  }
  return SCHEMA_VERSION;
}

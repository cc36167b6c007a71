// Promise helpers over node-sqlite3 (N-API, so one build loads in Node and in VS Code's Electron).
// One connection per Db. Write transactions are serialised through a queue, because
// node-sqlite3 would otherwise interleave two async transactions on the same connection.
import sqlite3 from 'sqlite3';

export type SqlValue = string | number | bigint | Buffer | null;
export type Row = Record<string, unknown>;

export class Db {
  private readonly statements = new Map<string, sqlite3.Statement>();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(private readonly db: sqlite3.Database, readonly path: string, readonly readonly: boolean) {}

  static open(path: string, readonly: boolean): Promise<Db> {
    const mode = readonly ? sqlite3.OPEN_READONLY : sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE;
    return new Promise((resolve, reject) => {
      const db = new sqlite3.Database(path, mode, (err) => {
        if (err) reject(new Error(`cannot open store ${path}: ${err.message}`));
        else resolve(new Db(db, path, readonly));
      });
    });
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<{ changes: number; lastID: number }> {
    return new Promise((resolve, reject) => {
      this.db.run(sql, params as unknown[], function (this: sqlite3.RunResult, err: Error | null) {
        if (err) reject(err);
        else resolve({ changes: this.changes, lastID: this.lastID });
      });
    });
  }

  /** Runs through a cached prepared statement: for the hot multi-row inserts of ingest. */
  runCached(sql: string, params: readonly SqlValue[]): Promise<{ changes: number }> {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    const stmt = st;
    return new Promise((resolve, reject) => {
      stmt.run(params as unknown[], function (this: sqlite3.RunResult, err: Error | null) {
        if (err) reject(err);
        else resolve({ changes: this.changes });
      });
    });
  }

  all<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return new Promise((resolve, reject) => {
      this.db.all(sql, params as unknown[], (err, rows) => (err ? reject(err) : resolve(rows as T[])));
    });
  }

  get<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      this.db.get(sql, params as unknown[], (err, row) => (err ? reject(err) : resolve(row as T | undefined)));
    });
  }

  exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.db.exec(sql, (err) => (err ? reject(err) : resolve()));
    });
  }

  /**
   * Runs fn inside BEGIN IMMEDIATE … COMMIT (ROLLBACK on any error, then rethrows). IMMEDIATE
   * takes the write lock up front so a second writer process waits (busy_timeout) instead of
   * failing halfway through with SQLITE_BUSY on lock upgrade.
   */
  transaction<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(async () => {
      await this.exec('BEGIN IMMEDIATE');
      try {
        const out = await fn();
        await this.exec('COMMIT');
        return out;
      } catch (e) {
        await this.exec('ROLLBACK').catch(() => undefined);
        throw e;
      }
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    for (const st of this.statements.values()) {
      await new Promise<void>((resolve) => st.finalize(() => resolve()));
    }
    this.statements.clear();
    await new Promise<void>((resolve, reject) => this.db.close((err) => (err ? reject(err) : resolve())));
  }
}

/** "(?,?,?),(?,?,?)…": the VALUES list of a multi-row INSERT. */
export function placeholders(rows: number, columns: number): string {
  const one = `(${new Array(columns).fill('?').join(',')})`;
  return new Array(rows).fill(one).join(',');
}

/** Inserts rows in statements of `perStatement` rows (prepared once per shape and cached). */
export async function insertMany(
  db: Db,
  head: string,
  columns: number,
  rows: readonly (readonly SqlValue[])[],
  perStatement = 100,
  tail = '',
): Promise<void> {
  for (let i = 0; i < rows.length; i += perStatement) {
    const chunk = rows.slice(i, i + perStatement);
    const sql = `${head} VALUES ${placeholders(chunk.length, columns)}${tail ? ' ' + tail : ''}`;
    const params: SqlValue[] = [];
    for (const r of chunk) {
      if (r.length !== columns) throw new Error(`internal: row of ${r.length} values for ${columns} columns in ${head}`);
      for (const v of r) params.push(v);
    }
    // Full-size chunks repeat the same SQL, so caching the prepared statement pays; a short
    // tail chunk has a one-off shape and is not worth a cache slot.
    if (chunk.length === perStatement) await db.runCached(sql, params);
    else await db.run(sql, params);
  }
}

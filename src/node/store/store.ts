// The run store: one SQLite file holding runs, their groups and trajectories, labels, verdicts of
// every verifier version, the embeddings cache and the ingest bookkeeping. See docs/store.md.
import { existsSync } from 'node:fs';
import type { Lint } from '../../core/rescore';
import type { GroupEvent, RewardSettings, RunStartEvent, TrajectoryEvent, Verdict } from '../../core/protocol';
import type { Variant } from '../../core/reward';
import type { ReasoningFormat } from '../../core/reasoning';
import { groupHeads, readRunColumns, type ReadOptions, type RunColumnsRead } from './columns';
import { combinedColumns, GROUP_AGGREGATES, readAggregates, selectColumns, STEP_AGGREGATES } from './aggregates';
import { float32Blob, float32FromBlob, sha256Hex, uint32FromBlob, unpackText, unpackTextPrefix } from './codec';
import { migrate, SCHEMA_VERSION, StoreVersionError, userVersion } from './schema';
import { bm25Rank, matchesText, needsPositions, parseQuery, positiveTerms, prefixMatches, presenceQuery, readFtsAverages, readVarint, termQuery, termStats, type QueryNode, type RankInput } from './search';
import { parseSearch, type SearchFilters } from '../../core/searchFilters';
import { escapeRegExp } from '../../core/traceFind';
import { groupFilterSql, trajectoryFilterSql, type SqlPart } from './filterSql';
import { PROMPT_HIT_LIMIT } from './types';
import { narrowFilter, tablePageSql, tableRowOf, tableWhere } from './tableQueries';
import { TABLE_COUNT_CAP, type TableGroupRow, type TableQuery, type TableRow } from '../../core/tableMessages';
import { verdictOfRelabel, whatIfGroup, type ScoredTrajectory } from '../../core/rescore';
import { Db, insertMany, type Row, type SqlValue } from './sqlite';
import { BatchWriter, DEFAULT_REWARD, LINT_BITS, OPTIONAL_TRAJECTORY_FIELDS, type BatchResult, type IngestBatch } from './writer';
import type {
  GroupDetail, GroupSummary, LabelKind, LabelRecord, LabelState, MalformedLine, NewLabel, NewVerifierVersion, OpenOptions,
  PromptHit, RunStoreApi, RunSummary, SearchHit, SearchResult, SnippetPart, StepPoint, StepSeriesPoint, StepSummary, StoredTrajectory,
  StoreStats, VerdictInput, VerdictRecord, VerifierVersion, VerifyGroup, VerifyMember,
} from './types';

/** Readers wait this long for a lock instead of failing with SQLITE_BUSY while ingest writes. */
export const BUSY_TIMEOUT_MS = 15000;
const LABEL_KINDS: readonly LabelKind[] = ['correct', 'wrong', 'hack', 'note'];
const VERDICTS: readonly Verdict[] = ['correct', 'wrong', 'error'];
/** Searches matching at most this many trajectories are ranked by bm25; larger ones return the newest matches. */
export const SEARCH_RANK_LIMIT = 2000;
/** A phrase search over more candidates than SEARCH_RANK_LIMIT checks at most this many texts for one page, */
export const SEARCH_SCAN_LIMIT = 20_000;
/** and for at most this long (ms). */
const SEARCH_SCAN_MS = 2_000;
/** Groups read per page while Find walks the groups passing a filter for their distinct prompts. */
const PROMPT_WALK_PAGE = 4096;
/**
 * Under filters, a query held by at most `promptSetLimit` prompts reads them all from the prompt
 * index at once; above, the index is asked page by page. (Mutable for the tests, which reach the
 * second path on a small store by lowering it.)
 */
export const SEARCH_TUNING = { promptSetLimit: 50_000 };
/** Ranking's document frequencies are counted up to here: beyond, a term's idf is ~0 anyway. */
const DOC_FREQUENCY_CAP = 100_000;

type FtsLayout = 'positions' | 'presence';
interface SearchPage {
  matches: { rowid: number; rank: number | null }[];
  ranked: boolean;
  /** the scan stopped at SEARCH_SCAN_LIMIT candidates before finding a full page */
  partial?: boolean;
  /** stored texts the page already read (text, text_z), so the hits' snippets need not read them again */
  texts?: Map<number, StoredText>;
}

interface StoredText {
  text: unknown;
  text_z: number;
}

const ratio = (n: number, d: number): number | null => (d > 0 ? n / d : null);
const parseJson = <T>(s: unknown, fallback: T): T => (typeof s === 'string' && s.length > 0 ? (JSON.parse(s) as T) : fallback);

interface TrajectoryRow {
  id: number;
  group_id: number;
  run_id: string;
  traj_id: string;
  step: number;
  prompt_id: string;
  source: 'online' | 'offline';
  idx: number | null;
  teacher: string | null;
  text: unknown;
  text_z: number;
  tokens: number | null;
  truncated: number | null;
  r_m: 0 | 1;
  verdict: Verdict;
  verdict_reason: string | null;
  extracted_answer: string | null;
  divergence: number | null;
  entropy_last: number | null;
  r_oger: number | null;
  r_total: number | null;
  advantage: number | null;
  replaced: number;
  inserted: number | null;
  embedding_truncated: number | null;
  present: number;
  lint_mask: number;
  extra: string | null;
  ts_stride: number | null;
  ts_offsets: Buffer | null;
  ts_entropies: Buffer | null;
  ts_extra: string | null;
}

const TRAJECTORY_SELECT = `
  SELECT t.*, g.prompt_id, ts.stride AS ts_stride, ts.offsets AS ts_offsets, ts.entropies AS ts_entropies, ts.extra AS ts_extra
  FROM trajectories t JOIN groups g ON g.id = t.group_id LEFT JOIN token_stats ts ON ts.trajectory_id = t.id`;

/** Rebuilds the protocol trajectory exactly as the trainer wrote it (entropies at Float32 precision). */
function trajectoryEventOf(r: TrajectoryRow): TrajectoryEvent {
  const has = (f: (typeof OPTIONAL_TRAJECTORY_FIELDS)[number]) => (r.present & (1 << OPTIONAL_TRAJECTORY_FIELDS.indexOf(f))) !== 0;
  const b = (x: number | null) => (x === null ? undefined : x === 1);
  const e: TrajectoryEvent = {
    id: r.traj_id,
    source: r.source,
    text: unpackText(r.text, r.text_z),
    r_m: r.r_m,
    verdict: r.verdict,
    replaced: r.replaced === 1,
  };
  if (has('index')) e.index = r.idx as number;
  if (has('teacher')) e.teacher = r.teacher;
  if (has('tokens')) e.tokens = r.tokens as number;
  if (has('truncated')) e.truncated = b(r.truncated) as boolean;
  if (has('verdict_reason')) e.verdict_reason = r.verdict_reason;
  if (has('extracted_answer')) e.extracted_answer = r.extracted_answer;
  if (has('divergence')) e.divergence = r.divergence;
  if (has('entropy_last')) e.entropy_last = r.entropy_last;
  if (has('r_oger')) e.r_oger = r.r_oger;
  if (has('r_total')) e.r_total = r.r_total;
  if (has('advantage')) e.advantage = r.advantage;
  if (has('inserted')) e.inserted = b(r.inserted) as boolean;
  if (has('embedding_truncated')) e.embedding_truncated = b(r.embedding_truncated) as boolean;
  if (has('token_entropies') && r.ts_offsets && r.ts_entropies) {
    e.token_entropies = {
      ...parseJson<Record<string, unknown>>(r.ts_extra, {}),
      offsets: uint32FromBlob(r.ts_offsets),
      values: Array.from(float32FromBlob(r.ts_entropies)),
      ...(r.ts_stride !== null ? { stride: r.ts_stride } : {}),
    };
  }
  return Object.assign(e, parseJson<Record<string, unknown>>(r.extra, {}));
}

function labelOf(r: Row): LabelRecord {
  return {
    id: r.id as number,
    trajectoryKey: r.trajectory_id as number,
    runId: r.run_id as string,
    label: r.label as LabelKind,
    note: (r.note as string | null) ?? null,
    author: r.author as string,
    createdAt: r.created_at as string,
    supersedes: (r.supersedes as number | null) ?? null,
  };
}

function labelStateOf(history: LabelRecord[]): LabelState {
  const superseded = new Set(history.map((l) => l.supersedes).filter((s): s is number => s !== null));
  let current: LabelRecord | null = null;
  for (const l of history) if (l.label !== 'note' && !superseded.has(l.id)) current = l;
  return { current, notes: history.filter((l) => l.label === 'note' && !superseded.has(l.id)), history };
}

/** FTS5 bareword terms of a query, for cutting snippets in JS (the FTS table is contentless). */
function queryTerms(query: string): string[] {
  const words = query.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? [];
  return [...new Set(words.filter((w) => !['and', 'or', 'not', 'near'].includes(w)))];
}

/** Keys from a group_concat, newest (largest) first. */
function keyList(concatenated: string | null | undefined): number[] {
  return concatenated ? concatenated.split(',').map(Number).sort((a, b) => b - a) : [];
}

/**
 * matchesText on a stored text, trying its start first when it is long: a common phrase usually
 * occurs early, and inflating a long trace whole was most of a phrase search's time.
 */
function storedTextMatches(tree: QueryNode, value: unknown, compressed: number): boolean {
  if (compressed === 1 && Buffer.isBuffer(value) && value.length > 4096 && prefixMatches(tree, unpackTextPrefix(value, 2048))) return true;
  return matchesText(tree, unpackText(value, compressed));
}

/**
 * cutSnippet on a stored text, inflating only as much of it as the snippet needs: a hit's first
 * term is usually early, and Find's hits are often long traces (the 50 newest hits of a two-word
 * query on the 2M store average 62K characters, whose whole inflating was most of the search).
 */
export function snippetOfStored(value: unknown, compressed: number, terms: readonly string[], width = 160): SnippetPart[] {
  if (compressed === 1 && Buffer.isBuffer(value)) {
    for (let bytes = 2048; bytes < value.length; bytes *= 4) {
      const snippet = snippetFromPrefix(unpackTextPrefix(value, bytes), terms, width);
      if (snippet) return snippet;
    }
  }
  return cutSnippet(unpackText(value, compressed), terms, width);
}

/**
 * cutSnippet of a whole text, decided from its start alone, or null when the start does not
 * decide it. The last 4 characters of `prefix` are not trusted (a UTF-8 sequence cut short).
 */
export function snippetFromPrefix(prefix: string, terms: readonly string[], width = 160): SnippetPart[] | null {
  const sure = Math.max(0, prefix.length - 4);
  const known = prefix.slice(0, sure);
  const longest = terms.reduce((m, t) => Math.max(m, t.length), 0);
  const first = firstTerm(known, terms);
  if (first < 0 && terms.length > 0) return null;
  // Decided when no term can start earlier without ending in the sure part (where it would have
  // been found), and the window ends before the sure part does (so it gets its closing ellipsis,
  // as on the whole text).
  const start = Math.max(0, (first < 0 ? 0 : first) - Math.floor(width / 3));
  if (first + longest > sure || start + width >= sure) return null;
  return cutSnippet(known, terms, width);
}

const termsRegexCache = new Map<string, RegExp | null>();

/** The terms as one case-insensitive alternation, in their order (null for none). */
function termsRegex(terms: readonly string[]): RegExp | null {
  const key = terms.join('\u0000');
  let re = termsRegexCache.get(key);
  if (re === undefined) {
    const words = terms.filter((t) => t.length > 0).map(escapeRegExp);
    re = words.length ? new RegExp(words.join('|'), 'giu') : null;
    if (termsRegexCache.size > 64) termsRegexCache.clear();
    termsRegexCache.set(key, re);
  }
  return re;
}

/** Where the first of the terms occurs in the text, case-insensitively, or -1. */
function firstTerm(text: string, terms: readonly string[]): number {
  const re = termsRegex(terms);
  if (!re) return -1;
  re.lastIndex = 0;
  return re.exec(text)?.index ?? -1;
}

/**
 * A window of the text around the first occurrence of any term, with every occurrence in it
 * marked (case-insensitive; at one place the term listed first wins). Found by a regular
 * expression rather than on a lower-cased copy: lower-casing whole long traces was most of the
 * snippets' time, and could shift indices (İ lower-cases to two characters).
 */
export function cutSnippet(text: string, terms: readonly string[], width = 160): SnippetPart[] {
  const first = firstTerm(text, terms);
  const start = Math.max(0, (first < 0 ? 0 : first) - Math.floor(width / 3));
  const end = Math.min(text.length, start + width);
  const window = text.slice(start, end);
  const parts: SnippetPart[] = [];
  let pos = 0;
  if (start > 0) parts.push({ text: '…', match: false });
  const re = termsRegex(terms);
  if (re) {
    re.lastIndex = 0;
    for (let m = re.exec(window); m !== null; m = re.exec(window)) {
      if (m.index > pos) parts.push({ text: window.slice(pos, m.index), match: false });
      parts.push({ text: m[0], match: true });
      pos = m.index + m[0].length;
    }
  }
  if (pos < window.length) parts.push({ text: window.slice(pos), match: false });
  if (end < text.length) parts.push({ text: '…', match: false });
  return parts;
}

export class RunStore implements RunStoreApi {
  private writer: BatchWriter | null = null;
  /** Find's distinct-prompt list for the last group filters, and the store version it was read at */
  private distinctPromptsCache: { key: string; rows: { prompt_id: string; id: number; first: number }[] } | null = null;
  /** the table's relabel sign flips, and the labels' and groups' largest ids they were computed at */
  private relabelFlipsCache: { key: string; keys: number[] } | null = null;

  private constructor(readonly db: Db, readonly path: string, readonly readonly: boolean) {}

  static async open(path: string, options: OpenOptions = {}): Promise<RunStore> {
    const readonly = options.readonly === true;
    if (readonly && path !== ':memory:' && !existsSync(path)) throw new Error(`no store at ${path}`);
    const db = await Db.open(path, readonly);
    try {
      await db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      const found = await userVersion(db);
      if (found > SCHEMA_VERSION) throw new StoreVersionError(found, SCHEMA_VERSION);
      if (readonly) {
        if (found < SCHEMA_VERSION) {
          throw new Error(`${path} is not a Reward Lens store at schema ${SCHEMA_VERSION} (found ${found}); open it once with write access to migrate`);
        }
      } else {
        // page_size only applies before the first page is written, and WAL fixes it for good:
        // it must come first. 16 KiB pages halve the file and the time for KB-sized texts.
        if (found === 0) await db.exec('PRAGMA page_size = 16384');
        await db.exec('PRAGMA journal_mode = WAL');
        await db.exec('PRAGMA synchronous = NORMAL');
        if (found > 0 && found < SCHEMA_VERSION) options.onMigrate?.(found, SCHEMA_VERSION);
        await migrate(db);
      }
      await db.exec('PRAGMA foreign_keys = ON');
      // Readers map the file instead of copying pages into a private cache that every commit of
      // the ingest invalidates: UI reads then stay close to their idle latency while a run trains.
      if (readonly) await db.exec('PRAGMA mmap_size = 1073741824');
      return new RunStore(db, path, readonly);
    } catch (e) {
      await db.close().catch(() => undefined);
      throw e;
    }
  }

  close(): Promise<void> {
    return this.db.close();
  }

  /** Writes one ingest batch (events, malformed lines, the file offset after them) in one transaction. */
  writeBatch(batch: IngestBatch): Promise<BatchResult> {
    if (this.readonly) throw new Error('store opened read-only');
    this.writer ??= new BatchWriter(this.db);
    return this.writer.write(batch);
  }

  /**
   * A run's scoring components as columns, with each member's effective verdict (label, else the
   * active verifier's, else logged), read in streamed batches: the input of whatIfRun (core/columnar).
   */
  runColumns(runId: string, options: ReadOptions = {}): Promise<RunColumnsRead> {
    return readRunColumns(this.db, runId, options);
  }

  /** Step and prompt id of groups, by group id. */
  groupHeads(groupIds: readonly number[]): Promise<Map<number, { step: number; promptId: string }>> {
    return groupHeads(this.db, groupIds);
  }

  /** Forgets a file's offset and malformed lines (it was rewritten): the next pass reads it from the start. */
  async resetIngest(file: string): Promise<void> {
    await this.db.transaction(async () => {
      await this.db.run('DELETE FROM malformed_lines WHERE file = ?', [file]);
      await this.db.run('DELETE FROM ingest_offsets WHERE file = ?', [file]);
    });
  }

  async ingestOffset(file: string): Promise<{ byteOffset: number; line: number }> {
    const r = await this.db.get<{ byte_offset: number; line: number }>('SELECT byte_offset, line FROM ingest_offsets WHERE file = ?', [file]);
    return { byteOffset: r?.byte_offset ?? 0, line: r?.line ?? 0 };
  }

  private runSummaryOf(r: Row): RunSummary {
    const reward = parseJson<RewardSettings>(r.reward, DEFAULT_REWARD);
    const a = readAggregates(r, STEP_AGGREGATES);
    return {
      runId: r.run_id as string,
      variant: r.variant as Variant,
      model: r.model as string,
      status: r.status as RunSummary['status'],
      reason: (r.reason as string | null) ?? null,
      startedAt: (r.started_at as string | null) ?? null,
      endedAt: (r.ended_at as string | null) ?? null,
      stepCount: (r.step_count as number) ?? 0,
      groupCount: a.group_count,
      trajectoryCount: a.trajectory_count,
      lastStep: (r.last_step as number | null) ?? null,
      accuracy: ratio(a.online_correct, a.online_count),
      meanROger: ratio(a.roger_correct_sum, a.roger_correct_n),
      lintCount: a.lint_count,
      reward,
      encoder: parseJson<RunStartEvent['encoder']>(r.encoder, null),
      verifier: parseJson<RunStartEvent['verifier']>(r.verifier, { id: '', name: 'unknown' }),
      config: parseJson<Record<string, unknown>>(r.config, {}),
    };
  }

  private runsQuery(where: string): string {
    // The run's figures are the sums of its steps' sums (step_stats), one row per step.
    return `
      SELECT r.*,
        (SELECT count(*) FROM steps s WHERE s.run_id = r.run_id) AS step_count,
        (SELECT max(step) FROM steps s WHERE s.run_id = r.run_id) AS last_step,
        ${selectColumns(STEP_AGGREGATES, 'g')}
      FROM runs r LEFT JOIN (SELECT run_id, ${combinedColumns(STEP_AGGREGATES, 'ss')} FROM step_stats ss GROUP BY run_id) g
        ON g.run_id = r.run_id
      ${where}`;
  }

  async listRuns(): Promise<RunSummary[]> {
    const rows = await this.db.all(this.runsQuery('ORDER BY r.started_at DESC, r.run_id'));
    return rows.map((r) => this.runSummaryOf(r));
  }

  /** The run's reasoning format as ingest recorded it; null before it was decided (or in an older store). */
  async runReasoningFormat(runId: string): Promise<ReasoningFormat | null> {
    const r = await this.db.get<{ reasoning_format: string | null }>('SELECT reasoning_format FROM runs WHERE run_id = ?', [runId]);
    const f = r?.reasoning_format;
    return f === 'think' || f === 'skythought' || f === 'none' ? f : null;
  }

  async getRun(runId: string): Promise<RunSummary | null> {
    const r = await this.db.get(this.runsQuery('WHERE r.run_id = ?'), [runId]);
    return r ? this.runSummaryOf(r) : null;
  }

  async listSteps(runId: string): Promise<StepSummary[]> {
    const rows = await this.db.all(
      `SELECT s.step, s.metrics, ${selectColumns(STEP_AGGREGATES, 'ss')}
       FROM steps s LEFT JOIN step_stats ss ON ss.run_id = s.run_id AND ss.step = s.step
       WHERE s.run_id = ? ORDER BY s.step`,
      [runId],
    );
    return rows.map((r) => {
      const a = readAggregates(r, STEP_AGGREGATES);
      return {
        step: r.step as number,
        metrics: parseJson<Record<string, number | null>>(r.metrics, {}),
        groupCount: a.group_count,
        accuracy: ratio(a.online_correct, a.online_count),
        meanROger: ratio(a.roger_correct_sum, a.roger_correct_n),
        lintCount: a.lint_count,
      };
    });
  }

  async listGroups(runId: string, step: number): Promise<GroupSummary[]> {
    const rows = await this.db.all(
      `SELECT id, run_id, step, prompt_id, prompt_preview, lint_count, zero_std, ${selectColumns(GROUP_AGGREGATES, 'groups')}
       FROM groups WHERE run_id = ? AND step = ? ORDER BY id`,
      [runId, step],
    );
    const counted = rows.length > 0 && (await this.runawayCounted(runId));
    return rows.map((r) => {
      const a = readAggregates(r, GROUP_AGGREGATES);
      return {
        groupId: r.id as number,
        runId: r.run_id as string,
        step: r.step as number,
        promptId: r.prompt_id as string,
        promptPreview: r.prompt_preview as string,
        trajectoryCount: a.trajectory_count,
        accuracy: ratio(a.online_correct, a.online_count),
        meanROger: ratio(a.roger_correct_sum, a.roger_correct_n),
        lintCount: r.lint_count as number,
        zeroStd: r.zero_std === 1,
        meanOfflineAdvantage: ratio(a.offline_adv_sum, a.offline_adv_n),
        failedCount: a.failed_count,
        runawayCount: counted ? a.runaway_count : null,
      };
    });
  }

  /** Whether ingest scanned this run's responses for runaway repetition (schema 6); before, its counts are unknown. */
  private async runawayCounted(runId: string): Promise<boolean> {
    return (await this.db.get<{ runaway_counted: number }>('SELECT runaway_counted FROM runs WHERE run_id = ?', [runId]))?.runaway_counted === 1;
  }

  private async labelsOf(keys: readonly number[]): Promise<Map<number, LabelRecord[]>> {
    const out = new Map<number, LabelRecord[]>();
    if (keys.length === 0) return out;
    const rows = await this.db.all(
      `SELECT l.*, t.run_id FROM labels l JOIN trajectories t ON t.id = l.trajectory_id
       WHERE l.trajectory_id IN (${keys.map(() => '?').join(',')}) ORDER BY l.id`,
      keys as number[],
    );
    for (const r of rows) {
      const l = labelOf(r);
      const list = out.get(l.trajectoryKey) ?? [];
      list.push(l);
      out.set(l.trajectoryKey, list);
    }
    return out;
  }

  /** The run's active verifier id when it is not the logged one (null: use the logged verdicts). */
  private async overridingVerifier(runId: string): Promise<string | null> {
    const r = await this.db.get<{ active_verifier: string | null; verifier_id: string | null }>(
      'SELECT active_verifier, verifier_id FROM runs WHERE run_id = ?',
      [runId],
    );
    if (!r || r.active_verifier === null || r.active_verifier === r.verifier_id) return null;
    return r.active_verifier;
  }

  private async storedTrajectories(rows: TrajectoryRow[], groupLints: Map<number, Lint[]>): Promise<StoredTrajectory[]> {
    const labels = await this.labelsOf(rows.map((r) => r.id));
    const verdictSources = new Map<string, string | null>();
    for (const r of rows) if (!verdictSources.has(r.run_id)) verdictSources.set(r.run_id, await this.overridingVerifier(r.run_id));
    const overridden = new Map<number, VerdictRecord>();
    for (const verifierId of new Set([...verdictSources.values()].filter((v): v is string => v !== null))) {
      const vs = await this.db.all(
        `SELECT * FROM verdicts WHERE verifier_id = ? AND trajectory_id IN (${rows.map(() => '?').join(',')})`,
        [verifierId, ...rows.map((r) => r.id)],
      );
      for (const v of vs) overridden.set(v.trajectory_id as number, verdictOf(v));
    }
    const loggedVerifier = new Map<string, string>();
    for (const runId of verdictSources.keys()) {
      const r = await this.db.get<{ verifier_id: string | null }>('SELECT verifier_id FROM runs WHERE run_id = ?', [runId]);
      loggedVerifier.set(runId, r?.verifier_id ?? '');
    }
    return rows.map((r) => {
      const event = trajectoryEventOf(r);
      const activeVerdict: VerdictRecord | null =
        verdictSources.get(r.run_id) !== null
          ? overridden.get(r.id) ?? null
          : {
              verifierId: loggedVerifier.get(r.run_id) ?? '',
              trajectoryKey: r.id,
              verdict: r.verdict,
              reason: r.verdict_reason,
              extracted: r.extracted_answer,
            };
      return {
        trajectoryKey: r.id,
        groupId: r.group_id,
        runId: r.run_id,
        step: r.step,
        promptId: r.prompt_id,
        event,
        lints: (groupLints.get(r.group_id) ?? []).filter((l) => l.trajectoryId === r.traj_id),
        label: labelStateOf(labels.get(r.id) ?? []),
        activeVerdict,
      };
    });
  }

  async getGroup(groupId: number): Promise<GroupDetail | null> {
    const g = await this.db.get(
      `SELECT g.*, r.reward, r.variant FROM groups g JOIN runs r ON r.run_id = g.run_id WHERE g.id = ?`,
      [groupId],
    );
    if (!g) return null;
    const lints = parseJson<Lint[]>(g.lints, []);
    const rows = await this.db.all<TrajectoryRow>(
      `${TRAJECTORY_SELECT} WHERE t.group_id = ? ORDER BY CASE t.source WHEN 'online' THEN 0 ELSE 1 END, t.idx, t.id`,
      [groupId],
    );
    return {
      groupId,
      runId: g.run_id as string,
      step: g.step as number,
      promptId: g.prompt_id as string,
      prompt: unpackText(g.prompt, g.prompt_z as number),
      gold: g.gold as string,
      extra: parseJson<Record<string, unknown>>(g.extra, {}),
      reward: parseJson<RewardSettings>(g.reward, DEFAULT_REWARD),
      variant: g.variant as Variant,
      lints,
      zeroStd: g.zero_std === 1,
      accuracy: ratio(g.online_correct as number, g.online_count as number),
      meanROger: ratio(g.roger_correct_sum as number, g.roger_correct_n as number),
      trajectories: await this.storedTrajectories(rows, new Map([[groupId, lints]])),
    };
  }

  /** The group exactly as its event was written (unknown fields included): for export and round-trip checks. */
  async groupEvent(groupId: number): Promise<GroupEvent | null> {
    const d = await this.getGroup(groupId);
    if (!d) return null;
    const g = await this.db.get<{ time: string | null }>('SELECT time FROM groups WHERE id = ?', [groupId]);
    return {
      v: 1,
      type: 'group',
      run_id: d.runId,
      ...(g?.time ? { time: g.time } : {}),
      step: d.step,
      prompt_id: d.promptId,
      prompt: d.prompt,
      gold: d.gold,
      trajectories: d.trajectories.map((t) => t.event),
      ...d.extra,
    };
  }

  async getTrajectory(trajectoryKey: number): Promise<StoredTrajectory | null> {
    const rows = await this.db.all<TrajectoryRow>(`${TRAJECTORY_SELECT} WHERE t.id = ?`, [trajectoryKey]);
    const r = rows[0];
    if (!r) return null;
    const g = await this.db.get<{ lints: string }>('SELECT lints FROM groups WHERE id = ?', [r.group_id]);
    const [t] = await this.storedTrajectories(rows, new Map([[r.group_id, parseJson<Lint[]>(g?.lints, [])]]));
    return t ?? null;
  }

  /**
   * `isStale`: asked between pages of a long scan (a phrase checked on candidates' texts, prompts
   * checked on theirs); once true the scan stops and returns what it has, as partial. Find passes
   * "the user has typed on", so a multi-second scan does not hold the store for the next keystroke.
   */
  async search(query: string, limit = 50, options: { isStale?: () => boolean } = {}): Promise<SearchResult> {
    const stale = options.isStale ?? (() => false);
    const n = Math.max(1, Math.min(500, Math.floor(limit)));
    const { text: trimmed, filters, problems } = parseSearch(query);
    const filter = trajectoryFilterSql(filters);
    const empty = { hits: [], prompts: [], problems, fellBackToPhrase: false };
    if (trimmed.length === 0 && !filter) return { ...empty, query: '', ranked: true };
    let used = trimmed;
    let fellBack = false;
    let page: SearchPage;
    if (trimmed.length === 0) {
      page = { matches: (await this.newestFiltered(filter as SqlPart, filters, n)).map((rowid) => ({ rowid, rank: null })), ranked: false };
    } else {
      const presence = (await this.ftsLayout()) === 'presence';
      try {
        page = presence ? await this.presencePage(trimmed, n, filter, stale) : await this.searchPage(trimmed, n, filter);
      } catch {
        // FTS5 syntax errors (unbalanced quotes, a bare operator, column filters that do not exist)
        // are the user's typing, not a failure: search for the words as one literal phrase instead.
        used = `"${trimmed.replace(/"/g, '""')}"`;
        fellBack = true;
        page = presence ? await this.presencePage(used, n, filter, stale) : await this.searchPage(used, n, filter);
      }
    }
    const terms = queryTerms(trimmed);
    const prompts = await this.promptHits(trimmed, used, filters, terms, stale);
    const { matches, ranked } = page;
    const partial = page.partial ? { partial: true } : {};
    const base = { prompts, problems, query: used, fellBackToPhrase: fellBack, ranked, ...partial };
    if (matches.length === 0) return { hits: [], ...base };
    // Texts the page has read already are not read again (a long trace is most of a row's bytes).
    const known = page.texts;
    const textColumns = known && matches.every((m) => known.has(m.rowid)) ? '' : ', t.text, t.text_z';
    const rows = await this.db.all<Row>(
      `SELECT t.id, t.traj_id, t.group_id, t.run_id, t.step, t.source, t.verdict${textColumns}, g.prompt_id
       FROM trajectories t JOIN groups g ON g.id = t.group_id WHERE t.id IN (${matches.map(() => '?').join(',')})`,
      matches.map((m) => m.rowid),
    );
    const byId = new Map(rows.map((r) => [r.id as number, r]));
    const hits: SearchHit[] = [];
    for (const m of matches) {
      const r = byId.get(m.rowid);
      if (!r) continue; // an FTS row whose trajectory is gone
      const text = textColumns ? { text: r.text, text_z: r.text_z as number } : (known?.get(m.rowid) as StoredText);
      hits.push({
        trajectoryKey: r.id as number,
        trajectoryId: r.traj_id as string,
        groupId: r.group_id as number,
        runId: r.run_id as string,
        step: r.step as number,
        promptId: r.prompt_id as string,
        source: r.source as 'online' | 'offline',
        verdict: r.verdict as Verdict,
        snippet: snippetOfStored(text.text, text.text_z, terms),
        rank: m.rank,
      });
    }
    return { hits, ...base };
  }

  /**
   * Filters without text: the newest matching trajectories. With one run the (run_id, step) index
   * gives them in step order without sorting the run; otherwise the key (ingest order) does.
   */
  private async newestFiltered(filter: SqlPart, filters: SearchFilters, n: number): Promise<number[]> {
    const order = filters.runs.length === 1 ? 't.step DESC, t.id DESC' : 't.id DESC';
    let where = filter;
    if (filters.runs.length === 0 && filters.steps.length > 0 && (await this.narrowSteps(filters.steps))) {
      // A few steps of every run: naming the runs lets the (run_id, step) index find them (16 ms
      // on 6M trajectories) instead of walking the newest rows back to those steps (375 ms). For a
      // wide range the walk stops early and the index would gather most of the store (2.7 s).
      where = { sql: `t.run_id IN (SELECT run_id FROM runs) AND ${filter.sql}`, params: filter.params };
    }
    const rows = await this.db.all<{ id: number }>(`SELECT t.id FROM trajectories t WHERE ${where.sql} ORDER BY ${order} LIMIT ?`, [...where.params, n]);
    return rows.map((r) => r.id);
  }

  /** Whether step ranges cover at most a tenth of the steps logged so far. */
  private async narrowSteps(steps: readonly { from: number; to: number }[]): Promise<boolean> {
    if (!steps.length) return false;
    const last = (await this.db.get<{ m: number | null }>('SELECT max(step) AS m FROM steps'))?.m ?? null;
    if (last === null) return false;
    const covered = steps.reduce((sum, r) => sum + Math.max(0, Math.min(r.to, last) - Math.max(r.from, 0) + 1), 0);
    return covered <= Math.max(1, (last + 1) / 10);
  }

  /**
   * Prompts matching the query: groups whose prompt id is the text or one of its words (or a
   * `prompt:` filter), then prompts whose text matches the query through the prompt index
   * (schema 8), newest prompt first, up to SEARCH_SCAN_LIMIT candidates or SEARCH_SCAN_MS. Each
   * prompt is listed once, as its newest group that passes the filters.
   */
  private async promptHits(text: string, used: string, filters: SearchFilters, terms: string[], stale: () => boolean): Promise<PromptHit[]> {
    const g = groupFilterSql(filters);
    const ids = new Set<string>(filters.prompts);
    if (text) {
      ids.add(text);
      for (const w of text.split(/\s+/)) if (w) ids.add(w.replace(/^"+|"+$/g, ''));
    }
    const found = new Map<string, { id: number; n: number; match: 'id' | 'text' }>();
    if (ids.size > 0) {
      const list = [...ids];
      const rows = await this.db.all<{ prompt_id: string; id: number; n: number }>(
        `SELECT g.prompt_id, max(g.id) AS id, count(*) AS n FROM groups g WHERE g.prompt_id IN (${list.map(() => '?').join(',')})${g ? ` AND ${g.sql}` : ''}
         GROUP BY g.prompt_id ORDER BY id DESC LIMIT ?`,
        [...list, ...(g?.params ?? []), PROMPT_HIT_LIMIT],
      );
      for (const r of rows) found.set(r.prompt_id, { id: r.id, n: r.n, match: 'id' });
    }
    let tree: QueryNode | null = null;
    try {
      tree = text ? parseQuery(used) : null;
    } catch {
      tree = null; // not valid syntax even as the phrase fallback: no prompt-text matches
    }
    if (tree && found.size < PROMPT_HIT_LIMIT) {
      // The prompt index holds words, not positions: its candidates are checked against the query
      // itself, as the trajectory index's are. Without filters its newest matches are the
      // candidates. With filters, the prompts of the groups passing them (newest first, cached
      // between keystrokes) are the candidates, and the index says which of them hold the words.
      let fts: string | null = presenceQuery(tree);
      const deadline = performance.now() + SEARCH_SCAN_MS;
      const going = () => fts !== null && found.size < PROMPT_HIT_LIMIT && performance.now() <= deadline && !stale();
      /** Of prompts that hold the words (each by its first group, the index's row), those the query matches. */
      const matching = async (firsts: readonly number[]): Promise<Set<number>> => {
        const texts = await this.db.all<{ id: number; prompt: unknown; prompt_z: number }>(`SELECT id, prompt, prompt_z FROM groups WHERE id IN (${firsts.map(() => '?').join(',')})`, [...firsts]);
        return new Set(texts.filter((t) => matchesText(tree, unpackText(t.prompt, t.prompt_z))).map((t) => t.id));
      };
      if (!g) {
        let newest: number[] = [];
        try {
          const row = await this.db.get<{ ids: string | null }>(
            "SELECT group_concat(rowid) AS ids FROM (SELECT rowid FROM prompt_fts WHERE prompt_fts MATCH ? ORDER BY rowid DESC LIMIT ?)",
            [fts, SEARCH_SCAN_LIMIT],
          );
          newest = keyList(row?.ids);
        } catch {
          fts = null; // a query FTS5 cannot read even as words: no prompt-text matches
        }
        for (let i = 0; i < newest.length && going(); i += 256) {
          const matched = [...(await matching(newest.slice(i, i + 256)))].sort((a, b) => b - a);
          if (!matched.length) continue;
          // Each listed as its newest group (the index's row is its first).
          const latest = await this.db.all<{ prompt_id: string; id: number; first: number }>(
            `SELECT g0.id AS first, g0.prompt_id, (SELECT max(g.id) FROM groups g WHERE g.prompt_id = g0.prompt_id) AS id FROM groups g0 WHERE g0.id IN (${matched.map(() => '?').join(',')})`,
            matched,
          );
          const byFirst = new Map(latest.map((r) => [r.first, r]));
          for (const first of matched) {
            const r = byFirst.get(first);
            if (r && !found.has(r.prompt_id) && found.size < PROMPT_HIT_LIMIT) found.set(r.prompt_id, { id: r.id, n: 0, match: 'text' });
          }
        }
      } else {
        const distinct = await this.distinctPrompts(g, filters.labels.length > 0);
        // A rare word: every prompt holding it, at once, and the walk's prompts among them. A common
        // one: the walk's prompts page by page, asking the index about each page (a few pages suffice).
        let holds: (page: readonly { first: number }[]) => Promise<Set<number>>;
        try {
          const counted = await this.db.get<{ n: number }>('SELECT count(*) AS n FROM (SELECT rowid FROM prompt_fts WHERE prompt_fts MATCH ? LIMIT ?)', [fts, SEARCH_TUNING.promptSetLimit + 1]);
          if ((counted?.n ?? 0) <= SEARCH_TUNING.promptSetLimit) {
            const all = new Set((await this.db.all<{ rowid: number }>('SELECT rowid FROM prompt_fts WHERE prompt_fts MATCH ?', [fts])).map((r) => r.rowid));
            holds = async (page) => new Set(page.map((d) => d.first).filter((id) => all.has(id)));
          } else {
            const query = fts;
            holds = async (page) => new Set((await this.db.all<{ rowid: number }>(`SELECT rowid FROM prompt_fts WHERE prompt_fts MATCH ? AND rowid IN (${page.map(() => '?').join(',')})`, [query, ...page.map((d) => d.first)])).map((r) => r.rowid));
          }
        } catch {
          fts = null; // a query FTS5 cannot read even as words: no prompt-text matches
          holds = async () => new Set();
        }
        for (let i = 0; i < distinct.length && going(); i += 256) {
          const page = distinct.slice(i, i + 256).filter((d) => !found.has(d.prompt_id));
          if (!page.length) continue;
          const holding = await holds(page);
          if (!holding.size) continue;
          const matched = await matching([...holding]);
          for (const d of page) if (matched.has(d.first) && found.size < PROMPT_HIT_LIMIT) found.set(d.prompt_id, { id: d.id, n: 0, match: 'text' });
        }
      }
      const textMatched = [...found].filter(([, f]) => f.match === 'text').map(([id]) => id);
      const counts = await this.groupCounts(textMatched, g);
      for (const id of textMatched) (found.get(id) as { n: number }).n = counts.get(id) ?? 0;
    }
    if (found.size === 0) return [];
    const entries = [...found.values()];
    const rows = await this.db.all<{ id: number; run_id: string; step: number; prompt_id: string; prompt: unknown; prompt_z: number }>(
      `SELECT id, run_id, step, prompt_id, prompt, prompt_z FROM groups WHERE id IN (${entries.map(() => '?').join(',')})`,
      entries.map((e) => e.id),
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    const out: PromptHit[] = [];
    for (const e of entries) {
      const r = byId.get(e.id);
      if (!r) continue;
      out.push({
        promptId: r.prompt_id,
        groupId: r.id,
        runId: r.run_id,
        step: r.step,
        groups: e.n,
        match: e.match,
        snippet: cutSnippet(unpackText(r.prompt, r.prompt_z), e.match === 'text' ? terms : []),
      });
    }
    return out;
  }

  /**
   * The newest SEARCH_SCAN_LIMIT distinct prompts passing the group filters, as their newest such
   * group. Groups are walked newest first in pages, so a store with many distinct prompts stops
   * after the first SEARCH_SCAN_LIMIT of them instead of grouping all its groups (a GROUP BY over
   * 750,000 groups took 0.3 s, 1.9 s with a member filter). Find asks again on every keystroke with
   * the same filters: the list is kept until a group is added (or, under a label filter, a label),
   * which the primary keys' maxima tell at the cost of two index lookups.
   */
  private async distinctPrompts(g: SqlPart | null, byLabel: boolean): Promise<{ prompt_id: string; id: number; first: number }[]> {
    const version = await this.db.get<{ g: number | null; l: number | null }>(
      `SELECT (SELECT max(id) FROM groups) AS g, ${byLabel ? '(SELECT max(id) FROM labels)' : 'NULL'} AS l`,
    );
    const key = JSON.stringify([g?.sql ?? '', g?.params ?? [], version?.g ?? null, version?.l ?? null]);
    if (this.distinctPromptsCache?.key === key) return this.distinctPromptsCache.rows;
    const rows: { prompt_id: string; id: number }[] = [];
    const seen = new Set<string>();
    let below = (version?.g ?? 0) + 1;
    while (rows.length < SEARCH_SCAN_LIMIT) {
      const page = await this.db.all<{ prompt_id: string; id: number }>(
        `SELECT g.id, g.prompt_id FROM groups g WHERE g.id < ?${g ? ` AND ${g.sql}` : ''} ORDER BY g.id DESC LIMIT ?`,
        [below, ...(g?.params ?? []), PROMPT_WALK_PAGE],
      );
      for (const r of page) {
        if (seen.has(r.prompt_id)) continue;
        seen.add(r.prompt_id);
        rows.push(r);
        if (rows.length >= SEARCH_SCAN_LIMIT) break;
      }
      if (page.length < PROMPT_WALK_PAGE) break;
      below = (page[page.length - 1] as { id: number }).id;
    }
    // Each prompt's first group: the prompt index's row for it.
    const out: { prompt_id: string; id: number; first: number }[] = [];
    for (let i = 0; i < rows.length; i += 500) {
      const chunk = rows.slice(i, i + 500);
      const firsts = await this.db.all<{ prompt_id: string; first: number }>(
        `SELECT prompt_id, min(id) AS first FROM groups WHERE prompt_id IN (${chunk.map(() => '?').join(',')}) GROUP BY prompt_id`,
        chunk.map((r) => r.prompt_id),
      );
      const firstOf = new Map(firsts.map((f) => [f.prompt_id, f.first]));
      for (const r of chunk) out.push({ ...r, first: firstOf.get(r.prompt_id) ?? r.id });
    }
    this.distinctPromptsCache = { key, rows: out };
    return out;
  }

  /** Groups per prompt passing the group filters, for the prompts listed. */
  private async groupCounts(promptIds: readonly string[], g: SqlPart | null): Promise<Map<string, number>> {
    if (!promptIds.length) return new Map();
    const rows = await this.db.all<{ prompt_id: string; n: number }>(
      `SELECT g.prompt_id, count(*) AS n FROM groups g WHERE g.prompt_id IN (${promptIds.map(() => '?').join(',')})${g ? ` AND ${g.sql}` : ''} GROUP BY g.prompt_id`,
      [...promptIds, ...(g?.params ?? [])],
    );
    return new Map(rows.map((r) => [r.prompt_id, r.n]));
  }

  /** A window of the trajectories table (core/tableMessages.ts): sorted, filtered, and the total (capped). */
  async tableRows(q: TableQuery, offset: number, limit: number, onlyKeys: readonly number[] | null = null): Promise<{ rows: TableRow[]; total: number; totalCapped: boolean; problems: string[] }> {
    const parsed = parseSearch(q.filter);
    const { where, problems } = tableWhere(parsed, (await this.ftsLayout()) === 'presence', onlyKeys, await this.narrowSteps(parsed.filters.steps));
    const runs = parsed.filters.runs.length ? parsed.filters.runs : (await this.db.all<{ run_id: string }>('SELECT run_id FROM runs ORDER BY run_id')).map((r) => r.run_id);
    const page = tablePageSql(q, where, { runs, narrow: narrowFilter(parsed, onlyKeys) }, offset, limit);
    const [rows, counted] = await Promise.all([
      this.db.all(page.sql, page.params),
      this.db.get<{ n: number }>(`SELECT count(*) AS n FROM (SELECT 1 FROM trajectories t WHERE ${where.sql} LIMIT ?)`, [...where.params, TABLE_COUNT_CAP + 1]),
    ]);
    const labels = await this.currentLabels(rows.map((r) => r.id as number));
    const n = counted?.n ?? 0;
    return { rows: rows.map((r) => tableRowOf(r, labels.get(r.id as number) ?? null)), total: Math.min(n, TABLE_COUNT_CAP), totalCapped: n > TABLE_COUNT_CAP, problems };
  }

  /** The trajectories table grouped by prompt or verdict: the largest groups first (at most 500). */
  async tableGroups(q: TableQuery, by: 'prompt' | 'verdict', onlyKeys: readonly number[] | null = null): Promise<{ groups: TableGroupRow[]; problems: string[] }> {
    const parsed = parseSearch(q.filter);
    const { where, problems } = tableWhere(parsed, (await this.ftsLayout()) === 'presence', onlyKeys, await this.narrowSteps(parsed.filters.steps));
    const key = by === 'prompt' ? 'g.prompt_id' : 't.verdict';
    const rows = await this.db.all<{ key: string; n: number; acc: number | null; r: number | null; a: number | null; gid: number }>(
      `SELECT ${key} AS key, count(*) AS n, avg(CASE WHEN t.source = 'online' THEN t.verdict = 'correct' END) AS acc,
         avg(t.r_total) AS r, avg(t.advantage) AS a, max(t.group_id) AS gid
       FROM trajectories t JOIN groups g ON g.id = t.group_id WHERE ${where.sql} GROUP BY ${key} ORDER BY n DESC, key LIMIT 500`,
      where.params,
    );
    return { groups: rows.map((r) => ({ key: r.key, count: r.n, accuracy: r.acc, meanRTotal: r.r, meanAdvantage: r.a, groupId: by === 'prompt' ? r.gid : null })), problems };
  }

  /**
   * Members whose advantage changes sign when their group is re-scored with its relabels (labels
   * only, not another verifier): relabelled groups are few, so each is re-scored by the reward core.
   */
  async relabelSignFlips(): Promise<number[]> {
    // The table asks again for every window it scrolls to: the answer only changes with a new label.
    const version = await this.db.get<{ l: number | null; g: number | null }>('SELECT (SELECT max(id) FROM labels) AS l, (SELECT max(id) FROM groups) AS g');
    const key = `${version?.l ?? 0}/${version?.g ?? 0}`;
    if (this.relabelFlipsCache?.key === key) return this.relabelFlipsCache.keys;
    const groups = await this.db.all<{ group_id: number }>(
      `SELECT DISTINCT t.group_id FROM labels l JOIN trajectories t ON t.id = l.trajectory_id WHERE l.label <> 'note' LIMIT 20000`,
    );
    const out: number[] = [];
    for (const { group_id } of groups) {
      const g = await this.getGroup(group_id);
      if (!g) continue;
      const verdicts = new Map<string, Verdict>();
      for (const t of g.trajectories) {
        const v = verdictOfRelabel(t.label.current?.label);
        if (v && v !== t.event.verdict) verdicts.set(t.event.id, v);
      }
      if (!verdicts.size) continue;
      try {
        const w = whatIfGroup(g.trajectories.map((t) => t.event as ScoredTrajectory), g.reward, { verdicts });
        const keyOf = new Map(g.trajectories.map((t) => [t.event.id, t.trajectoryKey]));
        for (const m of w.members) if (m.signFlip) out.push(keyOf.get(m.id) as number);
      } catch {
        // a group the reward core cannot re-score (a missing divergence) flips nothing it can show
      }
    }
    this.relabelFlipsCache = { key, keys: out };
    return out;
  }

  /** The current relabel of each trajectory (the newest label that is not a note and not superseded). */
  private async currentLabels(keys: readonly number[]): Promise<Map<number, TableRow['label']>> {
    const out = new Map<number, TableRow['label']>();
    if (!keys.length) return out;
    const rows = await this.db.all<{ trajectory_id: number; label: string }>(
      `SELECT l.trajectory_id, l.label FROM labels l WHERE l.trajectory_id IN (${keys.map(() => '?').join(',')}) AND l.label <> 'note'
         AND NOT EXISTS (SELECT 1 FROM labels s WHERE s.supersedes = l.id) ORDER BY l.id`,
      [...keys],
    );
    for (const r of rows) out.set(r.trajectory_id, r.label as TableRow['label']);
    return out;
  }

  /**
   * Trajectory keys matching an FTS query and the filters, newest first (below `before` when given).
   * FTS5 drives the join (CROSS JOIN keeps it outer): the other order would re-run the MATCH for
   * every trajectory row the filters select.
   */
  private async ftsNewest(fts: string, filter: SqlPart | null, limit: number, before: number | null = null): Promise<number[]> {
    const below = before === null ? '' : ' AND trajectory_fts.rowid < ?';
    // The keys come back as one string: a row per key cost twice as much for 2,000 keys, and an
    // ORDER BY inside group_concat as much again as sorting them here.
    const row = filter
      ? await this.db.get<{ ids: string | null }>(
        `SELECT group_concat(rowid) AS ids FROM (
           SELECT trajectory_fts.rowid AS rowid FROM trajectory_fts CROSS JOIN trajectories t ON t.id = trajectory_fts.rowid
           WHERE trajectory_fts MATCH ?${below} AND ${filter.sql} ORDER BY trajectory_fts.rowid DESC LIMIT ?)`,
        [fts, ...(before === null ? [] : [before]), ...filter.params, limit],
      )
      : await this.db.get<{ ids: string | null }>(
        `SELECT group_concat(rowid) AS ids FROM (
           SELECT rowid FROM trajectory_fts WHERE trajectory_fts MATCH ?${below} ORDER BY rowid DESC LIMIT ?)`,
        [fts, ...(before === null ? [] : [before]), limit],
      );
    return keyList(row?.ids);
  }

  private layout: FtsLayout | null = null;

  /** Which full-text index this store has: schema 1-2's positional one, or schema 3's presence-only one. */
  private async ftsLayout(): Promise<FtsLayout> {
    if (this.layout) return this.layout;
    const r = await this.db.get<{ sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'trajectory_fts'");
    this.layout = /detail\s*=\s*'?none/i.test(r?.sql ?? '') ? 'presence' : 'positions';
    return this.layout;
  }

  /**
   * One page of matches on the presence-only index (search.ts explains how every query kind is
   * answered). Up to SEARCH_RANK_LIMIT candidates: all are read, checked when the query needs
   * positions, and ranked by bm25 computed from their texts. More: the newest candidates, checked
   * page by page until `n` match or SEARCH_SCAN_LIMIT candidates were read (then `partial`).
   */
  private async presencePage(q: string, n: number, filter: SqlPart | null, stale: () => boolean = () => false): Promise<SearchPage> {
    const tree = parseQuery(q);
    if (tree === null) {
      // Syntax the parser does not model (column filters and the like): FTS5 judges it, without positions.
      return { matches: (await this.ftsNewest(q, filter, n)).map((rowid) => ({ rowid, rank: null })), ranked: false };
    }
    const fts = presenceQuery(tree);
    const check = needsPositions(tree);
    // Without filters one evaluation gives both the count (capped) and the newest candidates: an
    // evaluation of a prefix query merges its words' whole doclists (about 100 ms for intersect* on
    // 2M trajectories), and 2,001 keys read as one string cost less than a count and a second
    // evaluation. With filters the count is of the whole match set, as bm25's cost is.
    const newest = filter ? null : await this.ftsNewest(fts, null, SEARCH_RANK_LIMIT + 1);
    const count = newest
      ? newest.length
      : ((await this.db.get<{ n: number }>('SELECT count(*) AS n FROM (SELECT rowid FROM trajectory_fts WHERE trajectory_fts MATCH ? LIMIT ?)', [fts, SEARCH_RANK_LIMIT + 1]))?.n ?? 0);
    if (count <= SEARCH_RANK_LIMIT) {
      const stored = newest ? await this.textsByKey(newest) : await this.textsOf(fts, filter, SEARCH_RANK_LIMIT);
      const texts = stored.map((r) => ({ rowid: r.id, text: unpackText(r.text, r.text_z) }));
      const terms = [...positiveTerms(tree)];
      const matching = check ? texts.filter((t) => matchesText(tree, t.text)) : texts;
      const index = await this.ftsLengths(matching.map((t) => t.rowid));
      const docs: RankInput[] = matching.map((t) => {
        const length = index?.lengths.get(t.rowid);
        return length === undefined ? { rowid: t.rowid, ...termStats(t.text, terms) } : { rowid: t.rowid, length, tf: termStats(t.text, terms, false).tf };
      });
      const df = new Map<string, number>();
      for (const term of terms) {
        const r = await this.db.get<{ n: number }>(
          'SELECT count(*) AS n FROM (SELECT rowid FROM trajectory_fts WHERE trajectory_fts MATCH ? LIMIT ?)',
          [termQuery(term), DOC_FREQUENCY_CAP],
        );
        df.set(term, r?.n ?? 0);
      }
      const documents = index?.documents ?? (await this.db.get<{ n: number | null }>('SELECT max(id) AS n FROM trajectories'))?.n ?? 0;
      const ranked = bm25Rank(docs, terms, df, Math.max(documents, docs.length), index?.averageLength).sort((a, b) => a.rank - b.rank || b.rowid - a.rowid);
      return { matches: ranked.slice(0, n), ranked: true, texts: new Map(stored.map((r) => [r.id, r])) };
    }
    if (!check) return { matches: (newest ? newest.slice(0, n) : await this.ftsNewest(fts, filter, n)).map((rowid) => ({ rowid, rank: null })), ranked: false };
    const candidates = (before: number | null, limit: number) => this.ftsNewest(fts, filter, limit, before);
    // A common phrase is decided by about the newest 2n candidates, so those are fetched first.
    const firstFetch = Math.max(256, 2 * n);
    const ids = [...(newest ?? (await candidates(null, firstFetch)))];
    const matches: { rowid: number; rank: null }[] = [];
    const texts = new Map<number, StoredText>();
    const deadline = performance.now() + SEARCH_SCAN_MS;
    let scanned = 0;
    let more = ids.length === (newest ? SEARCH_RANK_LIMIT + 1 : firstFetch);
    while (scanned < ids.length && matches.length < n && performance.now() <= deadline && !stale()) {
      // A common phrase needs little more than n texts read; a rare one gets pages of 256.
      const page = ids.slice(scanned, scanned + (scanned === 0 ? Math.min(256, 2 * n) : 256));
      const rows = await this.db.all<{ id: number; text: unknown; text_z: number }>(
        `SELECT id, text, text_z FROM trajectories WHERE id IN (${page.map(() => '?').join(',')}) ORDER BY id DESC`,
        page,
      );
      for (const r of rows) {
        if (matches.length < n && storedTextMatches(tree, r.text, r.text_z)) {
          matches.push({ rowid: r.id, rank: null });
          texts.set(r.id, r);
        }
      }
      scanned += page.length;
      if (scanned === ids.length && more && matches.length < n && ids.length < SEARCH_SCAN_LIMIT) {
        const rest = await candidates(ids[ids.length - 1] as number, SEARCH_SCAN_LIMIT - ids.length);
        more = false;
        ids.push(...rest);
        if (ids.length === SEARCH_SCAN_LIMIT) more = true;
      }
    }
    // Every candidate there is was checked: the page is complete even when short.
    const exhausted = scanned >= ids.length && !more;
    return { matches, ranked: false, partial: matches.length < n && !exhausted, texts };
  }

  /** Stored texts of trajectories by key, newest first. */
  private async textsByKey(keys: readonly number[]): Promise<({ id: number } & StoredText)[]> {
    if (keys.length === 0) return [];
    return this.db.all<{ id: number } & StoredText>(
      `SELECT id, text, text_z FROM trajectories WHERE id IN (${keys.map(() => '?').join(',')}) ORDER BY id DESC`,
      [...keys],
    );
  }

  /**
   * What FTS5 itself keeps for bm25 on the presence index: each text's length in tokens (its
   * docsize table) and the index's document count and average length (its averages record). With
   * them the ranking is FTS5's own bm25 and the texts need not be tokenised to be measured. Null
   * where the index keeps no sizes (an index made with columnsize=0).
   */
  private async ftsLengths(keys: readonly number[]): Promise<{ lengths: Map<number, number>; documents: number; averageLength: number } | null> {
    try {
      const totals = await this.db.get<{ block: Buffer }>('SELECT block FROM trajectory_fts_data WHERE id = 1');
      const averages = totals ? readFtsAverages(totals.block) : null;
      if (!averages) return null;
      const lengths = new Map<number, number>();
      for (let i = 0; i < keys.length; i += 500) {
        const page = keys.slice(i, i + 500);
        const rows = await this.db.all<{ id: number; sz: Buffer }>(`SELECT id, sz FROM trajectory_fts_docsize WHERE id IN (${page.map(() => '?').join(',')})`, page);
        for (const r of rows) lengths.set(r.id, readVarint(r.sz, 0).value);
      }
      return { lengths, documents: averages.documents, averageLength: averages.tokens / Math.max(1, averages.documents) };
    } catch {
      return null;
    }
  }

  /** Texts of the candidates of an FTS query that pass the filters (at most `limit` candidates, the newest), newest first. */
  private async textsOf(fts: string, filter: SqlPart | null, limit: number): Promise<({ id: number } & StoredText)[]> {
    return this.db.all<{ id: number } & StoredText>(
      `SELECT t.id, t.text, t.text_z FROM trajectories t WHERE t.id IN (
         SELECT rowid FROM trajectory_fts WHERE trajectory_fts MATCH ? ORDER BY rowid DESC LIMIT ?)${filter ? ` AND ${filter.sql}` : ''}
       ORDER BY t.id DESC`,
      [fts, limit, ...(filter?.params ?? [])],
    );
  }

  /**
   * One page of matches. bm25 (`ORDER BY rank`) scores every matching document, and even for one
   * page its per-query statistics read the whole doclist of every term: 9-25 s for a common word on
   * 2,000,000 trajectories. So the match count is taken first, capped at SEARCH_RANK_LIMIT + 1
   * (milliseconds: FTS5 stops at the cap); up to SEARCH_RANK_LIMIT matches are ranked, more
   * return the newest matches (highest trajectory key, i.e. ingested last) unranked, rank null.
   */
  private async searchPage(q: string, n: number, filter: SqlPart | null): Promise<SearchPage> {
    // Counted without the filters: what bm25 costs depends on the whole match set, not the filtered part.
    const counted = await this.db.get<{ n: number }>(
      'SELECT count(*) AS n FROM (SELECT rowid FROM trajectory_fts WHERE trajectory_fts MATCH ? LIMIT ?)',
      [q, SEARCH_RANK_LIMIT + 1],
    );
    if ((counted?.n ?? 0) <= SEARCH_RANK_LIMIT) {
      const matches = filter
        ? await this.db.all<{ rowid: number; rank: number }>(
          `SELECT trajectory_fts.rowid AS rowid, trajectory_fts.rank AS rank FROM trajectory_fts CROSS JOIN trajectories t ON t.id = trajectory_fts.rowid
           WHERE trajectory_fts MATCH ? AND ${filter.sql} ORDER BY rank LIMIT ?`,
          [q, ...filter.params, n],
        )
        : await this.db.all<{ rowid: number; rank: number }>('SELECT rowid, rank FROM trajectory_fts WHERE trajectory_fts MATCH ? ORDER BY rank LIMIT ?', [q, n]);
      return { matches, ranked: true };
    }
    return { matches: (await this.ftsNewest(q, filter, n)).map((rowid) => ({ rowid, rank: null })), ranked: false };
  }

  async addLabel(label: NewLabel): Promise<LabelRecord> {
    if (!LABEL_KINDS.includes(label.label)) throw new Error(`label must be one of ${LABEL_KINDS.join('|')}, not ${JSON.stringify(label.label)}`);
    if (!label.author) throw new Error('a label needs an author');
    const t = await this.db.get<{ run_id: string }>('SELECT run_id FROM trajectories WHERE id = ?', [label.trajectoryKey]);
    if (!t) throw new Error(`no trajectory ${label.trajectoryKey}`);
    if (label.supersedes != null) {
      const prev = await this.db.get<{ trajectory_id: number }>('SELECT trajectory_id FROM labels WHERE id = ?', [label.supersedes]);
      if (!prev) throw new Error(`label ${label.supersedes} does not exist`);
      if (prev.trajectory_id !== label.trajectoryKey) throw new Error(`label ${label.supersedes} belongs to another trajectory`);
    }
    const createdAt = new Date().toISOString();
    const res = await this.db.run(
      'INSERT INTO labels (trajectory_id, label, note, author, created_at, supersedes) VALUES (?, ?, ?, ?, ?, ?)',
      [label.trajectoryKey, label.label, label.note ?? null, label.author, createdAt, label.supersedes ?? null],
    );
    return {
      id: res.lastID,
      trajectoryKey: label.trajectoryKey,
      runId: t.run_id,
      label: label.label,
      note: label.note ?? null,
      author: label.author,
      createdAt,
      supersedes: label.supersedes ?? null,
    };
  }

  async labels(runId?: string): Promise<LabelRecord[]> {
    const rows = await this.db.all(
      `SELECT l.*, t.run_id FROM labels l JOIN trajectories t ON t.id = l.trajectory_id
       ${runId === undefined ? '' : 'WHERE t.run_id = ?'} ORDER BY l.id`,
      runId === undefined ? [] : [runId],
    );
    return rows.map(labelOf);
  }

  async addVerifierVersion(v: NewVerifierVersion): Promise<VerifierVersion> {
    const id = v.source !== undefined ? sha256Hex(v.source) : v.id;
    if (!id || !/^[0-9a-f]{64}$/.test(id)) throw new Error('a verifier version needs its source or the sha256 (hex) of it');
    const createdAt = new Date().toISOString();
    await this.db.run('INSERT OR IGNORE INTO verifier_versions (id, name, path, created_at) VALUES (?, ?, ?, ?)', [
      id, v.name, v.path ?? null, createdAt,
    ]);
    const r = await this.db.get('SELECT * FROM verifier_versions WHERE id = ?', [id]);
    return verifierOf(r as Row);
  }

  async verifierVersions(): Promise<VerifierVersion[]> {
    return (await this.db.all('SELECT * FROM verifier_versions ORDER BY created_at, id')).map(verifierOf);
  }

  async writeVerdicts(verifierId: string, verdicts: readonly VerdictInput[]): Promise<number> {
    for (const v of verdicts) {
      if (!VERDICTS.includes(v.verdict)) throw new Error(`verdict must be one of ${VERDICTS.join('|')}, not ${JSON.stringify(v.verdict)}`);
    }
    return this.db.transaction(async () => {
      const known = await this.db.get('SELECT 1 FROM verifier_versions WHERE id = ?', [verifierId]);
      if (!known) throw new Error(`unknown verifier version ${verifierId}: add it first`);
      await insertMany(
        this.db,
        'INSERT OR REPLACE INTO verdicts (verifier_id, trajectory_id, verdict, reason, extracted)',
        5,
        verdicts.map((v) => [verifierId, v.trajectoryKey, v.verdict, v.reason, v.extracted]),
      );
      return verdicts.length;
    });
  }

  async verdicts(verifierId: string, runId?: string): Promise<VerdictRecord[]> {
    const rows = await this.db.all(
      runId === undefined
        ? 'SELECT * FROM verdicts WHERE verifier_id = ? ORDER BY trajectory_id'
        : `SELECT v.* FROM verdicts v JOIN trajectories t ON t.id = v.trajectory_id WHERE v.verifier_id = ? AND t.run_id = ? ORDER BY v.trajectory_id`,
      runId === undefined ? [verifierId] : [verifierId, runId],
    );
    return rows.map(verdictOf);
  }

  async activeVerifier(runId: string): Promise<VerifierVersion | null> {
    const r = await this.db.get(
      `SELECT v.* FROM runs r JOIN verifier_versions v ON v.id = coalesce(r.active_verifier, r.verifier_id) WHERE r.run_id = ?`,
      [runId],
    );
    return r ? verifierOf(r) : null;
  }

  async setActiveVerifier(runId: string, verifierId: string): Promise<void> {
    const known = await this.db.get('SELECT 1 FROM verifier_versions WHERE id = ?', [verifierId]);
    if (!known) throw new Error(`unknown verifier version ${verifierId}`);
    const res = await this.db.run('UPDATE runs SET active_verifier = ? WHERE run_id = ?', [verifierId, runId]);
    if (res.changes === 0) throw new Error(`no run ${runId}`);
  }

  async getEmbeddings(fingerprint: string, textHashes: readonly string[]): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (let i = 0; i < textHashes.length; i += 500) {
      const chunk = textHashes.slice(i, i + 500);
      const rows = await this.db.all<{ text_hash: string; vector: Buffer }>(
        `SELECT text_hash, vector FROM embeddings WHERE fingerprint = ? AND text_hash IN (${chunk.map(() => '?').join(',')})`,
        [fingerprint, ...chunk],
      );
      for (const r of rows) out.set(r.text_hash, float32FromBlob(r.vector));
    }
    return out;
  }

  async putEmbeddings(fingerprint: string, entries: ReadonlyArray<{ textHash: string; vector: Float32Array }>): Promise<void> {
    await this.db.transaction(() =>
      insertMany(
        this.db,
        'INSERT OR REPLACE INTO embeddings (fingerprint, text_hash, dim, vector)',
        4,
        entries.map((e) => [fingerprint, e.textHash, e.vector.length, float32Blob(e.vector)] as SqlValue[]),
      ),
    );
  }

  async stats(): Promise<StoreStats> {
    const r = await this.db.get<Record<string, number>>(`SELECT
      (SELECT count(*) FROM runs) AS runs, (SELECT count(*) FROM steps) AS steps, (SELECT count(*) FROM groups) AS groups,
      (SELECT count(*) FROM trajectories) AS trajectories, (SELECT count(*) FROM labels) AS labels,
      (SELECT count(*) FROM malformed_lines) AS malformed`);
    return {
      runs: r?.runs ?? 0,
      steps: r?.steps ?? 0,
      groups: r?.groups ?? 0,
      trajectories: r?.trajectories ?? 0,
      labels: r?.labels ?? 0,
      malformedLines: r?.malformed ?? 0,
    };
  }

  async malformedLines(file?: string): Promise<MalformedLine[]> {
    const rows = await this.db.all(
      `SELECT * FROM malformed_lines ${file === undefined ? '' : 'WHERE file = ?'} ORDER BY file, line`,
      file === undefined ? [] : [file],
    );
    return rows.map((r) => ({
      file: r.file as string,
      line: r.line as number,
      byteOffset: r.byte_offset as number,
      reason: r.reason as string,
      excerpt: r.excerpt as string,
    }));
  }

  async stepSeries(runId: string): Promise<StepSeriesPoint[]> {
    const rows = await this.db.all(
      // step_stats holds the sums over the step's groups, kept at ingest: one row per step, no
      // aggregate over the run's groups on each call. Accuracy is by the logged verdicts, as in
      // every per-group figure (docs/store.md, "Per-step sums").
      `SELECT s.step, s.metrics, ${selectColumns(STEP_AGGREGATES, 'ss')}
       FROM steps s LEFT JOIN step_stats ss ON ss.run_id = s.run_id AND ss.step = s.step
       WHERE s.run_id = ? ORDER BY s.step`,
      [runId],
    );
    // A run stored before schema 6 was never scanned for loops: its zeros would be false.
    const counted = await this.runawayCounted(runId);
    return rows.map((r) => {
      const a = readAggregates(r, STEP_AGGREGATES);
      const oc = a.online_count;
      return {
        step: r.step as number,
        metrics: parseJson<Record<string, number | null>>(r.metrics, {}),
        groupCount: a.group_count,
        accuracy: ratio(a.online_correct, oc),
        rOgerMean: ratio(a.roger_sum, a.roger_n),
        rOgerMax: a.roger_max,
        failedRatio: ratio(a.failed_count, oc),
        meanResponseTokens: ratio(a.tokens_sum, a.tokens_n),
        meanResponseChars: ratio(a.chars_sum, oc),
        meanOfflineAdvantage: ratio(a.offline_adv_sum, a.offline_adv_n),
        lintCount: a.lint_count,
        runawayCount: counted && oc > 0 ? a.runaway_count : null,
      };
    });
  }

  async verifyGroups(runId: string, afterGroupId: number, limit: number): Promise<VerifyGroup[]> {
    // One query per batch of groups (getGroup per group also decodes token entropies and reads
    // labels and verdicts: ~6 queries a group, most of a 100k-trajectory re-verify's store time).
    const reward = parseJson<RewardSettings>((await this.db.get<{ reward: string }>('SELECT reward FROM runs WHERE run_id = ?', [runId]))?.reward, DEFAULT_REWARD);
    const groups = await this.db.all<{ id: number; step: number; prompt_id: string; gold: string }>(
      'SELECT id, step, prompt_id, gold FROM groups WHERE run_id = ? AND id > ? ORDER BY id LIMIT ?',
      [runId, afterGroupId, Math.max(1, limit)],
    );
    if (groups.length === 0) return [];
    const rows = await this.db.all<Row>(
      `SELECT id, group_id, traj_id, source, idx, text, text_z, verdict, verdict_reason, extracted_answer, divergence, entropy_last,
         r_oger, r_total, advantage, replaced, inserted, embedding_truncated, present
       FROM trajectories WHERE group_id >= ? AND group_id <= ? AND run_id = ? ORDER BY group_id, id`,
      [(groups[0] as { id: number }).id, (groups[groups.length - 1] as { id: number }).id, runId],
    );
    const byGroup = new Map<number, VerifyMember[]>();
    const has = (present: number, f: (typeof OPTIONAL_TRAJECTORY_FIELDS)[number]) => (present & (1 << OPTIONAL_TRAJECTORY_FIELDS.indexOf(f))) !== 0;
    for (const r of rows) {
      const present = r.present as number;
      const m: VerifyMember = {
        trajectoryKey: r.id as number,
        id: r.traj_id as string,
        source: r.source as 'online' | 'offline',
        text: unpackText(r.text, r.text_z as number),
        verdict: r.verdict as Verdict,
        verdict_reason: (r.verdict_reason as string | null) ?? null,
        extracted_answer: (r.extracted_answer as string | null) ?? null,
        divergence: (r.divergence as number | null) ?? null,
        entropy_last: (r.entropy_last as number | null) ?? null,
        r_oger: (r.r_oger as number | null) ?? null,
        r_total: (r.r_total as number | null) ?? null,
        advantage: (r.advantage as number | null) ?? null,
        replaced: r.replaced === 1,
      };
      if (has(present, 'index') && r.idx !== null) m.index = r.idx as number;
      if (has(present, 'inserted') && r.inserted !== null) m.inserted = r.inserted === 1;
      if (has(present, 'embedding_truncated') && r.embedding_truncated !== null) m.embedding_truncated = r.embedding_truncated === 1;
      const list = byGroup.get(r.group_id as number);
      if (list) list.push(m);
      else byGroup.set(r.group_id as number, [m]);
    }
    return groups.map((g) => ({ groupId: g.id, step: g.step, promptId: g.prompt_id, gold: g.gold, reward, members: byGroup.get(g.id) ?? [] }));
  }

  async stepPoints(runId: string, step: number): Promise<StepPoint[]> {
    const override = await this.overridingVerifier(runId);
    const rows = await this.db.all(
      `SELECT t.id, t.traj_id, t.group_id, t.divergence, t.entropy_last, t.verdict AS logged, v.verdict AS active,
         t.r_oger, t.r_total, t.advantage, t.replaced
       FROM trajectories t LEFT JOIN verdicts v ON v.trajectory_id = t.id AND v.verifier_id = ?
       WHERE t.run_id = ? AND t.step = ? AND t.source = 'online' ORDER BY t.group_id, t.idx, t.id`,
      [override, runId, step],
    );
    return rows.map((r) => ({
      trajectoryKey: r.id as number,
      trajectoryId: r.traj_id as string,
      groupId: r.group_id as number,
      divergence: (r.divergence as number | null) ?? null,
      entropyLast: (r.entropy_last as number | null) ?? null,
      verdict: ((override !== null ? r.active : null) ?? r.logged) as Verdict,
      rOger: (r.r_oger as number | null) ?? null,
      rTotal: (r.r_total as number | null) ?? null,
      advantage: (r.advantage as number | null) ?? null,
      replaced: r.replaced === 1,
    }));
  }
}

function verifierOf(r: Row): VerifierVersion {
  return { id: r.id as string, name: r.name as string, path: (r.path as string | null) ?? null, createdAt: r.created_at as string };
}

function verdictOf(r: Row): VerdictRecord {
  return {
    verifierId: r.verifier_id as string,
    trajectoryKey: r.trajectory_id as number,
    verdict: r.verdict as Verdict,
    reason: (r.reason as string | null) ?? null,
    extracted: (r.extracted as string | null) ?? null,
  };
}

export { LINT_BITS, StoreVersionError, SCHEMA_VERSION };

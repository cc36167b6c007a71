// The read/write API of the run store, as the extension UI and the CLI use it. This file is the
// contract between the store and its consumers: add to it, never change what is here.
// Identifiers: runs are keyed by the protocol's run_id (string). Groups and trajectories are keyed
// by the store's integer row ids (`groupId`, `trajectoryKey`), because a trainer's trajectory ids are
// only unique within a run. Row ids are stable: a replay never re-creates a row.
import type { ReasoningFormat } from '../../core/reasoning';
import type { Lint, LintKind } from '../../core/rescore';
import type { RewardSettings, RunEndEvent, RunStartEvent, TrajectoryEvent, Verdict } from '../../core/protocol';
import type { Variant } from '../../core/reward';
import type { ViewStepPoint, ViewStepSeriesPoint } from '../../core/messages';

export interface OpenOptions {
  /** Open without write access (the UI). Migrations are not run; an older schema is refused. */
  readonly?: boolean;
  /** Called before an existing store is upgraded (seconds to minutes on millions of trajectories). */
  onMigrate?: (from: number, to: number) => void;
}

export type RunStatus = 'running' | RunEndEvent['status'];

export interface RunSummary {
  runId: string;
  variant: Variant;
  model: string;
  status: RunStatus;
  /** run_end's reason, when the run ended */
  reason: string | null;
  /** ISO time of run_start (its `time`, else when it was ingested) */
  startedAt: string | null;
  /** ISO time of run_end, null while running */
  endedAt: string | null;
  stepCount: number;
  groupCount: number;
  trajectoryCount: number;
  /** the highest step seen in a step or group event; null before the first */
  lastStep: number | null;
  /** fraction of online members (replaced ones included: they were sampled) whose verdict is correct */
  accuracy: number | null;
  /** mean R_OGER over correct online members; null when there are none or no R_OGER logged */
  meanROger: number | null;
  /** lints over all groups of the run (see LintKind) */
  lintCount: number;
  reward: RewardSettings;
  encoder: RunStartEvent['encoder'];
  verifier: RunStartEvent['verifier'];
  config: Record<string, unknown>;
}

export interface StepSummary {
  step: number;
  /** the step event's metrics; {} when only group events were seen for this step */
  metrics: Record<string, number | null>;
  groupCount: number;
  accuracy: number | null;
  meanROger: number | null;
  lintCount: number;
}

export interface GroupSummary {
  groupId: number;
  runId: string;
  step: number;
  promptId: string;
  /** the first 160 characters of the prompt, whitespace collapsed */
  promptPreview: string;
  trajectoryCount: number;
  accuracy: number | null;
  meanROger: number | null;
  lintCount: number;
  /** every member of the final group has the same R_total: advantages are all 0 */
  zeroStd: boolean;
  /** mean advantage of the group's inserted teachers; null when none was inserted */
  meanOfflineAdvantage: number | null;
  /** online responses truncated or with a verifier error */
  failedCount: number;
  /** online responses caught in runaway repetition; null for a run stored before schema 6 */
  runawayCount: number | null;
}

export type LabelKind = 'correct' | 'wrong' | 'hack' | 'note';

/** One row of the append-only label log. */
export interface LabelRecord {
  id: number;
  trajectoryKey: number;
  runId: string;
  label: LabelKind;
  note: string | null;
  author: string;
  /** ISO time */
  createdAt: string;
  /** the label id this one replaces, if any */
  supersedes: number | null;
}

export interface NewLabel {
  trajectoryKey: number;
  label: LabelKind;
  note?: string | null;
  author: string;
  supersedes?: number | null;
}

/** What the label log says about one trajectory now. */
export interface LabelState {
  /** the newest correct|wrong|hack label not superseded by a later one; null when none */
  current: LabelRecord | null;
  /** notes, oldest first */
  notes: LabelRecord[];
  /** every label row of this trajectory, oldest first */
  history: LabelRecord[];
}

export interface VerifierVersion {
  /** sha256 (hex) of the verifier's source */
  id: string;
  name: string;
  path: string | null;
  createdAt: string;
}

export interface NewVerifierVersion {
  /** either the source (hashed here) or its sha256 */
  source?: string;
  id?: string;
  name: string;
  path?: string | null;
}

export interface VerdictInput {
  trajectoryKey: number;
  verdict: Verdict;
  reason: string | null;
  extracted: string | null;
}

export interface VerdictRecord extends VerdictInput {
  verifierId: string;
}

/** A trajectory as stored: the protocol event (unknown fields included) plus where it sits. */
export interface StoredTrajectory {
  trajectoryKey: number;
  groupId: number;
  runId: string;
  step: number;
  promptId: string;
  /** the event as the trainer wrote it: full text, token_entropies decoded, extra fields kept */
  event: TrajectoryEvent;
  /** lints that name this trajectory */
  lints: Lint[];
  label: LabelState;
  /** the verdict of the run's active verifier (the logged one unless another was set); null when that verifier has not judged it */
  activeVerdict: VerdictRecord | null;
}

export interface GroupDetail {
  groupId: number;
  runId: string;
  step: number;
  promptId: string;
  prompt: string;
  gold: string;
  /** the group event's unknown fields */
  extra: Record<string, unknown>;
  /** the run's reward settings (from run_start); what rescoreGroup needs */
  reward: RewardSettings;
  variant: Variant;
  lints: Lint[];
  zeroStd: boolean;
  accuracy: number | null;
  meanROger: number | null;
  /** online members by index, then offline members by index */
  trajectories: StoredTrajectory[];
}

/** A trajectory as re-verifying reads it: its text and the fields re-scoring needs, nothing decoded beyond. */
export interface VerifyMember {
  trajectoryKey: number;
  id: string;
  source: 'online' | 'offline';
  index?: number;
  text: string;
  verdict: Verdict;
  verdict_reason: string | null;
  extracted_answer: string | null;
  divergence: number | null;
  entropy_last: number | null;
  r_oger: number | null;
  r_total: number | null;
  advantage: number | null;
  replaced: boolean;
  inserted?: boolean;
  embedding_truncated?: boolean;
}

export interface VerifyGroup {
  groupId: number;
  step: number;
  promptId: string;
  gold: string;
  reward: RewardSettings;
  /** in stored order */
  members: VerifyMember[];
}

export interface SnippetPart {
  text: string;
  /** true where the text matched a query term */
  match: boolean;
}

export interface SearchHit {
  trajectoryKey: number;
  trajectoryId: string;
  groupId: number;
  runId: string;
  step: number;
  promptId: string;
  source: 'online' | 'offline';
  verdict: Verdict;
  /** a window of the text around the first match, as plain parts (the caller escapes them) */
  snippet: SnippetPart[];
  /** bm25 rank, lower is better; null when the search was not ranked (too many matches, see SearchResult.ranked) */
  rank: number | null;
}

/** Prompts one search returns at most (id matches first): the list puts them before the trajectory hits. */
export const PROMPT_HIT_LIMIT = 20;

/** A prompt that matched a search: by its id, or by words of its text. Opens `groupId`. */
export interface PromptHit {
  promptId: string;
  /** the newest group (highest key) with this prompt that passes the filters */
  groupId: number;
  runId: string;
  step: number;
  /** groups with this prompt that pass the filters */
  groups: number;
  /** 'id': the query (or one of its words) is the prompt id; 'text': the prompt's text matched */
  match: 'id' | 'text';
  snippet: SnippetPart[];
}

export interface SearchResult {
  hits: SearchHit[];
  /** prompts matching the query, id matches first; listed before the trajectory hits */
  prompts: PromptHit[];
  /** bad filter tokens (core/searchFilters.ts), one sentence each saying what is accepted */
  problems: string[];
  /** the FTS5 query actually run: the user's, or a quoted phrase when theirs was not valid FTS5 syntax */
  query: string;
  fellBackToPhrase: boolean;
  /**
   * true: the whole match set was scored and hits are in bm25 order. false: more than
   * SEARCH_RANK_LIMIT trajectories matched, and hits are the newest matches (last ingested first),
   * unscored: ranking them all took seconds on a large store.
   */
  ranked: boolean;
  /**
   * true: the query needs word positions (a phrase, NEAR) on a store whose index keeps none, more
   * than SEARCH_RANK_LIMIT texts hold its words, and the newest SEARCH_SCAN_LIMIT of them were
   * checked without filling the page: older matches may exist.
   */
  partial?: boolean;
}

export interface StoreStats {
  runs: number;
  steps: number;
  groups: number;
  trajectories: number;
  labels: number;
  malformedLines: number;
}

export interface MalformedLine {
  file: string;
  /** 1-based line number in the file */
  line: number;
  /** byte offset of the line's first byte */
  byteOffset: number;
  reason: string;
  /** up to 200 characters of the line, invalid UTF-8 replaced by U+FFFD */
  excerpt: string;
}

// The dashboard's points cross into the webview, which may import only src/core, so their one
// definition lives there (documented field by field) and the store returns them as they are.
/** One point of the run dashboard's time series. */
export type StepSeriesPoint = ViewStepSeriesPoint;

/** One online trajectory of a step, for the scatter/histogram. */
export type StepPoint = ViewStepPoint;

/** What an ingest pass changed, for the UI's live updates. */
export interface StoreChange {
  runId: string;
  /** steps that got a step or group event, ascending */
  steps: number[];
  runStarted: boolean;
  runEnded: boolean;
  groups: number;
  trajectories: number;
}

export interface RunStoreApi {
  close(): Promise<void>;
  listRuns(): Promise<RunSummary[]>;
  getRun(runId: string): Promise<RunSummary | null>;
  /** the run's reasoning format recorded at ingest; null before it was decided or in an older store */
  runReasoningFormat(runId: string): Promise<ReasoningFormat | null>;
  listSteps(runId: string): Promise<StepSummary[]>;
  listGroups(runId: string, step: number): Promise<GroupSummary[]>;
  getGroup(groupId: number): Promise<GroupDetail | null>;
  getTrajectory(trajectoryKey: number): Promise<StoredTrajectory | null>;
  /** FTS5 over trajectory text; never throws for a bad query (falls back to a quoted phrase) */
  search(query: string, limit?: number): Promise<SearchResult>;
  addLabel(label: NewLabel): Promise<LabelRecord>;
  /** every label row, oldest first; of one run when runId is given */
  labels(runId?: string): Promise<LabelRecord[]>;
  addVerifierVersion(v: NewVerifierVersion): Promise<VerifierVersion>;
  verifierVersions(): Promise<VerifierVersion[]>;
  /** inserts or replaces the verdicts of one verifier version (batched, one transaction) */
  writeVerdicts(verifierId: string, verdicts: readonly VerdictInput[]): Promise<number>;
  verdicts(verifierId: string, runId?: string): Promise<VerdictRecord[]>;
  activeVerifier(runId: string): Promise<VerifierVersion | null>;
  setActiveVerifier(runId: string, verifierId: string): Promise<void>;
  /** cached vectors of the given text hashes (sha256 hex) under one encoder fingerprint */
  getEmbeddings(fingerprint: string, textHashes: readonly string[]): Promise<Map<string, Float32Array>>;
  putEmbeddings(fingerprint: string, entries: ReadonlyArray<{ textHash: string; vector: Float32Array }>): Promise<void>;
  stats(): Promise<StoreStats>;
  malformedLines(file?: string): Promise<MalformedLine[]>;
  stepSeries(runId: string): Promise<StepSeriesPoint[]>;
  stepPoints(runId: string, step: number): Promise<StepPoint[]>;
  /** up to `limit` groups of a run after group id `afterGroupId`, in group id order, with what re-verifying reads */
  verifyGroups(runId: string, afterGroupId: number, limit: number): Promise<VerifyGroup[]>;
}

export type { Lint, LintKind };

// Rollout protocol v1 (docs/protocol.md). The JSON Schema in
// python/reward_lens/schema/events.v1.schema.json is the one definition; these types mirror it
// and validateEvent() checks a parsed line against it. Unknown fields pass through untouched.
import Ajv from 'ajv';
import schema from '../../python/reward_lens/schema/events.v1.schema.json';
import type { StdMode, Variant } from './reward';

export const PROTOCOL_VERSION = 1;

export type Verdict = 'correct' | 'wrong' | 'error';

export interface TokenEntropies {
  offsets: number[];
  values: number[];
  stride?: number;
}

export interface TrajectoryEvent {
  id: string;
  source: 'online' | 'offline';
  index?: number;
  teacher?: string | null;
  text: string;
  tokens?: number;
  truncated?: boolean;
  r_m: 0 | 1;
  verdict: Verdict;
  verdict_reason?: string | null;
  extracted_answer?: string | null;
  divergence?: number | null;
  entropy_last?: number | null;
  r_oger?: number | null;
  r_total?: number | null;
  advantage?: number | null;
  replaced: boolean;
  inserted?: boolean;
  embedding_truncated?: boolean;
  token_entropies?: TokenEntropies;
  [extra: string]: unknown;
}

export interface RewardSettings {
  variant: Variant;
  replace: number;
  advantage: { std: StdMode; eps: number };
}

export interface RunStartEvent {
  v: 1;
  type: 'run_start';
  run_id: string;
  time?: string;
  variant: Variant;
  config: Record<string, unknown>;
  model: string;
  reward: RewardSettings;
  encoder: { id: string; strategy: 'truncate' | 'chunk-mean'; pooling?: 'cls' | 'mean'; max_length?: number; fingerprint?: string } | null;
  verifier: { id: string; name: string; path?: string | null };
  [extra: string]: unknown;
}

export interface StepEvent {
  v: 1;
  type: 'step';
  run_id: string;
  time?: string;
  step: number;
  metrics: Record<string, number | null>;
  [extra: string]: unknown;
}

export interface GroupEvent {
  v: 1;
  type: 'group';
  run_id: string;
  time?: string;
  step: number;
  prompt_id: string;
  prompt: string;
  gold: string;
  trajectories: TrajectoryEvent[];
  [extra: string]: unknown;
}

export interface RunEndEvent {
  v: 1;
  type: 'run_end';
  run_id: string;
  time?: string;
  status: 'completed' | 'stopped' | 'failed';
  reason?: string | null;
  step?: number;
  [extra: string]: unknown;
}

export type RolloutEvent = RunStartEvent | StepEvent | GroupEvent | RunEndEvent;

export type EventCheck = { ok: true; event: RolloutEvent } | { ok: false; reason: string };

const ajv = new Ajv({ allErrors: false, strict: false });
const validate = ajv.compile(schema as object);

/** Validates one parsed JSON value as a protocol event; the reason names the bad field. */
export function validateEvent(value: unknown): EventCheck {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'not a JSON object' };
  }
  const v = (value as { v?: unknown }).v;
  if (v !== PROTOCOL_VERSION) {
    return { ok: false, reason: `unsupported protocol version ${JSON.stringify(v)} (this Reward Lens reads v${PROTOCOL_VERSION})` };
  }
  if (validate(value)) return { ok: true, event: value as RolloutEvent };
  const err = validate.errors?.find((e) => e.keyword !== 'if') ?? validate.errors?.[0];
  const where = err?.instancePath ? err.instancePath : '(event)';
  return { ok: false, reason: `${where} ${err?.message ?? 'is invalid'}` };
}

/** Parses and validates one line of events.jsonl. */
export function parseEventLine(line: string): EventCheck {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    return { ok: false, reason: `invalid JSON: ${(e as Error).message}` };
  }
  return validateEvent(value);
}

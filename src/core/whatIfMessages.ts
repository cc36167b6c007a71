// Messages between the host and the whole-run what-if webview. The webview shows prompt ids and
// verifier names (untrusted text) and asks the host to open groups, so everything it posts is
// validated here before the host acts.

/** One changed group of the run, as a row of the what-if table. */
export interface WhatIfGroupRow {
  groupId: number;
  step: number;
  promptId: string;
  /** members whose verdict differs from the logged one */
  verdictChanges: number;
  signFlips: number;
  replacementChanged: boolean;
  /** sum over members of R_total after − before */
  deltaRTotal: number;
  /** sum over members of |advantage after − before| */
  absDeltaAdvantage: number;
}

export interface WhatIfViewModel {
  runId: string;
  variant: string;
  groups: number;
  trajectories: number;
  /** members whose effective verdict differs from the logged one, and from which source */
  verdictChanges: number;
  fromLabels: number;
  fromVerifier: number;
  /** the active verdict set when it is not the logged one: its name and id */
  activeVerifier: { id: string; name: string } | null;
  groupsChanged: number;
  signFlips: number;
  replacementChanged: number;
  deltaRTotal: number;
  sumAbsDeltaRTotal: number;
  sumAbsDeltaAdvantage: number;
  failures: { count: number; messages: string[] };
  /** groups stored before schema 3, read from their trajectory rows (slower) */
  legacyGroups: number;
  /** the most changed groups: sign flips first, then replacement changes, then |Δ advantage| */
  rows: WhatIfGroupRow[];
  /** how many groups changed in all (rows holds at most the first WHATIF_ROWS) */
  changedGroups: number;
  readMs: number;
  computeMs: number;
}

export const WHATIF_ROWS = 500;

export type HostToWhatIf = { type: 'whatIf'; model: WhatIfViewModel } | { type: 'error'; message: string };

export type WhatIfToHost =
  | { type: 'ready' }
  | { type: 'openGroup'; groupId: number }
  /** the model is on screen; ms from receiving it to the frame that shows it */
  | { type: 'rendered'; ms: number; rows: number };

export type WhatIfValidated = { ok: true; message: WhatIfToHost } | { ok: false; reason: string };

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** The first field of `o` that `allowed` does not name, as a reason; null when there is none. */
export function extraKey(o: Record<string, unknown>, allowed: readonly string[]): string | null {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) return `unexpected field "${k.slice(0, 40)}"`;
  return null;
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** Validates a message the what-if webview posted. Never throws. */
export function validateWhatIfMessage(raw: unknown): WhatIfValidated {
  if (!isPlainObject(raw)) return { ok: false, reason: 'message is not a plain object' };
  switch (raw.type) {
    case 'ready': {
      const extra = extraKey(raw, ['type']);
      return extra ? { ok: false, reason: extra } : { ok: true, message: { type: 'ready' } };
    }
    case 'openGroup': {
      const extra = extraKey(raw, ['type', 'groupId']);
      if (extra) return { ok: false, reason: extra };
      if (!isCount(raw.groupId)) return { ok: false, reason: 'openGroup.groupId must be a non-negative integer' };
      return { ok: true, message: { type: 'openGroup', groupId: raw.groupId } };
    }
    case 'rendered':
      return validateRendered(raw);
    default:
      return unknownType(raw);
  }
}

/** A page's `{type: 'rendered', ms, rows}` (the what-if's and the trajectories table's), checked. */
export function validateRendered(raw: Record<string, unknown>): { ok: true; message: { type: 'rendered'; ms: number; rows: number } } | { ok: false; reason: string } {
  const extra = extraKey(raw, ['type', 'ms', 'rows']);
  if (extra) return { ok: false, reason: extra };
  if (typeof raw.ms !== 'number' || !Number.isFinite(raw.ms) || raw.ms < 0 || raw.ms > 3_600_000) return { ok: false, reason: 'rendered.ms must be a finite duration' };
  if (!isCount(raw.rows)) return { ok: false, reason: 'rendered.rows must be a non-negative integer' };
  return { ok: true, message: { type: 'rendered', ms: raw.ms, rows: raw.rows } };
}

/** The reason for a message whose type no case knows. */
export function unknownType(raw: Record<string, unknown>): { ok: false; reason: string } {
  return { ok: false, reason: typeof raw.type === 'string' ? `unknown message type ${JSON.stringify(raw.type.slice(0, 40))}` : 'message type must be a string' };
}

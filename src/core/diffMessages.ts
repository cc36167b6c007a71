// Messages between the host and the re-verify diff webview. The webview renders trajectory text
// and verifier reasons (untrusted), so everything it posts is validated here before the host acts.
import type { VerdictDiff } from './verdictDiff';

export interface DiffViewVerifier {
  id: string;
  name: string;
  path: string | null;
}

export interface DiffViewModel {
  runId: string;
  verifier: DiffViewVerifier;
  /** the set active before the re-verify; null when the logged verdicts were */
  previousVerifierId: string | null;
  /** the set active now (after Accept it is `verifier.id`) */
  activeVerifierId: string | null;
  written: number;
  durationMs: number;
  processRestarts: number;
  diff: VerdictDiff;
}

export type HostToDiff =
  | { type: 'diff'; model: DiffViewModel }
  | { type: 'accepted'; verifierId: string }
  | { type: 'acceptFailed'; message: string }
  | { type: 'error'; message: string };

export type DiffToHost =
  | { type: 'ready' }
  | { type: 'openTrajectory'; trajectoryKey: number }
  | { type: 'accept'; verifierId: string }
  | { type: 'browseSets' };

export type DiffValidated = { ok: true; message: DiffToHost } | { ok: false; reason: string };

const MAX_MESSAGE_CHARS = 2048;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function onlyKeys(o: Record<string, unknown>, allowed: readonly string[]): string | null {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) return `unexpected field "${k.slice(0, 40)}"`;
  return null;
}

/** Validates a message the diff webview posted. Never throws. */
export function validateDiffMessage(raw: unknown): DiffValidated {
  if (!isPlainObject(raw)) return { ok: false, reason: 'message is not a plain object' };
  let size: number;
  try {
    size = JSON.stringify(raw).length;
  } catch {
    return { ok: false, reason: 'message cannot be serialised' };
  }
  if (size > MAX_MESSAGE_CHARS) return { ok: false, reason: `message too large (${size} characters)` };
  switch (raw.type) {
    case 'ready':
    case 'browseSets': {
      const extra = onlyKeys(raw, ['type']);
      return extra ? { ok: false, reason: extra } : { ok: true, message: { type: raw.type } };
    }
    case 'openTrajectory': {
      const extra = onlyKeys(raw, ['type', 'trajectoryKey']);
      if (extra) return { ok: false, reason: extra };
      const k = raw.trajectoryKey;
      if (typeof k !== 'number' || !Number.isSafeInteger(k) || k < 0) return { ok: false, reason: 'openTrajectory.trajectoryKey must be a non-negative integer' };
      return { ok: true, message: { type: 'openTrajectory', trajectoryKey: k } };
    }
    case 'accept': {
      const extra = onlyKeys(raw, ['type', 'verifierId']);
      if (extra) return { ok: false, reason: extra };
      if (typeof raw.verifierId !== 'string' || !/^[0-9a-f]{64}$/.test(raw.verifierId)) return { ok: false, reason: 'accept.verifierId must be a sha256 hex digest' };
      return { ok: true, message: { type: 'accept', verifierId: raw.verifierId } };
    }
    default:
      return { ok: false, reason: typeof raw.type === 'string' ? `unknown message type ${JSON.stringify(raw.type.slice(0, 40))}` : 'message type must be a string' };
  }
}

// Command arguments arrive from menus (a tree node), links (a string), CodeLens and quick fixes,
// other extensions and the palette (nothing): untrusted, and parsed once here into branded ids.
// No vscode import: unit-tested.
import { parseGroupId, parseTrajectoryKey, type GroupId, type TrajectoryKey } from '../core/ids';

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A group from "12", 12, or a Runs-tree group node; null for anything else. */
export function groupIdArg(arg: unknown): GroupId | null {
  if (typeof arg === 'string' || typeof arg === 'number') return parseGroupId(arg);
  if (isRecord(arg) && isRecord(arg.group)) return parseGroupId(arg.group.groupId);
  return null;
}

/** A trajectory from "34" or 34; null for anything else. */
export function trajectoryKeyArg(arg: unknown): TrajectoryKey | null {
  return typeof arg === 'string' || typeof arg === 'number' ? parseTrajectoryKey(arg) : null;
}

/** A run id from a string, a Runs-tree run node (`{ run: { runId } }`) or any `{ runId }`; undefined otherwise. */
export function runIdArg(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg || undefined;
  if (!isRecord(arg)) return undefined;
  if (isRecord(arg.run) && typeof arg.run.runId === 'string') return arg.run.runId;
  return typeof arg.runId === 'string' ? arg.runId : undefined;
}

/** Shortens an argument for a log line (it may be anything, of any size). */
export function describeArg(arg: unknown): string {
  let s: string;
  try {
    s = typeof arg === 'string' ? JSON.stringify(arg) : (JSON.stringify(arg) ?? String(arg));
  } catch {
    s = Object.prototype.toString.call(arg);
  }
  return s.length > 80 ? `${s.slice(0, 79)}…` : s;
}

// Branded store row ids. A group's row id and a trajectory's row id are both plain integers in
// the store, and both travel as strings through command arguments, tree items and links; a
// brand keeps one from being passed where the other is meant. Untrusted input (a command
// argument, a link, a webview message) is parsed once where it arrives; a value read from the
// store is branded with the `store…` helpers, since the store only holds valid row ids.

declare const brand: unique symbol;
export type GroupId = number & { readonly [brand]: 'GroupId' };
export type TrajectoryKey = number & { readonly [brand]: 'TrajectoryKey' };

/** A non-negative safe integer from a number or a string of at most 15 digits; null otherwise. */
function parseRowId(x: unknown): number | null {
  if (typeof x === 'number') return Number.isSafeInteger(x) && x >= 0 ? x : null;
  if (typeof x !== 'string' || !/^\d{1,15}$/.test(x)) return null;
  const n = Number(x);
  return Number.isSafeInteger(n) ? n : null;
}

export function parseGroupId(x: unknown): GroupId | null {
  return parseRowId(x) as GroupId | null;
}

export function parseTrajectoryKey(x: unknown): TrajectoryKey | null {
  return parseRowId(x) as TrajectoryKey | null;
}

/** A group row id read from the store. */
export function storeGroupId(n: number): GroupId {
  return n as GroupId;
}

/** A trajectory row id read from the store. */
export function storeTrajectoryKey(n: number): TrajectoryKey {
  return n as TrajectoryKey;
}

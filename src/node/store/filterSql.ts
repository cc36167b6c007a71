// The Find box's filters (core/searchFilters.ts) as SQL on the store's indexed columns. Values are
// always bound parameters; only the shape of the SQL depends on the filters.
import type { SearchFilters } from '../../core/searchFilters';
import type { SqlValue } from './sqlite';
import { LINT_BITS } from './writer';

export interface SqlPart {
  sql: string;
  params: SqlValue[];
}

const marks = (n: number) => Array.from({ length: n }, () => '?').join(',');

// The current label of trajectory t, as labelStateOf decides it: the newest label that is not a
// note and that no later label supersedes (labels_trajectory index; labels are few, hand-made).
const CURRENT_LABEL = `(SELECT l.label FROM labels l WHERE l.trajectory_id = t.id AND l.label <> 'note'
  AND NOT EXISTS (SELECT 1 FROM labels s WHERE s.supersedes = l.id) ORDER BY l.id DESC LIMIT 1)`;

/** Conditions on trajectory columns alone (alias t): verdict, source, lint, label. */
function memberConditions(f: SearchFilters): SqlPart[] {
  const out: SqlPart[] = [];
  if (f.verdicts.length) out.push({ sql: `t.verdict IN (${marks(f.verdicts.length)})`, params: [...f.verdicts] });
  if (f.sources.length) out.push({ sql: `t.source IN (${marks(f.sources.length)})`, params: [...f.sources] });
  if (f.lints.length) {
    // lint_mask holds one bit per lint kind on the trajectory it names (writer.ts).
    const mask = f.lints.includes('any') ? Object.values(LINT_BITS).reduce((a, b) => a | b, 0) : f.lints.reduce((a, l) => a | (l === 'any' ? 0 : LINT_BITS[l]), 0);
    out.push({ sql: '(t.lint_mask & ?) <> 0', params: [mask] });
  }
  if (f.labels.length) {
    const kinds = f.labels.filter((l) => l !== 'none');
    const parts: string[] = [];
    // A labelled kind is first narrowed by the labels table (small), so the per-row check runs on few rows.
    if (kinds.length) parts.push(`(t.id IN (SELECT trajectory_id FROM labels WHERE label IN (${marks(kinds.length)})) AND ${CURRENT_LABEL} IN (${marks(kinds.length)}))`);
    if (f.labels.includes('none')) parts.push(`${CURRENT_LABEL} IS NULL`);
    out.push({ sql: `(${parts.join(' OR ')})`, params: [...kinds, ...kinds] });
  }
  return out;
}

/** Conditions on run, step and prompt, on the alias given (t: trajectories, g: groups: both have run_id and step). */
function placeConditions(f: SearchFilters, alias: 't' | 'g'): SqlPart[] {
  const out: SqlPart[] = [];
  if (f.runs.length) out.push({ sql: `${alias}.run_id IN (${marks(f.runs.length)})`, params: [...f.runs] });
  if (f.steps.length) out.push({ sql: `(${f.steps.map(() => `${alias}.step BETWEEN ? AND ?`).join(' OR ')})`, params: f.steps.flatMap((s) => [s.from, s.to]) });
  if (f.prompts.length) {
    // groups_prompt index: the groups of those prompts, then their members by trajectories_group.
    const sql = alias === 'g' ? `g.prompt_id IN (${marks(f.prompts.length)})` : `t.group_id IN (SELECT id FROM groups WHERE prompt_id IN (${marks(f.prompts.length)}))`;
    out.push({ sql, params: [...f.prompts] });
  }
  return out;
}

function and(parts: SqlPart[]): SqlPart | null {
  if (!parts.length) return null;
  return { sql: parts.map((p) => p.sql).join(' AND '), params: parts.flatMap((p) => p.params) };
}

/** A WHERE fragment on trajectories (alias t); null when there are no filters. */
export function trajectoryFilterSql(f: SearchFilters): SqlPart | null {
  return and([...placeConditions(f, 't'), ...memberConditions(f)]);
}

/** A WHERE fragment on groups (alias g): the place filters, and a member passing the rest. */
export function groupFilterSql(f: SearchFilters): SqlPart | null {
  const members = and(memberConditions(f));
  const parts = placeConditions(f, 'g');
  if (members) parts.push({ sql: `EXISTS (SELECT 1 FROM trajectories t WHERE t.group_id = g.id AND ${members.sql})`, params: members.params });
  return and(parts);
}

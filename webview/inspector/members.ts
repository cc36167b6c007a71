// The member list: one compact row per member (source, verdict, extracted answer, D, R_total, A,
// a text preview), identical texts marked "same as #k". Every number is explained on hover/focus.
import { fmtNum, fmtSigned, signOf } from '../../src/core/format';
import { explainAdvantage, explainD, explainRTotal, type Explanation, type GroupFacts, type MemberFacts } from '../../src/core/explain';
import { LINT_LABELS } from '../../src/core/rescore';
import type { ReasoningFormat } from '../../src/core/reasoning';
import type { ViewMember } from '../../src/core/messages';
import { appendText, h, textEl } from '../shared/dom';
import { effectiveVerdict, loggedFacts, previewText, whatIfFacts, whatIfValue, type MemberRow, type WhatIf } from './model';
import { explain } from './popover';

export function badge(testid: string, key: string, value: string, cls = '', data: Record<string, string> = {}, title?: string): HTMLElement {
  const attrs: Record<string, string> = { class: `badge ${cls}`.trim(), 'data-testid': testid };
  for (const [k, v] of Object.entries(data)) attrs[`data-${k}`] = v;
  if (title) attrs.title = title;
  const el = h('span', attrs);
  if (key) el.appendChild(h('span', { class: 'k' }, key));
  appendText(el, value);
  return el;
}

export function numData(v: number | null | undefined): Record<string, string> {
  return { value: v === null || v === undefined ? '' : String(v) };
}

function signClass(v: number | null | undefined): string {
  const s = signOf(v ?? null);
  return s > 0 ? 'pos' : s < 0 ? 'neg' : 'zero';
}

export function verdictBadge(m: ViewMember): HTMLElement {
  const logged = m.event.verdict;
  const eff = effectiveVerdict(m);
  const cur = m.label.current;
  const pending = cur !== null && cur.id < 0;
  let text: string = eff;
  let title = `logged verdict: ${logged}${m.event.verdict_reason ? ` (${m.event.verdict_reason})` : ''}`;
  if (m.activeVerdict && m.activeVerdict.verdict !== logged) title += `; active verifier says ${m.activeVerdict.verdict}`;
  if (cur) {
    text = `${eff} ✎`;
    title += `; relabelled ${cur.label} by ${cur.author}${pending ? ' (saving…)' : ` at ${cur.createdAt}`}`;
  }
  return badge('badge-verdict', '', text, `verdict-${eff}${pending ? ' pending' : ''}`, { verdict: eff, logged, label: cur?.label ?? '', pending: String(pending) }, title);
}

export interface ValueSpec {
  testid: string;
  key: string;
  field: 'rOger' | 'rTotal' | 'advantage';
  logged: number | null | undefined;
  signed: boolean;
  explainLogged: () => Explanation;
  explainAfter: (() => Explanation) | null;
}

/** A logged value's badge and, under a what-if that changes it at display precision, the re-scored one. */
export function valueBadges(into: HTMLElement, spec: ValueSpec, w: WhatIf, row: MemberRow): void {
  const fmt = spec.signed ? (v: number | null | undefined) => fmtSigned(v) : (v: number | null | undefined) => fmtNum(v);
  into.appendChild(explain(badge(spec.testid, spec.key, fmt(spec.logged), spec.signed ? signClass(spec.logged) : '', numData(spec.logged)), spec.explainLogged));
  const change = w.byKey.get(row.member.trajectoryKey);
  const after = whatIfValue(w, change, spec.field, fmt);
  if (after === undefined) return;
  const flip = spec.field === 'advantage' && (change?.signFlip ?? false);
  const el = badge(`${spec.testid}-whatif`, '→', fmt(after), `whatif ${spec.signed ? signClass(after) : ''}${flip ? ' flip' : ''}`, { ...numData(after), flip: String(flip) });
  into.appendChild(spec.explainAfter ? explain(el, spec.explainAfter) : el);
}

export interface RowContext {
  w: WhatIf;
  logged: GroupFacts;
  after: GroupFacts;
  format: ReasoningFormat;
  duplicates: Map<number, number>;
  rows: readonly MemberRow[];
  selected: number;
}

export function afterFacts(row: MemberRow, w: WhatIf): MemberFacts | null {
  const change = w.byKey.get(row.member.trajectoryKey);
  return w.overridden && change ? whatIfFacts(row, change) : null;
}

export function renderRow(row: MemberRow, ctx: RowContext): HTMLElement {
  const m = row.member;
  const e = m.event;
  const selected = row.position === ctx.selected;
  const el = h('div', {
    class: `member ${row.source}${e.replaced ? ' replaced' : ''}${row.inFinalGroup ? '' : ' outside'}${selected ? ' selected' : ''}`,
    role: 'option',
    tabindex: selected ? 0 : -1,
    'aria-selected': String(selected),
    'data-testid': `member-${row.position}`,
    'data-trajectory-key': m.trajectoryKey,
    'data-trajectory-id': e.id,
    'data-source': row.source,
    'data-index': row.index,
  });
  const top = h('div', { class: 'member-title' });
  top.appendChild(textEl('span', { class: 'name' }, row.title));
  if (row.source === 'online' && e.replaced) {
    top.appendChild(textEl('span', { class: 'chip replaced', 'data-testid': 'chip-replaced' }, row.partner ? `replaced by ${row.partner.event.teacher ?? row.partner.event.id}` : 'replaced'));
  }
  if (row.source === 'offline' && row.inFinalGroup) top.appendChild(h('span', { class: 'chip inserted', 'data-testid': 'chip-inserted' }, row.partner ? `in slot of online #${row.partner.event.index ?? '?'}` : `in slot ${row.slot ?? '?'}`));
  if (row.source === 'offline' && !row.inFinalGroup) top.appendChild(h('span', { class: 'chip outside', 'data-testid': 'chip-outside' }, 'outside the group'));
  if (e.truncated) top.appendChild(h('span', { class: 'chip warn', 'data-testid': 'chip-truncated' }, 'truncated'));
  const dup = ctx.duplicates.get(row.position);
  if (dup !== undefined) {
    const of = ctx.rows[dup];
    top.appendChild(h('span', { class: 'chip same', 'data-testid': 'chip-same', 'data-same-as': dup, title: 'This response is character for character the same as that one.' }, `same as ${of ? of.title : `#${dup}`}`));
  }
  top.appendChild(h('span', { class: 'spacer' }));
  top.appendChild(verdictBadge(m));
  el.appendChild(top);

  const nums = h('div', { class: 'badges' });
  const answer = e.extracted_answer ?? null;
  const ans = textEl('code', { class: 'row-answer', 'data-testid': 'row-answer', title: 'the extracted final answer' }, answer === null ? '—' : answer.length > 24 ? `${answer.slice(0, 23)}…` : answer);
  nums.appendChild(ans);
  if (m.label.current?.label === 'hack') nums.appendChild(badge('badge-hack', '', 'reward hack', 'neg'));
  if (m.label.notes.length) nums.appendChild(badge('badge-notes', '✉', String(m.label.notes.length)));
  const logged = loggedFacts(row);
  const after = afterFacts(row, ctx.w);
  if (row.source === 'online') {
    nums.appendChild(explain(badge('badge-d', 'D', fmtNum(e.divergence), typeof e.divergence === 'number' && e.divergence > 1 ? 'warn' : '', numData(e.divergence)), () => explainD(logged, ctx.logged)));
  }
  valueBadges(nums, { testid: 'badge-rtotal', key: 'R_total', field: 'rTotal', logged: e.r_total, signed: false, explainLogged: () => explainRTotal(logged, ctx.logged), explainAfter: after ? () => explainRTotal(after, ctx.after) : null }, ctx.w, row);
  valueBadges(nums, { testid: 'badge-advantage', key: 'A', field: 'advantage', logged: e.advantage, signed: true, explainLogged: () => explainAdvantage(logged, ctx.logged), explainAfter: after ? () => explainAdvantage(after, ctx.after) : null }, ctx.w, row);
  if (m.lints.length) nums.appendChild(badge('badge-lints', '⚠', String(m.lints.length), 'warn', { count: String(m.lints.length) }, m.lints.map((l) => `${LINT_LABELS[l.kind] ?? l.kind}: ${l.message}`).join('\n')));
  el.appendChild(nums);
  el.appendChild(textEl('div', { class: 'preview muted', 'data-testid': 'row-preview' }, previewText(typeof e.text === 'string' ? e.text : '', ctx.format) || '(empty response)'));
  return el;
}

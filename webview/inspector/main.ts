// The trajectory inspector: one group, all its members, one trace at a time.
// Relabels are optimistic: the badge and the what-if re-score change at once, the host stores the
// label and answers labelSaved (the stored state) or labelFailed (the UI shows the stored label it carries).
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import baseCss from '../shared/base.css';
import inspectorCss from './inspector.css';
import { installStyles } from '../shared/styles';
import { h, textEl, clear, appendText } from '../shared/dom';
import { onHostMessage, post, vscodeApi } from '../shared/vscode';
import { reportAfterPaint } from '../shared/perf';
import { emptyState, errorState, loadingState } from '../shared/states';
import { fmtCount, fmtNum, fmtPercent, fmtSigned, signOf } from '../../src/core/format';
import { findAnswerSpan } from '../../src/core/answerSpans';
import { ENTROPY_LEVEL_BOUNDS } from '../../src/core/entropyRuns';
import { lineDiff, nearestByLines } from '../../src/core/lineDiff';
import { LINT_LABELS } from '../../src/core/rescore';
import type { HostToInspector, InspectorToHost, RelabelKind, ViewGroup, ViewMember } from '../../src/core/messages';
import { computeWhatIf, diffCandidates, effectiveVerdict, orderMembers, pendingLabel, type MemberRow, type WhatIf } from './model';
import { renderDiff, renderTrace } from './trace';

installStyles(baseCss + inspectorCss);

const app = document.getElementById('app') as HTMLElement;

interface State {
  group: ViewGroup | null;
  rows: MemberRow[];
  selected: number;
  heatmap: boolean;
  thinkOpen: boolean;
  diff: boolean;
  whatIf: WhatIf | null;
  /** label state to restore if the host refuses a pending relabel, by trajectory key */
  noteOpen: boolean;
}

const state: State = { group: null, rows: [], selected: 0, heatmap: false, thinkOpen: false, diff: false, whatIf: null, noteOpen: false };

function send(m: InspectorToHost): void {
  post(m);
}

/** What survives the page being re-created when its tab is hidden and shown again. */
interface SavedView {
  groupId: number;
  trajectoryKey: number | null;
  heatmap: boolean;
  diff: boolean;
  thinkOpen: boolean;
}

function saveView(): void {
  if (!state.group) return;
  const saved: SavedView = { groupId: state.group.groupId, trajectoryKey: currentRow()?.member.trajectoryKey ?? null, heatmap: state.heatmap, diff: state.diff, thinkOpen: state.thinkOpen };
  vscodeApi().setState(saved);
}

function savedView(groupId: number): SavedView | null {
  const s = vscodeApi().getState() as Partial<SavedView> | undefined;
  if (!s || s.groupId !== groupId) return null;
  return {
    groupId,
    trajectoryKey: typeof s.trajectoryKey === 'number' ? s.trajectoryKey : null,
    heatmap: s.heatmap === true,
    diff: s.diff === true,
    thinkOpen: s.thinkOpen === true,
  };
}

// --- header -----------------------------------------------------------------------------------

function badge(testid: string, key: string, value: string, cls = '', data: Record<string, string> = {}, title?: string): HTMLElement {
  const attrs: Record<string, string> = { class: `badge ${cls}`.trim(), 'data-testid': testid };
  for (const [k, v] of Object.entries(data)) attrs[`data-${k}`] = v;
  if (title) attrs.title = title;
  const el = h('span', attrs);
  if (key) el.appendChild(h('span', { class: 'k' }, key));
  appendText(el, value);
  return el;
}

function numData(v: number | null | undefined): Record<string, string> {
  return { value: v === null || v === undefined ? '' : String(v) };
}

function renderHeader(g: ViewGroup, w: WhatIf): HTMLElement {
  const head = h('header', { class: 'group-head', 'data-testid': 'group-header', 'data-group-id': g.groupId });
  const title = h('h1', {}, `Step ${g.step} · prompt `);
  title.appendChild(textEl('span', { class: 'mono', 'data-testid': 'prompt-id' }, g.promptId));
  head.appendChild(title);
  const meta = h('div', { class: 'badges' });
  meta.appendChild(badge('badge-run', 'run', g.runId));
  meta.appendChild(badge('badge-variant', '', g.variant.toUpperCase()));
  meta.appendChild(badge('badge-accuracy', 'acc', fmtPercent(g.accuracy), '', numData(g.accuracy)));
  meta.appendChild(badge('badge-mean-roger', 'R_OGER μ', fmtNum(g.meanROger), '', numData(g.meanROger)));
  if (g.zeroStd) meta.appendChild(badge('badge-zero-std', '', 'zero std: no signal', 'warn'));
  for (const l of g.lints.filter((x) => x.trajectoryId === null)) meta.appendChild(badge('badge-group-lint', '⚠', LINT_LABELS[l.kind] ?? l.kind, 'warn', {}, l.message));
  head.appendChild(meta);
  const summary = h('p', { class: 'whatif-summary', 'data-testid': 'whatif-summary', 'data-sign-flips': w.signFlips, 'data-overridden': String(w.overridden) });
  if (w.error) summary.append(`What-if unavailable: ${w.error}`);
  else if (!w.overridden) summary.append('What-if: no relabels yet. Press c / w / h on a member to re-score the group.');
  else summary.append(`What-if with your labels: ${w.signFlips} advantage sign flip${w.signFlips === 1 ? '' : 's'}${w.replacementChanged ? '; the replaced member changes' : ''}.`);
  head.appendChild(summary);
  const prompt = h('details', { class: 'prompt', 'data-testid': 'prompt' }, h('summary', {}, `Prompt (${fmtCount(g.prompt.length)} characters)`));
  prompt.appendChild(textEl('div', { class: 'prompt-text mono' }, g.prompt));
  head.appendChild(prompt);
  const gold = h('div', { class: 'gold-line' }, h('span', { class: 'muted' }, 'Gold answer '));
  gold.appendChild(textEl('code', { class: 'gold', 'data-testid': 'gold' }, g.gold));
  head.appendChild(gold);
  return head;
}

// --- member cards -----------------------------------------------------------------------------

function verdictBadge(m: ViewMember): HTMLElement {
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
  return badge('badge-verdict', '', text, `verdict-${eff}${pending ? ' pending' : ''}`, {
    verdict: eff,
    logged,
    label: cur?.label ?? '',
    pending: String(pending),
  }, title);
}

function valueWithWhatIf(card: HTMLElement, testid: string, key: string, logged: number | null | undefined, after: number | null | undefined, signed: boolean, flip: boolean, overridden: boolean): void {
  const fmt = signed ? fmtSigned : fmtNum;
  const sign = signOf(logged ?? null);
  const cls = signed ? (sign > 0 ? 'pos' : sign < 0 ? 'neg' : 'zero') : '';
  card.appendChild(badge(testid, key, fmt(logged), cls, numData(logged), `${key} as logged`));
  const changed = overridden && after !== undefined && (after ?? null) !== (logged ?? null) && !(typeof after === 'number' && typeof logged === 'number' && Math.abs(after - logged) < 1e-9);
  if (changed) {
    const s2 = signOf(after ?? null);
    const cls2 = signed ? (s2 > 0 ? 'pos' : s2 < 0 ? 'neg' : 'zero') : '';
    card.appendChild(badge(`${testid}-whatif`, '→', fmt(after), `whatif ${cls2}${flip ? ' flip' : ''}`, { ...numData(after), flip: String(flip) }, `${key} re-scored with your labels${flip ? ': the sign flips' : ''}`));
  }
}

function renderCard(row: MemberRow, w: WhatIf): HTMLElement {
  const m = row.member;
  const e = m.event;
  const selected = row.position === state.selected;
  const card = h('div', {
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
  const titleRow = h('div', { class: 'member-title' });
  titleRow.appendChild(textEl('span', { class: 'name' }, row.title));
  if (row.source === 'online' && e.replaced) {
    titleRow.appendChild(textEl('span', { class: 'chip replaced', 'data-testid': 'chip-replaced' }, row.partner ? `replaced by ${row.partner.event.teacher ?? row.partner.event.id}` : 'replaced'));
  }
  if (row.source === 'offline' && row.inFinalGroup) titleRow.appendChild(h('span', { class: 'chip inserted', 'data-testid': 'chip-inserted' }, row.partner ? `in slot of online #${row.partner.event.index ?? '?'}` : `in slot ${row.slot ?? '?'}`));
  if (row.source === 'offline' && !row.inFinalGroup) titleRow.appendChild(h('span', { class: 'chip outside', 'data-testid': 'chip-outside' }, 'outside the group'));
  if (e.truncated) titleRow.appendChild(h('span', { class: 'chip warn', 'data-testid': 'chip-truncated' }, 'truncated'));
  card.appendChild(titleRow);
  const badges = h('div', { class: 'badges' });
  badges.appendChild(verdictBadge(m));
  if (m.label.current?.label === 'hack') badges.appendChild(badge('badge-hack', '', 'reward hack', 'neg'));
  if (m.label.notes.length) badges.appendChild(badge('badge-notes', '✉', String(m.label.notes.length)));
  const change = w.byKey.get(m.trajectoryKey);
  if (row.source === 'online') {
    badges.appendChild(badge('badge-d', 'D', fmtNum(e.divergence), typeof e.divergence === 'number' && e.divergence > 1 ? 'warn' : '', numData(e.divergence)));
    badges.appendChild(badge('badge-hlast', 'H_last', fmtNum(e.entropy_last), '', numData(e.entropy_last)));
    const expH = typeof e.entropy_last === 'number' ? Math.exp(-e.entropy_last) : null;
    badges.appendChild(badge('badge-exph', 'exp(−H)', fmtNum(expH), '', numData(expH)));
    valueWithWhatIf(badges, 'badge-roger', 'R_OGER', e.r_oger, change?.after.rOger, false, false, w.overridden);
  }
  valueWithWhatIf(badges, 'badge-rtotal', 'R', e.r_total, change?.after.rTotal, false, false, w.overridden);
  valueWithWhatIf(badges, 'badge-advantage', 'A', e.advantage, change?.after.advantage, true, change?.signFlip ?? false, w.overridden);
  const lints = m.lints;
  if (lints.length) badges.appendChild(badge('badge-lints', '⚠', lints.map((l) => LINT_LABELS[l.kind] ?? l.kind).join(', '), 'warn', { count: String(lints.length) }, lints.map((l) => l.message).join('\n')));
  card.appendChild(badges);
  card.addEventListener('click', () => select(row.position));
  return card;
}

// --- detail pane ------------------------------------------------------------------------------

function toggleButton(testid: string, label: string, pressed: boolean, onClick: () => void): HTMLElement {
  const b = document.createElement('vscode-button');
  b.setAttribute('data-testid', testid);
  b.setAttribute('aria-pressed', String(pressed));
  if (!pressed) b.setAttribute('secondary', '');
  b.textContent = label;
  b.addEventListener('click', onClick);
  return b;
}

function actionButton(testid: string, label: string, onClick: () => void): HTMLElement {
  const b = document.createElement('vscode-button');
  b.setAttribute('data-testid', testid);
  b.setAttribute('secondary', '');
  b.textContent = label;
  b.addEventListener('click', onClick);
  return b;
}

let detailEl: HTMLElement | null = null;
let membersEl: HTMLElement | null = null;
let headerEl: HTMLElement | null = null;

function currentRow(): MemberRow | undefined {
  return state.rows[state.selected];
}

function renderDetail(withTrace = true): HTMLElement {
  const row = currentRow();
  const detail = h('section', { class: 'detail', 'data-testid': 'detail', 'aria-live': 'off' });
  if (!row || !state.group) return detail;
  const m = row.member;
  const e = m.event;
  const head = h('div', { class: 'detail-head' });
  head.appendChild(textEl('h2', { 'data-testid': 'detail-title' }, `${row.title} · ${e.id}`));
  const cmp = h('div', { class: 'answer-compare', 'data-testid': 'answer-compare' });
  cmp.appendChild(h('span', { class: 'muted' }, 'extracted '));
  cmp.appendChild(textEl('code', { class: 'extracted', 'data-testid': 'extracted-answer' }, e.extracted_answer ?? '—'));
  cmp.appendChild(h('span', { class: 'muted' }, ' gold '));
  cmp.appendChild(textEl('code', { class: 'gold' }, state.group.gold));
  if (e.verdict_reason) {
    cmp.appendChild(h('span', { class: 'muted' }, ' · '));
    cmp.appendChild(textEl('span', { class: 'muted', 'data-testid': 'verdict-reason' }, e.verdict_reason));
  }
  head.appendChild(cmp);
  detail.appendChild(head);

  const bar = h('div', { class: 'toolbar', role: 'toolbar' });
  bar.appendChild(toggleButton('heatmap-toggle', 'Entropy heatmap', state.heatmap, () => setHeatmap(!state.heatmap)));
  bar.appendChild(toggleButton('diff-toggle', 'Diff vs nearest teacher', state.diff, () => setDiff(!state.diff)));
  bar.appendChild(toggleButton('think-toggle-all', state.thinkOpen ? 'Fold reasoning' : 'Unfold reasoning', state.thinkOpen, () => setThinkOpen(!state.thinkOpen)));
  bar.appendChild(actionButton('relabel-correct', 'Correct (c)', () => relabel('correct')));
  bar.appendChild(actionButton('relabel-wrong', 'Wrong (w)', () => relabel('wrong')));
  bar.appendChild(actionButton('relabel-hack', 'Hack (h)', () => relabel('hack')));
  bar.appendChild(actionButton('note-button', 'Note (n)', () => openNote()));
  bar.appendChild(actionButton('open-document', 'Open as document', () => send({ type: 'openDocument', trajectoryKey: m.trajectoryKey })));
  detail.appendChild(bar);
  detail.appendChild(
    h('p', { class: 'keys muted' }, h('span', { class: 'kbd' }, 'j'), ' / ', h('span', { class: 'kbd' }, 'k'), ' member · ', h('span', { class: 'kbd' }, 'c'), ' correct · ', h('span', { class: 'kbd' }, 'w'), ' wrong · ', h('span', { class: 'kbd' }, 'h'), ' hack · ', h('span', { class: 'kbd' }, 'n'), ' note'),
  );

  const noteEditor = h('div', { class: 'note-editor', 'data-testid': 'note-editor' });
  noteEditor.hidden = !state.noteOpen;
  const field = document.createElement('vscode-textfield') as HTMLElement & { value: string };
  field.setAttribute('data-testid', 'note-input');
  field.setAttribute('placeholder', 'Note on this trajectory — Enter saves, Escape cancels');
  field.setAttribute('maxlength', '4000');
  field.addEventListener('keydown', (ev: KeyboardEvent) => {
    ev.stopPropagation();
    if (ev.key === 'Enter') {
      const text = String(field.value ?? '').trim();
      if (text) send({ type: 'note', groupId: state.group!.groupId, trajectoryKey: m.trajectoryKey, text });
      closeNote();
    } else if (ev.key === 'Escape') closeNote();
  });
  noteEditor.appendChild(field);
  detail.appendChild(noteEditor);

  if (m.label.notes.length) {
    const notes = h('ul', { class: 'notes', 'data-testid': 'notes' });
    for (const n of m.label.notes) {
      const li = h('li', { 'data-testid': 'note' });
      li.appendChild(textEl('span', { class: 'muted' }, `${n.author} · ${n.createdAt.replace('T', ' ').slice(0, 16)} — `));
      appendText(li, n.note ?? '');
      notes.appendChild(li);
    }
    detail.appendChild(notes);
  }

  const traceHolder = h('div', { class: 'trace', 'data-testid': 'trace', 'data-trajectory-key': m.trajectoryKey });
  detail.appendChild(traceHolder);
  if (withTrace) fillTrace(traceHolder, row);
  return detail;
}

function heatLegend(dropped: number, hasEntropies: boolean): HTMLElement {
  const legend = h('div', { class: 'heat-legend', 'data-testid': 'heatmap-legend' });
  if (!hasEntropies) {
    legend.append('No token entropies were logged for this trajectory.');
    return legend;
  }
  legend.append('token entropy (nats): ');
  let lo = 0;
  ENTROPY_LEVEL_BOUNDS.forEach((b, i) => {
    legend.appendChild(h('span', { class: `heat h${i} swatch` }, `${lo}–${b}`));
    lo = b;
  });
  legend.appendChild(h('span', { class: `heat h${ENTROPY_LEVEL_BOUNDS.length} swatch` }, `> ${lo}`));
  if (dropped) legend.appendChild(h('span', { class: 'muted' }, ` · ${dropped} malformed entropy entries skipped`));
  return legend;
}

function fillTrace(holder: HTMLElement, row: MemberRow): void {
  const e = row.member.event;
  if (state.diff) {
    const candidates = diffCandidates(state.group!, row.member);
    const best = nearestByLines(e.text, candidates.map((c) => ({ text: c.event.text, member: c })));
    if (!best) {
      holder.appendChild(h('p', { class: 'muted', 'data-testid': 'diff-unavailable' }, 'No other teacher trajectory in this group to compare with.'));
      return;
    }
    const teacher = best.candidate.member;
    const diff = lineDiff(teacher.event.text, e.text);
    holder.appendChild(renderDiff(diff, teacher.event.teacher ? `teacher ${teacher.event.teacher}` : `teacher ${teacher.event.id}`));
    return;
  }
  const t0 = performance.now();
  const te = e.token_entropies;
  const answer = findAnswerSpan(e.text, e.extracted_answer ?? null);
  const r = renderTrace(
    { text: e.text, answer, heatmap: state.heatmap, thinkOpen: state.thinkOpen, offsets: te?.offsets, values: te?.values },
    { onComplete: () => reportAfterPaint('inspector', 'traceComplete', t0, e.text.length) },
  );
  r.onThinkToggle = (open) => { state.thinkOpen = open; saveView(); };
  if (state.heatmap) holder.appendChild(heatLegend(r.droppedEntropies, !!te && Array.isArray(te.offsets) && te.offsets.length > 0));
  holder.appendChild(r.element);
}

function rerenderDetail(what: 'trace' | 'heatmap' | 'diff' | null): void {
  const t0 = performance.now();
  const fresh = renderDetail();
  detailEl?.replaceWith(fresh);
  detailEl = fresh;
  if (what) reportAfterPaint('inspector', what, t0, currentRow()?.member.event.text.length ?? 0);
}

function rerenderCards(): void {
  if (!state.group || !membersEl) return;
  state.whatIf = computeWhatIf(state.group);
  const fresh = renderMembers(state.whatIf);
  membersEl.replaceWith(fresh);
  membersEl = fresh;
  const head = renderHeader(state.group, state.whatIf);
  headerEl?.replaceWith(head);
  headerEl = head;
}

function renderMembers(w: WhatIf): HTMLElement {
  const list = h('div', { class: 'members', role: 'listbox', 'aria-label': 'Group members', 'data-testid': 'members' });
  for (const row of state.rows) list.appendChild(renderCard(row, w));
  return list;
}

// --- actions ----------------------------------------------------------------------------------

function select(position: number): void {
  if (!state.rows.length) return;
  const next = Math.max(0, Math.min(state.rows.length - 1, position));
  if (next === state.selected && detailEl) return;
  state.selected = next;
  state.noteOpen = false;
  membersEl?.querySelectorAll('.member').forEach((el) => {
    const on = el.getAttribute('data-testid') === `member-${next}`;
    el.classList.toggle('selected', on);
    el.setAttribute('aria-selected', String(on));
    el.setAttribute('tabindex', on ? '0' : '-1');
    if (on) (el as HTMLElement).scrollIntoView({ block: 'nearest', inline: 'nearest' });
  });
  rerenderDetail('trace');
  saveView();
}

function setHeatmap(on: boolean): void {
  state.heatmap = on;
  if (on) state.diff = false;
  rerenderToolbarAndTrace('heatmap');
}

function setDiff(on: boolean): void {
  state.diff = on;
  if (on) state.heatmap = false;
  rerenderToolbarAndTrace('diff');
}

function setThinkOpen(open: boolean): void {
  state.thinkOpen = open;
  rerenderToolbarAndTrace('trace');
}

function rerenderToolbarAndTrace(what: 'trace' | 'heatmap' | 'diff'): void {
  // The toolbar's pressed states change too; rebuilding the pane is cheap next to the trace.
  rerenderDetail(what);
  saveView();
}

function relabel(label: RelabelKind): void {
  const row = currentRow();
  const g = state.group;
  if (!row || !g) return;
  const m = row.member;
  m.label = pendingLabel(m.label, label);
  rerenderCards();
  send({ type: 'relabel', groupId: g.groupId, trajectoryKey: m.trajectoryKey, label });
}

function openNote(): void {
  state.noteOpen = true;
  const editor = detailEl?.querySelector<HTMLElement>('[data-testid="note-editor"]');
  if (!editor) return;
  editor.hidden = false;
  const field = editor.querySelector<HTMLElement>('vscode-textfield');
  // The custom element renders its inner input asynchronously; focus once it exists.
  requestAnimationFrame(() => field?.focus());
}

function closeNote(): void {
  state.noteOpen = false;
  const editor = detailEl?.querySelector<HTMLElement>('[data-testid="note-editor"]');
  if (editor) editor.hidden = true;
  detailEl?.closest('body')?.focus();
  (membersEl?.querySelector('.member.selected') as HTMLElement | null)?.focus();
}

function memberByKey(key: number): ViewMember | undefined {
  return state.group?.trajectories.find((t) => t.trajectoryKey === key);
}

// --- host messages ----------------------------------------------------------------------------

function showGroup(g: ViewGroup, focusKey: number | null, t0: number): void {
  const saved = savedView(g.groupId);
  if (saved) {
    state.heatmap = saved.heatmap;
    state.diff = saved.diff;
    state.thinkOpen = saved.thinkOpen;
  }
  const keepSelection = state.group?.groupId === g.groupId ? currentRow()?.member.trajectoryKey : saved?.trajectoryKey ?? undefined;
  state.group = g;
  state.rows = orderMembers(g);
  state.noteOpen = false;
  const want = focusKey ?? keepSelection ?? null;
  const at = want === null ? -1 : state.rows.findIndex((r) => r.member.trajectoryKey === want);
  state.selected = at >= 0 ? at : 0;
  state.whatIf = computeWhatIf(g);
  clear(app);
  if (state.rows.length === 0) {
    app.appendChild(emptyState('This group has no trajectories', 'The group event was stored without members.'));
    return;
  }
  headerEl = renderHeader(g, state.whatIf);
  membersEl = renderMembers(state.whatIf);
  detailEl = renderDetail();
  app.append(headerEl, membersEl, detailEl);
  app.setAttribute('data-group-id', String(g.groupId));
  saveView();
  reportAfterPaint('inspector', 'group', t0, currentRow()?.member.event.text.length ?? 0);
}

onHostMessage<HostToInspector>((msg) => {
  const t0 = performance.now();
  switch (msg.type) {
    case 'loading':
      clear(app);
      app.appendChild(loadingState('group'));
      break;
    case 'empty':
      state.group = null;
      clear(app);
      app.appendChild(emptyState('No group to inspect', msg.reason));
      break;
    case 'error':
      state.group = null;
      clear(app);
      app.appendChild(errorState('The group could not be shown', msg.message));
      break;
    case 'group':
      showGroup(msg.group, msg.focusTrajectoryKey, t0);
      break;
    case 'labelSaved':
    case 'labelFailed': {
      const m = memberByKey(msg.trajectoryKey);
      if (!m) break;
      m.label = msg.label;
      rerenderCards();
      if (msg.type === 'labelFailed') {
        const banner = h('div', { class: 'banner error', role: 'alert', 'data-testid': 'label-error' });
        appendText(banner, `The label was not saved: ${msg.message}`);
        headerEl?.appendChild(banner);
      }
      if (currentRow()?.member.trajectoryKey === msg.trajectoryKey) {
        // notes may have changed; the trace is untouched
        const fresh = renderDetailKeepingTrace();
        if (fresh) detailEl = fresh;
      }
      break;
    }
  }
});

/** Re-renders the detail pane's head and notes but moves the existing trace element across. */
function renderDetailKeepingTrace(): HTMLElement | null {
  if (!detailEl) return null;
  const oldTrace = detailEl.querySelector('[data-testid="trace"]');
  if (!currentRow()) return null;
  const fresh = renderDetail(false);
  if (oldTrace) fresh.querySelector('[data-testid="trace"]')?.replaceWith(oldTrace);
  detailEl.replaceWith(fresh);
  return fresh;
}

// --- keyboard ---------------------------------------------------------------------------------

function typingIn(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el || !el.tagName) return false;
  const tag = el.tagName.toLowerCase();
  return tag === 'input' || tag === 'textarea' || tag === 'vscode-textfield' || tag === 'vscode-textarea' || el.isContentEditable;
}

document.addEventListener('keydown', (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || typingIn(ev.target) || !state.group) return;
  switch (ev.key) {
    case 'j': case 'ArrowDown': select(state.selected + 1); break;
    case 'k': case 'ArrowUp': select(state.selected - 1); break;
    case 'c': relabel('correct'); break;
    case 'w': relabel('wrong'); break;
    case 'h': relabel('hack'); break;
    case 'n': openNote(); break;
    case 'Escape': if (state.noteOpen) closeNote(); break;
    default: return;
  }
  ev.preventDefault();
});

clear(app);
app.appendChild(loadingState('group'));
send({ type: 'ready' });

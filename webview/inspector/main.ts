// The trajectory inspector: one group. A compact member list beside a trace pane that always shows
// the selected member (stacked when the panel is narrow). Every number explains itself on hover or
// focus. Long traces get find (Ctrl/Cmd+F, searching folded text too) and a position bar.
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
import { fmtCount, fmtNum, fmtPercent } from '../../src/core/format';
import { findAnswerSpan } from '../../src/core/answerSpans';
import { ENTROPY_LEVEL_BOUNDS } from '../../src/core/entropyRuns';
import { lineDiff, nearestByLines } from '../../src/core/lineDiff';
import { LINT_LABELS } from '../../src/core/rescore';
import { detectFormat, formatLabel, splitReasoning, type ReasoningFormat } from '../../src/core/reasoning';
import { repetitionReport, type RepetitionReport } from '../../src/core/repetition';
import { explainAll, type Explanation } from '../../src/core/explain';
import type { HostToInspector, InspectorHistory, InspectorToHost, RelabelKind, ViewGroup, ViewMember } from '../../src/core/messages';
import { computeWhatIf, diffCandidates, duplicatesOf, groupFacts, loggedFacts, orderMembers, pendingLabel, type MemberRow, type WhatIf } from './model';
import { renderDiff, renderTrace, afterPendingChunks, type TraceHandle } from './trace';
import { afterFacts, badge, numData, renderRow, valueBadges, verdictBadge, type RowContext } from './members';
import { explain, explanationShown, hideExplanation } from './popover';
import { FindBar } from './find';
import { createPosBar, type PosBar } from './posbar';
import { loadRenderer } from './renderLoader';
import { scrollIntoScroller } from './scrolling';
import type { TraceRenderer } from '../shared/renderer';

installStyles(baseCss + inspectorCss);

const app = document.getElementById('app') as HTMLElement;

interface State {
  group: ViewGroup | null;
  rows: MemberRow[];
  selected: number;
  heatmap: boolean;
  reasoningOpen: boolean;
  diff: boolean;
  /** Markdown/LaTeX rendering of the trace */
  render: boolean;
  whatIf: WhatIf | null;
  noteOpen: boolean;
  format: ReasoningFormat;
  duplicates: Map<number, number>;
  history: InspectorHistory;
}

const state: State = {
  group: null, rows: [], selected: 0, heatmap: false, reasoningOpen: false, diff: false, render: false, whatIf: null, noteOpen: false,
  format: 'think', duplicates: new Map(), history: { back: false, forward: false },
};

let renderer: TraceRenderer | null = null;

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
  render: boolean | null;
}

function saveView(): void {
  if (!state.group) return;
  const saved: SavedView = { groupId: state.group.groupId, trajectoryKey: currentRow()?.member.trajectoryKey ?? null, heatmap: state.heatmap, diff: state.diff, thinkOpen: state.reasoningOpen, render: state.render };
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
    render: typeof s.render === 'boolean' ? s.render : null,
  };
}

function currentRow(): MemberRow | undefined {
  return state.rows[state.selected];
}

function rowContext(): RowContext {
  const g = state.group as ViewGroup;
  const w = state.whatIf as WhatIf;
  const logged = { ...groupFacts(g, state.rows, w), encoder: g.encoder ?? null };
  const after = { ...groupFacts(g, state.rows, w, true), encoder: g.encoder ?? null };
  return { w, logged, after, format: state.format, duplicates: state.duplicates, rows: state.rows, selected: state.selected };
}

// --- header -----------------------------------------------------------------------------------

function navButton(testid: string, label: string, title: string, enabled: boolean, direction: 'back' | 'forward'): HTMLElement {
  const b = h('button', { type: 'button', class: 'icon-button nav', 'data-testid': testid, title, 'aria-label': title, disabled: !enabled }, label);
  b.addEventListener('click', () => navigate(direction));
  return b;
}

function groupExplanation(key: 'acc' | 'roger', g: ViewGroup): Explanation {
  const online = g.trajectories.filter((t) => t.event.source === 'online');
  if (key === 'acc') {
    const correct = online.filter((t) => t.event.verdict === 'correct').length;
    return { key: 'rm', title: 'acc: accuracy of the online samples', formula: 'acc = correct online / online', arithmetic: `acc = ${correct} / ${online.length} = ${fmtPercent(g.accuracy)}`, notes: ['By the logged verdicts; replaced members count (they were sampled). Teachers do not count.'] };
  }
  return { key: 'roger', title: 'R_OGER μ: mean exploration reward', formula: 'R_OGER μ = mean R_OGER over the correct online members', arithmetic: `R_OGER μ = ${fmtNum(g.meanROger)}`, notes: ['Wrong answers earn no exploration reward and are left out of the mean.'] };
}

function renderHeader(g: ViewGroup, w: WhatIf): HTMLElement {
  const head = h('header', { class: 'group-head', 'data-testid': 'group-header', 'data-group-id': g.groupId });
  const top = h('div', { class: 'head-row' });
  top.appendChild(h('div', { class: 'nav-buttons', role: 'toolbar', 'aria-label': 'History' },
    navButton('nav-back', '←', 'Back (Alt+←)', state.history.back, 'back'),
    navButton('nav-forward', '→', 'Forward (Alt+→)', state.history.forward, 'forward')));
  const title = h('h1', {}, `Step ${g.step} · prompt `);
  title.appendChild(textEl('span', { class: 'mono', 'data-testid': 'prompt-id' }, g.promptId));
  top.appendChild(title);
  const meta = h('div', { class: 'badges' });
  meta.appendChild(badge('badge-run', 'run', g.runId));
  meta.appendChild(badge('badge-variant', '', g.variant.toUpperCase()));
  meta.appendChild(explain(badge('badge-accuracy', 'acc', fmtPercent(g.accuracy), '', numData(g.accuracy)), () => groupExplanation('acc', g)));
  meta.appendChild(explain(badge('badge-mean-roger', 'R_OGER μ', fmtNum(g.meanROger), '', numData(g.meanROger)), () => groupExplanation('roger', g)));
  meta.appendChild(badge('badge-format', '', state.format === 'none' ? 'no reasoning markers' : state.format === 'think' ? '<think>' : 'SkyThought', '', { format: state.format }, `Reasoning split by ${formatLabel(state.format)} (setting rewardLens.reasoning.format)`));
  if (g.zeroStd) meta.appendChild(badge('badge-zero-std', '', 'zero std: no signal', 'warn'));
  for (const l of g.lints.filter((x) => x.trajectoryId === null)) meta.appendChild(badge('badge-group-lint', '⚠', LINT_LABELS[l.kind] ?? l.kind, 'warn', {}, l.message));
  top.appendChild(meta);
  head.appendChild(top);
  head.appendChild(
    h('p', { class: 'help muted', 'data-testid': 'inspector-help' },
      'One prompt\'s group: each row is a sampled response (online) or a teacher trajectory (offline), and the selected one\'s trace is beside it. Hover or focus a number for its formula. ',
      h('span', { class: 'kbd' }, 'j'), '/', h('span', { class: 'kbd' }, 'k'), ' move · ', h('span', { class: 'kbd' }, 'Ctrl+F'), ' find · ', h('span', { class: 'kbd' }, 'Alt+←'), '/', h('span', { class: 'kbd' }, '→'), ' back/forward'),
  );
  const summary = h('p', { class: 'whatif-summary', 'data-testid': 'whatif-summary', 'data-sign-flips': w.signFlips, 'data-overridden': String(w.overridden) });
  if (w.error) summary.append(`What-if unavailable: ${w.error}`);
  else if (!w.overridden) summary.append('What-if: no relabels yet. Press c / w / h on a member to re-score the group.');
  else summary.append(`What-if with your labels: ${w.signFlips} advantage sign flip${w.signFlips === 1 ? '' : 's'}${w.replacementChanged ? '; the replaced member changes' : ''}. An arrow shows a value that changes.`);
  head.appendChild(summary);
  const pg = h('div', { class: 'prompt-line' });
  const prompt = h('details', { class: 'prompt', 'data-testid': 'prompt' }, h('summary', {}, `Prompt (${fmtCount(g.prompt.length)} characters)`));
  prompt.appendChild(textEl('div', { class: 'prompt-text mono' }, g.prompt));
  pg.appendChild(prompt);
  const gold = h('div', { class: 'gold-line' }, h('span', { class: 'muted' }, 'Gold answer '));
  gold.appendChild(textEl('code', { class: 'gold', 'data-testid': 'gold' }, g.gold));
  pg.appendChild(gold);
  head.appendChild(pg);
  return head;
}

// --- detail pane ------------------------------------------------------------------------------

function toggleButton(testid: string, label: string, pressed: boolean, onClick: () => void, title?: string): HTMLElement {
  const b = document.createElement('vscode-button');
  b.setAttribute('data-testid', testid);
  b.setAttribute('aria-pressed', String(pressed));
  if (title) b.setAttribute('title', title);
  if (!pressed) b.setAttribute('secondary', '');
  b.textContent = label;
  b.addEventListener('click', onClick);
  return b;
}

function actionButton(testid: string, label: string, onClick: () => void, title?: string): HTMLElement {
  const b = document.createElement('vscode-button');
  b.setAttribute('data-testid', testid);
  b.setAttribute('secondary', '');
  if (title) b.setAttribute('title', title);
  b.textContent = label;
  b.addEventListener('click', onClick);
  return b;
}

let headerEl: HTMLElement | null = null;
let membersEl: HTMLElement | null = null;
let detailEl: HTMLElement | null = null;
let detailHeadEl: HTMLElement | null = null;
let traceWrapEl: HTMLElement | null = null;
let traceScroller: HTMLElement | null = null;
let traceHandle: TraceHandle | null = null;
let posbar: PosBar | null = null;
const repetitionByKey = new Map<number, RepetitionReport>();

const findBar = new FindBar({
  text: () => currentRow()?.member.event.text ?? '',
  handle: () => (state.diff ? null : traceHandle),
  scroller: () => traceScroller,
  posbar: () => posbar,
  viewOffset: () => viewportSpan()?.start ?? 0,
});

function memberBadges(row: MemberRow): HTMLElement {
  const m = row.member;
  const e = m.event;
  const ctx = rowContext();
  const logged = loggedFacts(row);
  const after = afterFacts(row, ctx.w);
  const ex = explainAll(logged, ctx.logged);
  const exAfter = after ? explainAll(after, ctx.after) : null;
  const bar = h('div', { class: 'badges detail-badges', 'data-testid': 'detail-badges' });
  bar.appendChild(verdictBadge(m));
  bar.appendChild(explain(badge('detail-rm', 'R_m', typeof e.r_m === 'number' ? String(e.r_m) : '—', '', numData(e.r_m)), ex.rm));
  if (row.source === 'online') {
    bar.appendChild(explain(badge('detail-d', 'D', fmtNum(e.divergence), typeof e.divergence === 'number' && e.divergence > 1 ? 'warn' : '', numData(e.divergence)), ex.d));
    bar.appendChild(explain(badge('detail-hlast', 'H_last', fmtNum(e.entropy_last), '', numData(e.entropy_last)), ex.hlast));
    const expH = typeof e.entropy_last === 'number' ? Math.exp(-e.entropy_last) : null;
    bar.appendChild(explain(badge('detail-exph', 'exp(−H_last)', fmtNum(expH), '', numData(expH)), ex.exph));
    valueBadges(bar, { testid: 'detail-roger', key: 'R_OGER', field: 'rOger', logged: e.r_oger, signed: false, explainLogged: () => ex.roger, explainAfter: exAfter ? () => exAfter.roger : null }, ctx.w, row);
  }
  valueBadges(bar, { testid: 'detail-rtotal', key: 'R_total', field: 'rTotal', logged: e.r_total, signed: false, explainLogged: () => ex.rtotal, explainAfter: exAfter ? () => exAfter.rtotal : null }, ctx.w, row);
  valueBadges(bar, { testid: 'detail-advantage', key: 'A', field: 'advantage', logged: e.advantage, signed: true, explainLogged: () => ex.advantage, explainAfter: exAfter ? () => exAfter.advantage : null }, ctx.w, row);
  if (m.lints.length) bar.appendChild(badge('detail-lints', '⚠', m.lints.map((l) => LINT_LABELS[l.kind] ?? l.kind).join(', '), 'warn', { count: String(m.lints.length) }, m.lints.map((l) => l.message).join('\n')));
  return bar;
}

function renderDetailHead(row: MemberRow): HTMLElement {
  const m = row.member;
  const e = m.event;
  const g = state.group as ViewGroup;
  const head = h('div', { class: 'detail-head' });
  const titleRow = h('div', { class: 'detail-title-row' });
  titleRow.appendChild(textEl('h2', { 'data-testid': 'detail-title' }, `${row.title} · ${e.id}`));
  const cmp = h('div', { class: 'answer-compare', 'data-testid': 'answer-compare' });
  cmp.appendChild(h('span', { class: 'muted' }, 'extracted '));
  cmp.appendChild(textEl('code', { class: 'extracted', 'data-testid': 'extracted-answer' }, e.extracted_answer ?? '—'));
  cmp.appendChild(h('span', { class: 'muted' }, ' gold '));
  cmp.appendChild(textEl('code', { class: 'gold' }, g.gold));
  if (e.verdict_reason) {
    cmp.appendChild(h('span', { class: 'muted' }, ' · '));
    cmp.appendChild(textEl('span', { class: 'muted', 'data-testid': 'verdict-reason' }, e.verdict_reason));
  }
  titleRow.appendChild(cmp);
  head.appendChild(titleRow);
  head.appendChild(memberBadges(row));

  const text = typeof e.text === 'string' ? e.text : '';
  const hasReasoning = splitReasoning(text, state.format).reasoning !== null;
  const bar = h('div', { class: 'toolbar', role: 'toolbar' });
  bar.appendChild(toggleButton('heatmap-toggle', 'Entropy heatmap', state.heatmap, () => setHeatmap(!state.heatmap)));
  bar.appendChild(toggleButton('diff-toggle', 'Diff vs nearest teacher', state.diff, () => setDiff(!state.diff)));
  if (hasReasoning) bar.appendChild(toggleButton('think-toggle-all', state.reasoningOpen ? 'Fold reasoning' : 'Unfold reasoning', state.reasoningOpen, () => setReasoningOpen(!state.reasoningOpen)));
  bar.appendChild(toggleButton('render-toggle', 'Markdown/LaTeX', state.render, () => setRender(!state.render), 'Render the trace as Markdown with LaTeX (KaTeX); the heatmap and the diff show the raw text'));
  bar.appendChild(actionButton('find-button', 'Find (Ctrl+F)', () => findBar.open()));
  bar.appendChild(actionButton('relabel-correct', 'Correct (c)', () => relabel('correct')));
  bar.appendChild(actionButton('relabel-wrong', 'Wrong (w)', () => relabel('wrong')));
  bar.appendChild(actionButton('relabel-hack', 'Hack (h)', () => relabel('hack')));
  bar.appendChild(actionButton('note-button', 'Note (n)', () => openNote()));
  bar.appendChild(actionButton('open-document', 'Open as document', () => send({ type: 'openDocument', trajectoryKey: m.trajectoryKey })));
  head.appendChild(bar);

  const noteEditor = h('div', { class: 'note-editor', 'data-testid': 'note-editor' });
  noteEditor.hidden = !state.noteOpen;
  const field = document.createElement('vscode-textfield') as HTMLElement & { value: string };
  field.setAttribute('data-testid', 'note-input');
  field.setAttribute('placeholder', 'Note on this trajectory — Enter saves, Escape cancels');
  field.setAttribute('maxlength', '4000');
  field.addEventListener('keydown', (ev: KeyboardEvent) => {
    ev.stopPropagation();
    if (ev.key === 'Enter') {
      const note = String(field.value ?? '').trim();
      if (note) send({ type: 'note', groupId: g.groupId, trajectoryKey: m.trajectoryKey, text: note });
      closeNote();
    } else if (ev.key === 'Escape') closeNote();
  });
  noteEditor.appendChild(field);
  head.appendChild(noteEditor);

  if (m.label.notes.length) {
    const notes = h('ul', { class: 'notes', 'data-testid': 'notes' });
    for (const n of m.label.notes) {
      const li = h('li', { 'data-testid': 'note' });
      li.appendChild(textEl('span', { class: 'muted' }, `${n.author} · ${n.createdAt.replace('T', ' ').slice(0, 16)} — `));
      appendText(li, n.note ?? '');
      notes.appendChild(li);
    }
    head.appendChild(notes);
  }
  return head;
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

/** The offsets on screen in the trace pane. */
function viewportSpan(): { start: number; end: number } | null {
  if (!traceHandle || !traceScroller) return null;
  const sr = traceScroller.getBoundingClientRect();
  let start = -1;
  let end = -1;
  for (const c of traceHandle.chunks()) {
    if (!c.el.isConnected || c.el.offsetParent === null) continue;
    const r = c.el.getBoundingClientRect();
    if (r.bottom <= sr.top || r.height === 0) continue;
    if (r.top >= sr.bottom) break;
    const from = r.top < sr.top ? c.start + Math.floor(((sr.top - r.top) / r.height) * (c.end - c.start)) : c.start;
    const to = r.bottom > sr.bottom ? c.start + Math.ceil(((sr.bottom - r.top) / r.height) * (c.end - c.start)) : c.end;
    if (start < 0) start = from;
    end = to;
  }
  return start < 0 ? null : { start, end };
}

let viewportQueued = false;
function updateViewport(): void {
  if (viewportQueued) return;
  viewportQueued = true;
  requestAnimationFrame(() => {
    viewportQueued = false;
    posbar?.setViewport(viewportSpan());
    posbar?.setFolded(traceHandle?.reasoning && !traceHandle.isReasoningOpen() ? traceHandle.reasoning : null);
  });
}

/** Reveals an offset of the trace (a position-bar click): unfolds around it, scrolls it into view. */
function jumpTo(offset: number): void {
  if (!traceHandle || !traceScroller) return;
  const c = traceHandle.reveal(offset);
  if (!c) return;
  scrollIntoScroller(traceScroller, () => {
    const r = c.el.getBoundingClientRect();
    const within = r.height > 0 ? ((offset - c.start) / Math.max(1, c.end - c.start)) * r.height : 0;
    return new DOMRect(r.left, r.top + within, r.width, 1);
  }, updateViewport);
}

function positionMarks(row: MemberRow, handle: TraceHandle, answer: { start: number; end: number } | null): void {
  const e = row.member.event;
  const text = typeof e.text === 'string' ? e.text : '';
  if (!posbar) return;
  posbar.setMarks('answer', answer ? [{ kind: 'answer', start: answer.start, end: answer.end, label: `the final answer${e.extracted_answer ? ` (${e.extracted_answer.slice(0, 40)})` : ''}` }] : []);
  const cut = e.truncated === true || handle.unclosed;
  posbar.setMarks('truncation', cut ? [{ kind: 'truncation', start: Math.max(0, text.length - 1), end: text.length, label: e.truncated ? 'cut off here at the length limit' : 'the reasoning never closed: cut off here' }] : []);
  const key = row.member.trajectoryKey;
  const showRepetition = (rep: RepetitionReport) => {
    if (currentRow()?.member.trajectoryKey !== key || !posbar) return;
    posbar.setMarks('repetition', rep.runaway ? rep.spans.slice(0, 200).map((s, i) => ({ kind: 'repetition', start: s.start, end: s.end, label: i === 0 ? `runaway repetition starts here (a passage recurs ${rep.maxRepeats} times)` : 'repeated passage' })) : []);
    traceWrapEl?.setAttribute('data-repetition', String(rep.runaway));
  };
  const cached = repetitionByKey.get(key);
  if (cached) showRepetition(cached);
  // Off the first frame: the lint is linear but a 150K trace still takes a few milliseconds.
  else setTimeout(() => {
    if (currentRow()?.member.trajectoryKey !== key) return;
    const rep = repetitionReport(text);
    repetitionByKey.set(key, rep);
    showRepetition(rep);
  }, 0);
}

function fillTrace(wrap: HTMLElement, row: MemberRow): void {
  const e = row.member.event;
  const text = typeof e.text === 'string' ? e.text : '';
  const scroller = h('div', { class: 'trace', 'data-testid': 'trace', 'data-trajectory-key': row.member.trajectoryKey, tabindex: 0, 'aria-label': 'Trace' });
  traceScroller = scroller;
  traceHandle = null;
  posbar = null;
  wrap.replaceChildren(scroller);
  if (state.diff) {
    const candidates = diffCandidates(state.group!, row.member);
    const best = nearestByLines(text, candidates.map((c) => ({ text: c.event.text, member: c })));
    if (!best) {
      scroller.appendChild(h('p', { class: 'muted', 'data-testid': 'diff-unavailable' }, 'No other teacher trajectory in this group to compare with.'));
      return;
    }
    const teacher = best.candidate.member;
    scroller.appendChild(renderDiff(lineDiff(teacher.event.text, text), teacher.event.teacher ? `teacher ${teacher.event.teacher}` : `teacher ${teacher.event.id}`));
    return;
  }
  const t0 = performance.now();
  const te = e.token_entropies;
  const answer = findAnswerSpan(text, e.extracted_answer ?? null, state.format);
  const handle = renderTrace(
    { text, format: state.format, answer, heatmap: state.heatmap, reasoningOpen: state.reasoningOpen, offsets: te?.offsets, values: te?.values, renderer: state.render ? renderer : null },
    {
      onComplete: () => {
        reportAfterPaint('inspector', 'traceComplete', t0, text.length);
        findBar.repaint();
        updateViewport();
      },
    },
  );
  traceHandle = handle;
  handle.onReasoningToggle = (open) => {
    if (state.reasoningOpen !== open) {
      state.reasoningOpen = open;
      saveView();
      const btn = detailHeadEl?.querySelector('[data-testid="think-toggle-all"]');
      if (btn) btn.replaceWith(toggleButton('think-toggle-all', open ? 'Fold reasoning' : 'Unfold reasoning', open, () => setReasoningOpen(!state.reasoningOpen)));
    }
    afterPendingChunks(() => findBar.repaint());
    updateViewport();
  };
  if (state.heatmap) scroller.appendChild(heatLegend(handle.droppedEntropies, !!te && Array.isArray(te.offsets) && te.offsets.length > 0));
  if (state.render && !state.heatmap && !renderer) scroller.appendChild(h('p', { class: 'muted', 'data-testid': 'render-loading' }, 'Loading the Markdown/LaTeX renderer…'));
  scroller.appendChild(handle.element);
  if (handle.unclosed && handle.reasoning && handle.reasoning.end >= text.length) {
    // Nothing follows the fold: say why, and offer the end, where a cut-off response is read first.
    const end = h('button', { type: 'button', class: 'link', 'data-testid': 'jump-to-end' }, 'Show where it was cut off');
    end.addEventListener('click', () => jumpTo(text.length - 1));
    scroller.appendChild(h('p', { class: 'muted cut-note', 'data-testid': 'cut-note' }, `The response ends inside its reasoning: it was cut off after ${fmtCount(text.length)} characters, before it answered. `, end));
  }
  if (text.length > 0) {
    posbar = createPosBar(text.length, jumpTo);
    wrap.appendChild(posbar.element);
    positionMarks(row, handle, answer);
  }
  scroller.addEventListener('scroll', updateViewport, { passive: true });
  updateViewport();
}

function renderTracePane(row: MemberRow): HTMLElement {
  const wrap = h('div', { class: 'trace-wrap', 'data-testid': 'trace-wrap' });
  traceWrapEl = wrap;
  fillTrace(wrap, row);
  return wrap;
}

function renderDetail(): HTMLElement {
  const row = currentRow();
  const detail = h('section', { class: 'detail', 'data-testid': 'detail', 'aria-live': 'off' });
  detailEl = detail;
  if (!row || !state.group) return detail;
  detailHeadEl = renderDetailHead(row);
  detail.append(detailHeadEl, findBar.element, renderTracePane(row));
  return detail;
}

/** A new trace in the pane (another member, a toggle): head and trace rebuilt, find re-run. */
function rerenderDetail(what: 'trace' | 'heatmap' | 'diff' | null): void {
  const t0 = performance.now();
  hideExplanation();
  const fresh = renderDetail();
  const old = app.querySelector('[data-testid="detail"]');
  if (old && old !== fresh) old.replaceWith(fresh);
  findBar.retarget();
  if (what) reportAfterPaint('inspector', what, t0, currentRow()?.member.event.text.length ?? 0);
}

function renderMembers(): HTMLElement {
  const list = h('div', { class: 'members', role: 'listbox', 'aria-label': 'Group members', 'data-testid': 'members' });
  const ctx = rowContext();
  for (const row of state.rows) {
    const el = renderRow(row, ctx);
    el.addEventListener('click', (ev) => {
      if ((ev.target as Element).closest('.explained') && (ev.target as Element).closest('.member') !== el) return;
      select(row.position, true);
    });
    list.appendChild(el);
  }
  return list;
}

/** The member list and header again (a relabel changed verdicts and what-if values). */
function rerenderCards(): void {
  if (!state.group || !membersEl) return;
  state.whatIf = computeWhatIf(state.group);
  const scroll = membersEl.scrollTop;
  const fresh = renderMembers();
  membersEl.replaceWith(fresh);
  membersEl = fresh;
  membersEl.scrollTop = scroll;
  const head = renderHeader(state.group, state.whatIf);
  headerEl?.replaceWith(head);
  headerEl = head;
  // the selected member's badges (what-if arrows, verdict) live in the detail head too
  const row = currentRow();
  if (row && detailHeadEl) {
    const fresh2 = renderDetailHead(row);
    detailHeadEl.replaceWith(fresh2);
    detailHeadEl = fresh2;
  }
}

// --- actions ----------------------------------------------------------------------------------

function select(position: number, byUser = false): void {
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
    // The list scrolls itself only: the trace pane beside it already shows the member.
    if (on) (el as HTMLElement).scrollIntoView({ block: 'nearest', inline: 'nearest' });
  });
  rerenderDetail('trace');
  saveView();
  const key = currentRow()?.member.trajectoryKey;
  if (byUser && state.group && key !== undefined) send({ type: 'selected', groupId: state.group.groupId, trajectoryKey: key });
}

function setHeatmap(on: boolean): void {
  state.heatmap = on;
  if (on) state.diff = false;
  rerenderDetail('heatmap');
  saveView();
}

function setDiff(on: boolean): void {
  state.diff = on;
  if (on) state.heatmap = false;
  rerenderDetail('diff');
  saveView();
}

function setReasoningOpen(open: boolean): void {
  state.reasoningOpen = open;
  rerenderDetail('trace');
  saveView();
}

function setRender(on: boolean): void {
  state.render = on;
  saveView();
  rerenderDetail('trace');
  if (on && !renderer) {
    void loadRenderer().then((r) => {
      renderer = r;
      if (!r) {
        app.querySelector('[data-testid="render-loading"]')?.replaceWith(h('p', { class: 'banner error', 'data-testid': 'render-error' }, 'The Markdown/LaTeX renderer could not be loaded; the trace is shown as text.'));
        return;
      }
      if (state.render) rerenderDetail('trace');
    });
  }
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
  (membersEl?.querySelector('.member.selected') as HTMLElement | null)?.focus();
}

function navigate(direction: 'back' | 'forward'): void {
  if (direction === 'back' ? state.history.back : state.history.forward) send({ type: 'navigate', direction });
}

function memberByKey(key: number): ViewMember | undefined {
  return state.group?.trajectories.find((t) => t.trajectoryKey === key);
}

// --- host messages ----------------------------------------------------------------------------

function showGroup(msg: Extract<HostToInspector, { type: 'group' }>, t0: number): void {
  const g = msg.group;
  const saved = savedView(g.groupId);
  const sameGroup = state.group?.groupId === g.groupId;
  if (saved) {
    state.heatmap = saved.heatmap;
    state.diff = saved.diff;
    state.reasoningOpen = saved.thinkOpen;
  }
  // The setting sets rendering for a page's first group; the toggle decides after that.
  if (state.group === null) state.render = saved?.render ?? msg.options?.renderMarkdown ?? false;
  const keepSelection = sameGroup ? currentRow()?.member.trajectoryKey : saved?.trajectoryKey ?? undefined;
  state.group = g;
  state.history = msg.history ?? { back: false, forward: false };
  state.format = g.reasoningFormat ?? detectFormat(g.trajectories.map((t) => (typeof t.event.text === 'string' ? t.event.text : '')));
  state.rows = orderMembers(g);
  state.duplicates = duplicatesOf(state.rows);
  state.noteOpen = false;
  if (!sameGroup) repetitionByKey.clear();
  const want = msg.focusTrajectoryKey ?? keepSelection ?? null;
  const at = want === null ? -1 : state.rows.findIndex((r) => r.member.trajectoryKey === want);
  state.selected = at >= 0 ? at : 0;
  state.whatIf = computeWhatIf(g);
  hideExplanation();
  clear(app);
  if (state.rows.length === 0) {
    app.appendChild(emptyState('This group has no trajectories', 'The group event was stored without members.'));
    return;
  }
  headerEl = renderHeader(g, state.whatIf);
  membersEl = renderMembers();
  const body = h('div', { class: 'inspector-body', 'data-testid': 'inspector-body' }, membersEl, renderDetail());
  app.append(headerEl, body);
  app.setAttribute('data-group-id', String(g.groupId));
  (membersEl.querySelector('.member.selected') as HTMLElement | null)?.scrollIntoView({ block: 'nearest' });
  findBar.retarget();
  saveView();
  reportAfterPaint('inspector', 'group', t0, currentRow()?.member.event.text.length ?? 0);
  if (state.render && !renderer) setRender(true);
}

onHostMessage<HostToInspector>((msg) => {
  const t0 = performance.now();
  switch (msg.type) {
    case 'loading':
      if (state.group) break; // keep the current group on screen until the next arrives
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
      showGroup(msg, t0);
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
      break;
    }
  }
});

// --- keyboard ---------------------------------------------------------------------------------

function typingIn(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el || !el.tagName) return false;
  const tag = el.tagName.toLowerCase();
  return tag === 'input' || tag === 'textarea' || tag === 'vscode-textfield' || tag === 'vscode-textarea' || el.isContentEditable;
}

document.addEventListener('keydown', (ev) => {
  if (!state.group) return;
  const mod = ev.ctrlKey || ev.metaKey;
  // Ctrl/Cmd+F: our find, not VS Code's (stopped here, before the webview host forwards it).
  if (mod && !ev.altKey && (ev.key === 'f' || ev.key === 'F')) {
    ev.preventDefault();
    ev.stopPropagation();
    findBar.open();
    return;
  }
  if (ev.key === 'F3' && findBar.isOpen()) {
    ev.preventDefault();
    findBar.open();
    return;
  }
  if (ev.altKey && !mod && (ev.key === 'ArrowLeft' || ev.key === 'ArrowRight')) {
    ev.preventDefault();
    ev.stopPropagation();
    navigate(ev.key === 'ArrowLeft' ? 'back' : 'forward');
    return;
  }
  if (mod || ev.altKey || typingIn(ev.target)) return;
  switch (ev.key) {
    case 'j': case 'ArrowDown': select(state.selected + 1, true); break;
    case 'k': case 'ArrowUp': select(state.selected - 1, true); break;
    case 'c': relabel('correct'); break;
    case 'w': relabel('wrong'); break;
    case 'h': relabel('hack'); break;
    case 'n': openNote(); break;
    case 'Escape':
      if (state.noteOpen) closeNote();
      else if (explanationShown()) hideExplanation();
      else if (findBar.isOpen()) findBar.close();
      else return;
      break;
    default: return;
  }
  ev.preventDefault();
});

// The mouse's back and forward buttons, as in an editor.
document.addEventListener('mouseup', (ev) => {
  if (ev.button === 3) navigate('back');
  else if (ev.button === 4) navigate('forward');
});

clear(app);
app.appendChild(loadingState('group'));
send({ type: 'ready' });

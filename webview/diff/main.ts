// The re-verify diff: what the edited verifier changes in a run. Flips each way (with examples
// that open the trajectory), R_total and advantage changes, advantage sign flips, lints that
// appeared or disappeared, and the verifier's errors and timeouts. "Accept" makes the new verdict
// set active; the old sets stay in the store ("Browse verdict sets").
// Every trace-derived string (ids, answers, reasons, gold) goes in as text nodes, never as HTML.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import baseCss from '../shared/base.css';
import diffCss from './diff.css';
import { installStyles } from '../shared/styles';
import { h, clear, appendText } from '../shared/dom';
import { onHostMessage, post } from '../shared/vscode';
import { emptyState, errorState, loadingState } from '../shared/states';
import { LINT_LABELS, type LintKind } from '../../src/core/rescore';
import type { DiffToHost, DiffViewModel, HostToDiff } from '../../src/core/diffMessages';
import { fmtNum as fmt, fmtSigned } from '../../src/core/format';
import { FLIP_KINDS, type DiffExample, type FlipKind, type Spread } from '../../src/core/verdictDiff';

installStyles(baseCss + diffCss);

const app = document.getElementById('app') as HTMLElement;
let model: DiffViewModel | null = null;
let acceptError: string | null = null;
let accepting = false;

function send(m: DiffToHost): void {
  post(m);
}

const FLIP_TITLES: Record<FlipKind, string> = {
  'wrong->correct': 'wrong → correct',
  'correct->wrong': 'correct → wrong',
  'error->correct': 'error → correct',
  'error->wrong': 'error → wrong',
  'correct->error': 'correct → error',
  'wrong->error': 'wrong → error',
  'correct->correct': '',
  'wrong->wrong': '',
  'error->error': '',
};

function testIdOf(kind: string): string {
  return kind.replace('->', '-to-');
}

function text(tag: keyof HTMLElementTagNameMap, attrs: Record<string, string>, value: string): HTMLElement {
  const el = h(tag, attrs);
  appendText(el, value);
  return el;
}

function exampleRow(e: DiffExample, testid: string): HTMLElement {
  const open = h('vscode-button', { secondary: true, 'data-testid': `${testid}-open`, 'data-trajectory-key': String(e.trajectoryKey), title: 'Open this trajectory' }, 'Open');
  open.addEventListener('click', () => send({ type: 'openTrajectory', trajectoryKey: e.trajectoryKey }));
  const advantage =
    e.advantageBefore === null && e.advantageAfter === null ? '—' : `${fmt(e.advantageBefore)} → ${fmt(e.advantageAfter)}`;
  const total = e.totalBefore === null && e.totalAfter === null ? '—' : `${fmt(e.totalBefore)} → ${fmt(e.totalAfter)}`;
  return h(
    'tr',
    { 'data-testid': testid, 'data-trajectory-key': String(e.trajectoryKey) },
    text('td', { class: 'mono' }, e.trajectoryId),
    text('td', {}, String(e.step)),
    text('td', { class: 'mono' }, e.gold),
    text('td', { class: 'mono' }, `${e.beforeExtracted ?? '∅'} → ${e.afterExtracted ?? '∅'}`),
    text('td', { class: 'reason' }, e.afterReason ?? ''),
    text('td', { class: 'num' }, total),
    text('td', { class: 'num' }, advantage),
    h('td', {}, open),
  );
}

function examplesTable(examples: DiffExample[], testid: string): HTMLElement {
  if (examples.length === 0) return h('p', { class: 'muted' }, 'No examples.');
  return h(
    'table',
    { class: 'examples', 'data-testid': `${testid}-table` },
    h(
      'thead',
      {},
      h('tr', {}, h('th', {}, 'trajectory'), h('th', {}, 'step'), h('th', {}, 'gold'), h('th', {}, 'extracted before → after'), h('th', {}, 'new reason'), h('th', {}, 'R_total'), h('th', {}, 'advantage'), h('th', {}, '')),
    ),
    h('tbody', {}, ...examples.map((e, i) => exampleRow(e, `${testid}-row-${i}`))),
  );
}

function stat(label: string, value: string, testid: string, tone = ''): HTMLElement {
  return h('div', { class: `stat ${tone}`, 'data-testid': testid }, h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-label' }, label));
}

function spreadText(s: Spread): string {
  if (s.changed === 0) return 'no change';
  return `${s.changed} changed · mean |Δ| ${fmt(s.sumAbs / s.changed)} · max |Δ| ${fmt(s.maxAbs)} · net ${fmtSigned(s.sum)}`;
}

function lintList(counts: Partial<Record<LintKind, number>>, testid: string): HTMLElement {
  const entries = Object.entries(counts) as Array<[LintKind, number]>;
  if (entries.length === 0) return h('p', { class: 'muted', 'data-testid': `${testid}-none` }, 'None.');
  return h('ul', { 'data-testid': testid }, ...entries.map(([k, n]) => h('li', { 'data-testid': `${testid}-${k}` }, `${n} × ${LINT_LABELS[k] ?? k}`)));
}

function render(): void {
  clear(app);
  if (!model) {
    app.append(loadingState('the re-verify diff'));
    return;
  }
  const m = model;
  const d = m.diff;
  const isActive = m.activeVerifierId === m.verifier.id;

  const accept = h('vscode-button', { 'data-testid': 'diff-accept', disabled: isActive || accepting ? true : null }, isActive ? 'Accepted' : accepting ? 'Accepting…' : 'Accept');
  accept.addEventListener('click', () => {
    if (isActive || accepting) return;
    accepting = true;
    acceptError = null;
    render();
    send({ type: 'accept', verifierId: m.verifier.id });
  });
  const browse = h('vscode-button', { secondary: true, 'data-testid': 'diff-browse-sets' }, 'Browse verdict sets');
  browse.addEventListener('click', () => send({ type: 'browseSets' }));

  const header = h(
    'header',
    { class: 'diff-header' },
    h('div', {}, text('h1', { 'data-testid': 'diff-title' }, `Re-verify of ${m.runId}`), text('p', { class: 'muted mono', 'data-testid': 'diff-verifier' }, `${m.verifier.name} · ${m.verifier.id.slice(0, 12)}${m.previousVerifierId ? ` (was ${m.previousVerifierId.slice(0, 12)})` : ' (was: the logged verdicts)'}`)),
    h('div', { class: 'actions' }, accept, browse),
  );
  app.append(header);
  if (isActive) app.append(h('p', { class: 'banner ok', 'data-testid': 'diff-accepted', role: 'status' }, 'This verdict set is now active for the run. Earlier sets stay in the store: "Browse verdict sets" switches back.'));
  if (acceptError) app.append(text('p', { class: 'banner bad', 'data-testid': 'diff-accept-error', role: 'alert' }, `Accept failed: ${acceptError}`));

  const totalFlips = FLIP_KINDS.reduce((n, k) => n + (d.flips[k] ?? 0), 0);
  app.append(
    h(
      'section',
      { class: 'stats', 'data-testid': 'diff-summary' },
      stat('trajectories re-verified', `${d.reverified} / ${d.trajectories}`, 'diff-reverified'),
      stat('verdicts flipped', String(totalFlips), 'diff-flips-total', totalFlips ? 'warn' : ''),
      stat('wrong → correct', String(d.flips['wrong->correct'] ?? 0), 'diff-flips-wrong-to-correct', 'good'),
      stat('correct → wrong', String(d.flips['correct->wrong'] ?? 0), 'diff-flips-correct-to-wrong', 'bad'),
      stat('advantage sign flips', String(d.signFlips), 'diff-sign-flips', d.signFlips ? 'warn' : ''),
      stat('errors', `${d.errors.total} (${d.errors.timeouts} timeouts, ${d.errors.crashed} crashed)`, 'diff-errors', d.errors.total ? 'bad' : ''),
    ),
  );
  if (d.missing > 0) app.append(h('p', { class: 'banner warn', 'data-testid': 'diff-missing' }, `${d.missing} trajectories got no new verdict and keep their old one.`));
  if (d.rescoreFailures.count > 0) {
    app.append(text('p', { class: 'banner bad', 'data-testid': 'diff-rescore-failures' }, `${d.rescoreFailures.count} groups could not be re-scored: ${d.rescoreFailures.messages.join('; ')}`));
  }

  app.append(
    h(
      'section',
      { 'data-testid': 'diff-rewards' },
      h('h2', {}, 'Rewards (recomputed by the reward core)'),
      text('p', { 'data-testid': 'diff-rtotal' }, `R_total: ${spreadText(d.rTotal)}`),
      text('p', { 'data-testid': 'diff-advantage' }, `Advantage: ${spreadText(d.advantage)}`),
      text('p', { 'data-testid': 'diff-groups' }, `${d.groupsChanged} of ${d.groups} groups changed · ${d.replacementChanged} changed which online member OGER replaces`),
    ),
  );

  for (const kind of FLIP_KINDS) {
    const count = d.flips[kind] ?? 0;
    if (count === 0 && kind !== 'wrong->correct' && kind !== 'correct->wrong') continue;
    const id = `diff-flip-${testIdOf(kind)}`;
    app.append(
      h('section', { 'data-testid': id }, h('h2', {}, `${FLIP_TITLES[kind]} `, h('vscode-badge', { 'data-testid': `${id}-count` }, String(count))), examplesTable(d.examples[kind] ?? [], id)),
    );
  }
  app.append(
    h('section', { 'data-testid': 'diff-sign-flip-section' }, h('h2', {}, 'Advantage sign flips ', h('vscode-badge', {}, String(d.signFlips))), examplesTable(d.signFlipExamples, 'diff-sign-flip')),
  );
  app.append(
    h(
      'section',
      { 'data-testid': 'diff-lints' },
      h('h2', {}, 'Lints'),
      h('div', { class: 'cols' }, h('div', {}, h('h3', {}, 'Appeared'), lintList(d.lintsAppeared, 'diff-lints-appeared')), h('div', {}, h('h3', {}, 'Disappeared'), lintList(d.lintsDisappeared, 'diff-lints-disappeared'))),
    ),
  );
  app.append(
    h('section', { 'data-testid': 'diff-error-section' }, h('h2', {}, 'Verifier errors and timeouts ', h('vscode-badge', {}, String(d.errors.total))), examplesTable(d.errors.examples, 'diff-error')),
  );
  app.append(h('p', { class: 'muted', 'data-testid': 'diff-footer' }, `${m.written} verdicts written in ${(m.durationMs / 1000).toFixed(1)} s · ${m.processRestarts} verifier process restarts`));
}

onHostMessage<HostToDiff>((msg) => {
  switch (msg.type) {
    case 'diff':
      model = msg.model;
      accepting = false;
      acceptError = null;
      render();
      break;
    case 'accepted':
      if (model) model = { ...model, activeVerifierId: msg.verifierId };
      accepting = false;
      render();
      break;
    case 'acceptFailed':
      accepting = false;
      acceptError = msg.message;
      render();
      break;
    case 'error':
      clear(app);
      app.append(errorState('The re-verify diff could not be shown', msg.message));
      break;
  }
});

if (!app) document.body.append(emptyState('No content', 'The diff view failed to start.'));
render();
send({ type: 'ready' });

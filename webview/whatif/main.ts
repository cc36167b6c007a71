// The whole-run what-if: what the run's relabels and its active verdict set change when every group
// is re-scored. Totals (verdicts changed, ΔR_total, advantage sign flips, replacement changes), then
// the most changed groups; a row opens its group in the inspector (click, or Enter; arrow keys and
// j/k move between rows). Prompt ids and verifier names are untrusted: text nodes only.
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import baseCss from '../shared/base.css';
import whatIfCss from './whatif.css';
import { installStyles } from '../shared/styles';
import { h, clear, appendText } from '../shared/dom';
import { onHostMessage, post } from '../shared/vscode';
import { emptyState, errorState, loadingState } from '../shared/states';
import { fmtNum, fmtSigned } from '../../src/core/format';
import type { HostToWhatIf, WhatIfGroupRow, WhatIfToHost, WhatIfViewModel } from '../../src/core/whatIfMessages';

installStyles(baseCss + whatIfCss);

const app = document.getElementById('app') as HTMLElement;

function send(m: WhatIfToHost): void {
  post(m);
}

function text(tag: keyof HTMLElementTagNameMap, attrs: Record<string, string>, value: string): HTMLElement {
  const el = h(tag, attrs);
  appendText(el, value);
  return el;
}

const count = (n: number) => n.toLocaleString('en-US');

function stat(label: string, value: string, testid: string, tone = ''): HTMLElement {
  return h('div', { class: `stat ${tone}`, 'data-testid': testid }, h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-label' }, label));
}

function row(r: WhatIfGroupRow, i: number): HTMLElement {
  const tr = h(
    'tr',
    { tabindex: '0', 'data-testid': `whatif-row-${i}`, 'data-group-id': String(r.groupId), title: 'Open this group in the inspector (Enter)' },
    text('td', { class: 'num' }, String(r.step)),
    text('td', { class: 'mono' }, r.promptId),
    text('td', { class: 'num' }, String(r.verdictChanges)),
    text('td', { class: `num${r.signFlips ? ' flip' : ''}` }, String(r.signFlips)),
    text('td', {}, r.replacementChanged ? 'changed' : ''),
    text('td', { class: `num ${r.deltaRTotal > 1e-12 ? 'up' : r.deltaRTotal < -1e-12 ? 'down' : ''}` }, fmtSigned(r.deltaRTotal)),
    text('td', { class: 'num' }, fmtNum(r.absDeltaAdvantage)),
  );
  const open = () => send({ type: 'openGroup', groupId: r.groupId });
  tr.addEventListener('click', open);
  tr.addEventListener('keydown', (e: KeyboardEvent) => {
    const rows = [...app.querySelectorAll<HTMLElement>('tbody tr')];
    const at = rows.indexOf(tr);
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      open();
    } else if (e.key === 'ArrowDown' || e.key === 'j') {
      e.preventDefault();
      rows[Math.min(rows.length - 1, at + 1)]?.focus();
    } else if (e.key === 'ArrowUp' || e.key === 'k') {
      e.preventDefault();
      rows[Math.max(0, at - 1)]?.focus();
    }
  });
  return tr;
}

function render(m: WhatIfViewModel): void {
  clear(app);
  const source =
    m.verdictChanges === 0
      ? 'No verdict differs from the logged one: no relabel, and the active verdict set agrees with the log.'
      : `${count(m.verdictChanges)} verdicts differ from the logged ones: ${count(m.fromLabels)} from relabels, ${count(m.fromVerifier)} from ${m.activeVerifier ? `the active verdict set ${m.activeVerifier.name} (${m.activeVerifier.id.slice(0, 12)})` : 'another verdict set'}.`;
  app.append(
    h('header', {}, text('h1', { 'data-testid': 'whatif-title' }, `What-if over run ${m.runId}`), text('p', { class: 'muted', 'data-testid': 'whatif-source' }, source)),
    h(
      'section',
      { class: 'stats', 'data-testid': 'whatif-summary' },
      stat(`groups re-scored (${count(m.trajectories)} trajectories)`, count(m.groups), 'whatif-groups'),
      stat('verdicts changed', count(m.verdictChanges), 'whatif-verdicts', m.verdictChanges ? 'warn' : ''),
      stat('ΔR_total (sum)', fmtSigned(m.deltaRTotal), 'whatif-delta-rtotal', m.deltaRTotal > 1e-12 ? 'good' : m.deltaRTotal < -1e-12 ? 'bad' : ''),
      stat('advantage sign flips', count(m.signFlips), 'whatif-sign-flips', m.signFlips ? 'warn' : ''),
      stat('replacement changes', count(m.replacementChanged), 'whatif-replacements', m.replacementChanged ? 'warn' : ''),
      stat('groups changed', count(m.changedGroups), 'whatif-groups-changed'),
    ),
    text('p', { class: 'muted', 'data-testid': 'whatif-spread' }, `Σ|ΔR_total| ${fmtNum(m.sumAbsDeltaRTotal)} · Σ|Δ advantage| ${fmtNum(m.sumAbsDeltaAdvantage)} · read ${(m.readMs / 1000).toFixed(1)} s, scored ${(m.computeMs / 1000).toFixed(1)} s`),
  );
  if (m.failures.count > 0) app.append(text('p', { class: 'banner bad', 'data-testid': 'whatif-failures' }, `${count(m.failures.count)} groups could not be re-scored: ${m.failures.messages.join('; ')}`));
  if (m.legacyGroups > 0) app.append(text('p', { class: 'banner warn', 'data-testid': 'whatif-legacy' }, `${count(m.legacyGroups)} groups were stored before schema 3 and were read from their trajectory rows (slower).`));
  if (m.rows.length === 0) {
    app.append(emptyState('Nothing changes', 'Re-scoring every group with the relabels and the active verdicts gives the logged rewards and advantages.'));
    return;
  }
  app.append(
    h(
      'section',
      { 'data-testid': 'whatif-table-section' },
      h('h2', {}, m.changedGroups > m.rows.length ? `The ${count(m.rows.length)} most changed of ${count(m.changedGroups)} changed groups` : `${count(m.rows.length)} changed groups`),
      h('p', { class: 'keys' }, 'Sign flips first, then replacement changes, then |Δ advantage|. Click a row or press Enter to open the group; ↑/↓ or j/k move.'),
      h(
        'table',
        { class: 'groups', 'data-testid': 'whatif-table' },
        h(
          'thead',
          {},
          h('tr', {}, h('th', { class: 'num' }, 'step'), h('th', {}, 'prompt'), h('th', { class: 'num' }, 'verdicts'), h('th', { class: 'num' }, 'sign flips'), h('th', {}, 'replacement'), h('th', { class: 'num' }, 'ΔR_total'), h('th', { class: 'num' }, 'Σ|Δ adv|')),
        ),
        h('tbody', {}, ...m.rows.map(row)),
      ),
    ),
  );
}

onHostMessage<HostToWhatIf>((msg) => {
  switch (msg.type) {
    case 'whatIf': {
      const t0 = performance.now();
      render(msg.model);
      // Reported after the frame that shows it: what the researcher waited for.
      requestAnimationFrame(() => setTimeout(() => send({ type: 'rendered', ms: performance.now() - t0, rows: msg.model.rows.length }), 0));
      break;
    }
    case 'error':
      clear(app);
      app.append(errorState('The what-if could not be computed', msg.message));
      break;
  }
});

if (!app) document.body.append(emptyState('No content', 'The what-if view failed to start.'));
else app.append(loadingState('the whole-run what-if'));
send({ type: 'ready' });

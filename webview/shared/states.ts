// Designed empty, loading and error states, shared by both webviews.
import { h } from './dom';

export function loadingState(what: string): HTMLElement {
  const ring = document.createElement('vscode-progress-ring');
  return h('div', { class: 'state state-loading', 'data-testid': 'state-loading', role: 'status', 'aria-live': 'polite' }, ring, h('p', {}, `Loading ${what}…`));
}

export function emptyState(title: string, detail: string): HTMLElement {
  return h('div', { class: 'state state-empty', 'data-testid': 'state-empty', role: 'status' }, h('span', { class: 'state-icon', 'aria-hidden': 'true' }, '∅'), h('h2', {}, title), h('p', {}, detail));
}

export function errorState(title: string, message: string): HTMLElement {
  return h(
    'div',
    { class: 'state state-error', 'data-testid': 'state-error', role: 'alert' },
    h('span', { class: 'state-icon', 'aria-hidden': 'true' }, '!'),
    h('h2', {}, title),
    h('pre', { class: 'state-message' }, message),
    h('p', {}, 'Details are in the Reward Lens output channel.'),
  );
}

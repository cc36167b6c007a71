import { ASSETS_ELEMENT_ID, INITIAL_MESSAGE_ELEMENT_ID, type WebviewAssets } from '../../src/core/messages';
// The one handle a webview has on its host. acquireVsCodeApi() may be called once per page.
interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

let api: VsCodeApi | undefined;

export function vscodeApi(): VsCodeApi {
  api ??= acquireVsCodeApi();
  return api;
}

/** Posts a typed message to the host (which validates it again: the type here is only a promise). */
export function post<T extends { type: string }>(message: T): void {
  vscodeApi().postMessage(message);
}

/** Listens to host messages. Only messages from the host frame carry data; anything else is ignored. */
export function onHostMessage<T extends { type: string }>(handler: (m: T) => void): void {
  window.addEventListener('message', (e: MessageEvent) => {
    const data: unknown = e.data;
    if (typeof data === 'object' && data !== null && typeof (data as { type?: unknown }).type === 'string') handler(data as T);
  });
}

/**
 * The first host message the page was created with (see INITIAL_MESSAGE_ELEMENT_ID), taken once:
 * the element is removed so a later reader cannot take stale data for new.
 */
export function takeInitialMessage<T extends { type: string }>(): T | null {
  const el = document.getElementById(INITIAL_MESSAGE_ELEMENT_ID);
  if (!el) return null;
  el.remove();
  try {
    const data: unknown = JSON.parse(el.textContent ?? '');
    return typeof data === 'object' && data !== null && typeof (data as { type?: unknown }).type === 'string' ? (data as T) : null;
  } catch {
    return null;
  }
}

/**
 * The URLs of the page's optional assets, from the host (see ASSETS_ELEMENT_ID); {} when none.
 * Taken once, like the initial message: the data block leaves the page, which then holds no
 * script element but its own.
 */
export function takeAssets(): WebviewAssets {
  const el = document.getElementById(ASSETS_ELEMENT_ID);
  if (!el) return {};
  el.remove();
  try {
    const data: unknown = JSON.parse(el.textContent ?? '');
    if (typeof data !== 'object' || data === null) return {};
    const o = data as Record<string, unknown>;
    const url = (v: unknown) => (typeof v === 'string' && /^(https?|vscode-[\w-]+|file\+?[\w.-]*):/i.test(v) ? v : undefined);
    return { renderScript: url(o.renderScript), katexCss: url(o.katexCss) };
  } catch {
    return {};
  }
}

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

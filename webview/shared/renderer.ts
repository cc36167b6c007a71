// The contract between the inspector and its optional Markdown/LaTeX renderer (webview/render/),
// a separate bundle that registers itself on window when loaded.
export interface TraceRenderer {
  /** renders `text` (untrusted) into `el` as DOM built from text nodes */
  renderInto(el: HTMLElement, text: string): void;
}

declare global {
  interface Window {
    __rewardLensRenderer?: TraceRenderer;
  }
}

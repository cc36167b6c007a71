// Render timings. Each measurement goes to the host as a `rendered` message (logged to the Output
// channel as "[perf] view.what N ms") and into window.__rewardLensPerf, where a browser-driven
// benchmark reads it without scraping the log. The timing ends at the first frame after the DOM
// work, i.e. when the user can see it.
import type { RenderedMessage, RenderedView, RenderedWhat } from '../../src/core/messages';
import { post } from './vscode';

export interface PerfEntry extends RenderedMessage {
  /** performance.now() when the measurement ended */
  at: number;
}

declare global {
  interface Window {
    __rewardLensPerf?: PerfEntry[];
  }
}

const KEEP = 500;

/** Ends a measurement started at t0 after the next paint, then reports it. */
export function reportAfterPaint(view: RenderedView, what: RenderedWhat, t0: number, size: number): void {
  requestAnimationFrame(() => {
    // A task queued from rAF runs after the frame is produced.
    setTimeout(() => {
      const at = performance.now();
      const msg: RenderedMessage = { type: 'rendered', view, what, ms: Math.round((at - t0) * 10) / 10, size: Math.max(0, Math.floor(size)) };
      const log = (window.__rewardLensPerf ??= []);
      log.push({ ...msg, at });
      if (log.length > KEEP) log.splice(0, log.length - KEEP);
      document.body.setAttribute(`data-rendered-${what}`, String(log.length));
      post(msg);
    }, 0);
  });
}

// The host's side of one webview's message channel: nothing is posted before the page has said
// `ready` (a message posted while its script is still loading is dropped by VS Code), messages
// asked for earlier go out in order once it has, and after close every post resolves false
// instead of waiting for a page that will never load. No vscode import: unit-tested.

export class ReadyChannel<Out> {
  private ready = false;
  private closed = false;
  private waiting: Array<() => void> = [];

  /** `send` posts to the webview; it resolves false (or throws) when the webview is gone. */
  constructor(private readonly send: (message: Out) => PromiseLike<boolean> | boolean) {}

  get isReady(): boolean {
    return this.ready;
  }

  /** The page said `ready`: release what waited for it. A page VS Code reloads says it again. */
  markReady(): void {
    if (this.ready || this.closed) return;
    this.ready = true;
    this.release();
  }

  /** Posts once the page is ready; false when the panel closed first or the post failed. */
  async post(message: Out): Promise<boolean> {
    if (!this.ready && !this.closed) await new Promise<void>((resolve) => this.waiting.push(resolve));
    if (this.closed) return false;
    try {
      return await this.send(message);
    } catch {
      return false;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.release();
  }

  private release(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }
}

/** True for a message shaped `{ type: 'ready' }`; the controller still validates it in full. */
export function isReadyMessage(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) && (raw as { type?: unknown }).type === 'ready';
}

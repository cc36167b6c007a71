// Ownership of things that must be released: panels, event subscriptions, timers, processes.
// Structural (no vscode import), so vscode.Disposable values fit and the rules are unit-tested.

export interface IDisposable {
  dispose(): unknown;
}

export function toDisposable(fn: () => void): IDisposable {
  return { dispose: fn };
}

/** Disposes every item, newest first; one that throws does not keep the others alive. */
export function disposeAll(items: IDisposable[]): void {
  const errors: unknown[] = [];
  while (items.length) {
    try {
      items.pop()?.dispose();
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${errors.length} disposables failed`);
}

/**
 * Base of every long-lived object that owns resources. `_register` hands ownership over; a value
 * registered after dispose() (a late subscription, a callback that lands after the panel closed)
 * is disposed at once instead of leaking.
 */
export abstract class Disposable implements IDisposable {
  private readonly owned: IDisposable[] = [];
  private disposedFlag = false;

  protected _register<T extends IDisposable>(value: T): T {
    if (this.disposedFlag) value.dispose();
    else this.owned.push(value);
    return value;
  }

  get isDisposed(): boolean {
    return this.disposedFlag;
  }

  dispose(): void {
    if (this.disposedFlag) return;
    this.disposedFlag = true;
    disposeAll(this.owned);
  }
}

/**
 * A set of live items that are disposed together (the open panels, at deactivation). An item that
 * goes away by itself (a panel the user closed) leaves with `delete`, so the set holds only what
 * is still open instead of growing with every panel ever shown.
 */
export class DisposableSet implements IDisposable {
  private readonly items = new Set<IDisposable>();
  private disposedFlag = false;

  /** Adds an item; after dispose() it is disposed at once. */
  add<T extends IDisposable>(item: T): T {
    if (this.disposedFlag) item.dispose();
    else this.items.add(item);
    return item;
  }

  /** Forgets an item without disposing it. */
  delete(item: IDisposable): void {
    this.items.delete(item);
  }

  get size(): number {
    return this.items.size;
  }

  dispose(): void {
    if (this.disposedFlag) return;
    this.disposedFlag = true;
    const items = [...this.items];
    this.items.clear();
    disposeAll(items);
  }
}

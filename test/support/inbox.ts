/**
 * What arrives (a transport's deliveries, a peer's output lines), in
 * arrival order, awaitable: no polling, no sleeps. A wait that times out
 * gives up its place, so a timed-out next() does not swallow what comes
 * after it.
 */
import type { InboundMessage } from '../../src/transport/transport';

export class Inbox<T = InboundMessage> {
  private items: T[] = [];
  private waiters: ((m: T) => void)[] = [];

  readonly push = (m: T): void => {
    const w = this.waiters.shift();
    if (w) w(m);
    else this.items.push(m);
  };

  next(timeoutMs = 5000): Promise<T> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift() as T);
    return new Promise((resolve, reject) => {
      const waiter = (x: T): void => {
        clearTimeout(timer);
        resolve(x);
      };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no delivery within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** What arrived and was not taken by next() yet. */
  get pending(): number {
    return this.items.length;
  }

  /** Takes everything that arrived and was not taken yet. */
  drain(): T[] {
    return this.items.splice(0);
  }
}

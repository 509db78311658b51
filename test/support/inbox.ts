/**
 * Deliveries in arrival order, awaitable (no polling, no sleeps). A wait
 * that times out gives up its place, so a timed-out next() does not swallow
 * the delivery after it.
 */
import type { InboundMessage } from '../../src/transport/transport';

export class Inbox {
  private items: InboundMessage[] = [];
  private waiters: ((m: InboundMessage) => void)[] = [];

  readonly push = (m: InboundMessage): void => {
    const w = this.waiters.shift();
    if (w) w(m);
    else this.items.push(m);
  };

  next(timeoutMs = 5000): Promise<InboundMessage> {
    const m = this.items.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const waiter = (x: InboundMessage): void => {
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

  /** Deliveries that arrived and were not taken by next() yet. */
  get pending(): number {
    return this.items.length;
  }
}

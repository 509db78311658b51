/**
 * Deliveries in arrival order, awaitable (no polling, no sleeps). Unlike the
 * 0-9-1 tests' Inbox, a wait that times out gives up its place, so asserting
 * "nothing arrives within N ms" does not swallow the next delivery.
 */
import type { InboundMessage } from '../../../src/transport/transport';

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

  /** Resolves if nothing arrives within `ms`; fails (naming the body) if something does. */
  async nothingWithin(ms: number, why: string): Promise<void> {
    const got = await this.next(ms).then(
      (m) => m,
      () => undefined,
    );
    if (got) throw new Error(`${why}: got ${got.body.toString().slice(0, 200)}`);
  }
}

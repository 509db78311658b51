/**
 * What arrives (a transport's deliveries, a peer's output lines), in
 * arrival order, awaitable: no polling, no sleeps. A wait that times out
 * gives up its place, so a timed-out next() does not swallow what comes
 * after it.
 */
import type { InboundMessage, Settlement } from '../../src/transport/transport';

export class Arrivals<T> {
  private items: T[] = [];
  private waiters: ((m: T) => void)[] = [];

  readonly push = (m: T): void => {
    const w = this.waiters.shift();
    if (w) w(m);
    else this.items.push(m);
  };

  next(timeoutMs = 5000, what = 'delivery'): Promise<T> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift() as T);
    return new Promise((resolve, reject) => {
      const waiter = (x: T): void => {
        clearTimeout(timer);
        resolve(x);
      };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no ${what} within ${timeoutMs} ms`));
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

/** A delivery held by the test: its handler answers when the test settles it. */
export interface Delivery extends InboundMessage {
  /** The handler's answer, once (a second call is ignored); resolves after the transport has had a turn to apply it. */
  settle(how: Settlement): Promise<void>;
}

/** `m` as a Delivery, and the handler's answer (resolved by settle). */
export function held(m: InboundMessage): { delivery: Delivery; answer: Promise<Settlement> } {
  let answer: (how: Settlement) => void = () => undefined;
  const answered = new Promise<Settlement>((resolve) => {
    answer = resolve;
  });
  const delivery: Delivery = {
    ...m,
    settle: async (how) => {
      answer(how);
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
  return { delivery, answer: answered };
}

/** A transport's deliveries: `push` is the handler, and each delivery waits in the inbox until the test settles it. */
export class Inbox {
  private readonly arrivals = new Arrivals<Delivery>();

  readonly push = (m: InboundMessage): Promise<Settlement> => {
    const { delivery, answer } = held(m);
    this.arrivals.push(delivery);
    return answer;
  };

  next(timeoutMs = 5000): Promise<Delivery> {
    return this.arrivals.next(timeoutMs);
  }

  /** Deliveries that arrived and were not taken by next() yet. */
  get pending(): number {
    return this.arrivals.pending;
  }
}

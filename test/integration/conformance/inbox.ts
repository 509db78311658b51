/**
 * Deliveries in arrival order, awaitable (no polling, no sleeps). Unlike the
 * 0-9-1 tests' Inbox, a wait that times out gives up its place, so asserting
 * "nothing arrives within N ms" does not swallow the next delivery.
 */
import type { InboundMessage, Settlement } from '../../../src/transport/transport';

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

export class Inbox {
  private items: Delivery[] = [];
  private waiters: ((m: Delivery) => void)[] = [];

  /** The handler: each delivery waits in the inbox until the test settles it. */
  readonly push = (m: InboundMessage): Promise<Settlement> => {
    const { delivery, answer } = held(m);
    const w = this.waiters.shift();
    if (w) w(delivery);
    else this.items.push(delivery);
    return answer;
  };

  next(timeoutMs = 5000): Promise<Delivery> {
    const m = this.items.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const waiter = (x: Delivery): void => {
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

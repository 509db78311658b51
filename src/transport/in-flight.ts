/**
 * The deliveries both transports have handed to a handler and not yet
 * settled: each handler's answer is applied once, on the delivery's own
 * channel or session (the transport's `apply`), and the count is what a
 * graceful stop waits for (Transport.drained).
 */
import type { TransportLog } from './common-options';
import { errorText } from './timing';
import type { InboundMessage, MessageHandler, Settlement } from './transport';

export class InFlight {
  private count = 0;
  private waiters: (() => void)[] = [];

  constructor(private readonly log: TransportLog) {}

  get size(): number {
    return this.count;
  }

  /**
   * Hand `msg` to `handler` and apply its answer; a handler that throws or
   * rejects has its delivery requeued. 'leave' never reaches `apply`: the
   * delivery stays unsettled until its channel or session closes.
   */
  run(msg: InboundMessage, handler: MessageHandler, apply: (how: Exclude<Settlement, 'leave'>) => void): void {
    this.count++;
    let answer: Promise<Settlement>;
    try {
      answer = handler(msg);
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer
      .catch((err: unknown): Settlement => {
        this.log('error', 'message handler failed; message requeued', { queue: msg.queue, routing_key: msg.routingKey, error: errorText(err) });
        return 'requeue';
      })
      .then((how) => {
        if (how === 'leave') return;
        try {
          apply(how);
        } catch (err) {
          this.log('warn', 'settling a delivery failed; the broker redelivers it', { queue: msg.queue, error: errorText(err) });
        }
      })
      .finally(() => {
        this.count--;
        if (this.count === 0) for (const w of this.waiters.splice(0)) w();
      });
  }

  /** Resolves when no delivery is in a handler. */
  drained(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}

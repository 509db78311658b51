/**
 * Taking messages out of a host's dead-letter queue for replay, through the
 * caller's Transport (drainQueue: its connection, TLS and deadlines). Each
 * message is held unacked while it is looked at: `remove()` (after the re-publish was
 * confirmed) deletes it from the queue; `keep()` leaves it held. Closing the
 * reader puts back everything not removed, so a crash or a dry run loses
 * nothing.
 *
 * Bounded: the reader counts the queue when it opens (a passive declare:
 * the messages ready then) and takes no more than that many. A re-send the
 * worker refuses again lands at the queue's tail, behind those, and stays
 * there for the next run instead of being read, re-sent and refused again
 * for ever. A message carrying `stopAtRun` as its replay run (one this very
 * run re-sent, come back already) also ends the reading.
 */
import { TransportError } from '../errors';
import { REPLAY_HEADERS } from '../store/replay-marks';
import type { QueueDrain, Transport } from '../transport/transport';
import { DEAD_LETTER_HEADERS } from '../oslo/wire/oslo-wire';
import type { SourceMessage } from './replay-message';

export interface HeldMessage {
  msg: SourceMessage;
  remove(): void;
  keep(): void;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : undefined);

export class DeadLetterReader {
  private constructor(private readonly drain: QueueDrain) {}

  /** Messages ready in the queue when it was opened: all this reader will take. */
  get count(): number {
    return this.drain.count;
  }

  /** `transport`: started, and able to drain a queue (Transport.drainQueue). */
  static async open(transport: Transport, queue: string): Promise<DeadLetterReader> {
    if (!transport.drainQueue) throw new TransportError('this transport cannot read a dead-letter queue (AMQP 1.0 without a RabbitMQ 0-9-1 connection: set amqp10AdminUrl)', { queue });
    try {
      return new DeadLetterReader(await transport.drainQueue(queue));
    } catch (err) {
      if (err instanceof TransportError && err.details.missing === true) {
        throw new TransportError(`no dead-letter queue ${queue} (is the host name right, and has its worker ever run?)`, { queue });
      }
      throw err;
    }
  }

  /**
   * The messages the queue held when it was opened (at most `limit`), oldest
   * first, each held until removed or kept; it stops early at a message that
   * replay run `stopAtRun` re-sent.
   */
  async *take(limit = Number.POSITIVE_INFINITY, stopAtRun?: string): AsyncGenerator<HeldMessage> {
    for (let n = 0; n < Math.min(limit, this.count); n++) {
      const m = await this.drain.next();
      if (m === undefined) return;
      const h = { ...m.headers };
      if (stopAtRun !== undefined && str(h[REPLAY_HEADERS.run]) === stopAtRun) return;
      const at = str(h[DEAD_LETTER_HEADERS.at]);
      yield {
        msg: {
          source: 'dead-letter',
          ref: m.ref,
          exchange: str(h[DEAD_LETTER_HEADERS.exchange]) ?? '',
          routingKey: str(h[DEAD_LETTER_HEADERS.routingKey]) ?? '',
          headers: h,
          contentType: m.contentType,
          contentEncoding: m.contentEncoding,
          body: m.body,
          at: at ? new Date(at) : undefined,
          reason: `${str(h[DEAD_LETTER_HEADERS.reason]) ?? '?'}: ${str(h[DEAD_LETTER_HEADERS.error]) ?? ''}`,
        },
        remove: () => m.remove(),
        // Held, not requeued now: a requeued message would be the next one `next` returns.
        keep: () => undefined,
      };
    }
  }

  /** Puts back everything not removed, in its order (queue-drain.ts). The transport stays open: it is the caller's. */
  async close(): Promise<void> {
    await this.drain.close();
  }
}

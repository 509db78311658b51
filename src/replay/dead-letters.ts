/**
 * Taking messages out of a host's dead-letter queue for replay. Each message
 * is held unacked while it is looked at: `remove()` (after the re-publish was
 * confirmed) deletes it from the queue; `keep()` leaves it held. Closing the
 * reader puts back everything not removed, so a crash or a dry run loses
 * nothing.
 */
import type * as amqp from 'amqplib';
import { TransportError } from '../errors';
import { connectFirstHost } from '../transport/amqp091/first-host';
import { DEAD_LETTER_HEADERS } from '../worker/wire';
import type { SourceMessage } from './replay-message';

export interface HeldMessage {
  msg: SourceMessage;
  remove(): void;
  keep(): void;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : undefined);

export class DeadLetterReader {
  private constructor(private readonly conn: amqp.ChannelModel, private readonly ch: amqp.Channel, private readonly queue: string) {}

  static async open(url: string, queue: string): Promise<DeadLetterReader> {
    const conn = await connectFirstHost(url);
    conn.on('error', () => undefined);
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    try {
      await ch.checkQueue(queue);
    } catch {
      await conn.close().catch(() => undefined);
      throw new TransportError(`no dead-letter queue ${queue} (is the host name right, and has its worker ever run?)`);
    }
    return new DeadLetterReader(conn, ch, queue);
  }

  /** Every message now in the queue, oldest first, each held until removed or kept. */
  async *take(limit = Number.POSITIVE_INFINITY): AsyncGenerator<HeldMessage> {
    for (let n = 0; n < limit; n++) {
      const m = await this.ch.get(this.queue, { noAck: false });
      if (m === false) return;
      const h = { ...(m.properties.headers ?? {}) };
      const at = str(h[DEAD_LETTER_HEADERS.at]);
      yield {
        msg: {
          source: 'dead-letter',
          ref: `${this.queue}#${m.fields.deliveryTag}`,
          exchange: str(h[DEAD_LETTER_HEADERS.exchange]) ?? '',
          routingKey: str(h[DEAD_LETTER_HEADERS.routingKey]) ?? '',
          headers: h,
          contentType: str(m.properties.contentType),
          contentEncoding: str(m.properties.contentEncoding),
          body: m.content,
          at: at ? new Date(at) : undefined,
          reason: `${str(h[DEAD_LETTER_HEADERS.reason]) ?? '?'}: ${str(h[DEAD_LETTER_HEADERS.error]) ?? ''}`,
        },
        remove: () => this.ch.ack(m),
        // Held, not requeued now: a requeued message would be the next one `get` returns.
        keep: () => undefined,
      };
    }
  }

  /** Puts back everything not removed, in its order (the broker requeues unacked messages). */
  async close(): Promise<void> {
    try {
      this.ch.nackAll(true);
    } catch {
      // The channel is already gone: the broker requeued them itself.
    }
    await this.conn.close().catch(() => undefined);
  }
}

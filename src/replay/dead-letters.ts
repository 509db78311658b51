/**
 * Taking messages out of a host's dead-letter queue for replay. Each message
 * is held unacked while it is looked at: `remove()` (after the re-publish was
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
import type * as amqp from 'amqplib';
import { TransportError } from '../errors';
import { connectFirstHost } from '../transport/amqp091/first-host';
import { REPLAY_HEADERS } from '../store/replay-marks';
import { withTimeout } from '../transport/amqp091/timing';
import { DEAD_LETTER_HEADERS } from '../oslo/wire/oslo-wire';
import type { SourceMessage } from './replay-message';

export interface HeldMessage {
  msg: SourceMessage;
  remove(): void;
  keep(): void;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : undefined);

export class DeadLetterReader {
  private constructor(
    private readonly conn: amqp.ChannelModel,
    private readonly ch: amqp.Channel,
    private readonly queue: string,
    /** Messages ready in the queue when it was opened: all this reader will take. */
    readonly count: number,
    private readonly timeoutMs: number,
  ) {}

  static async open(url: string, queue: string, timeoutMs = 10_000): Promise<DeadLetterReader> {
    const conn = await connectFirstHost(url, {}, timeoutMs);
    conn.on('error', () => undefined);
    let ch: amqp.Channel;
    let count: number;
    try {
      ch = await withTimeout(conn.createChannel(), timeoutMs, 'opening a dead-letter channel');
      ch.on('error', () => undefined);
      count = (await withTimeout(ch.checkQueue(queue), timeoutMs, `looking at ${queue}`)).messageCount;
    } catch (err) {
      await conn.close().catch(() => undefined);
      if (err instanceof TransportError) throw err;
      throw new TransportError(`no dead-letter queue ${queue} (is the host name right, and has its worker ever run?)`, { queue });
    }
    return new DeadLetterReader(conn, ch, queue, count, timeoutMs);
  }

  /**
   * The messages the queue held when it was opened (at most `limit`), oldest
   * first, each held until removed or kept; it stops early at a message that
   * replay run `stopAtRun` re-sent.
   */
  async *take(limit = Number.POSITIVE_INFINITY, stopAtRun?: string): AsyncGenerator<HeldMessage> {
    for (let n = 0; n < Math.min(limit, this.count); n++) {
      const m = await withTimeout(this.ch.get(this.queue, { noAck: false }), this.timeoutMs, `reading ${this.queue}`);
      if (m === false) return;
      const h = { ...(m.properties.headers ?? {}) };
      if (stopAtRun !== undefined && str(h[REPLAY_HEADERS.run]) === stopAtRun) return;
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

  /**
   * Puts back everything not removed, in its order (the broker requeues unacked messages).
   * The channel is closed before the connection: acks are not answered, and RabbitMQ drops
   * those still queued for a channel when the connection closes under it (measured: acks
   * sent just before connection.close were lost); channel.close-ok comes after them.
   */
  async close(): Promise<void> {
    try {
      this.ch.nackAll(true);
      await withTimeout(this.ch.close(), this.timeoutMs, `closing the channel of ${this.queue}`);
    } catch {
      // The channel is already gone: the broker requeued them itself.
    }
    await withTimeout(this.conn.close(), this.timeoutMs, 'closing the dead-letter connection').catch(() => undefined);
  }
}

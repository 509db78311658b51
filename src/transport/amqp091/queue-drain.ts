/**
 * A queue's messages taken one by one with basic.get (no auto-ack) on a
 * channel of the transport's own connection, each held unacked until
 * removed; closing the channel gives back the rest (the broker requeues
 * unacked messages in their order). Bounded: `count` is the passive
 * declare's count when the drain opened. Every call has the transport's
 * operation deadline.
 */
import type { ChannelModel } from 'amqplib';
import { TransportError } from '../../errors';
import { errorText, withTimeout } from '../timing';
import type { QueueDrain } from '../transport';

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export async function openQueueDrain(model: ChannelModel, queue: string, timeoutMs: number): Promise<QueueDrain> {
  const ch = await withTimeout(model.createChannel(), timeoutMs, `opening a channel to drain ${queue}`, (late) => {
    void late.close().catch(() => undefined);
  });
  ch.on('error', () => undefined);
  let count: number;
  try {
    count = (await withTimeout(ch.checkQueue(queue), timeoutMs, `looking at ${queue}`)).messageCount;
  } catch (err) {
    await withTimeout(ch.close(), timeoutMs, `closing the channel of ${queue}`).catch(() => undefined);
    if (err instanceof TransportError) throw err;
    throw new TransportError(`no queue ${queue} on the broker: ${errorText(err)}`, { queue, missing: true });
  }
  return {
    count,
    async next() {
      const m = await withTimeout(ch.get(queue, { noAck: false }), timeoutMs, `reading ${queue}`);
      if (m === false) return undefined;
      return {
        body: m.content,
        contentType: str(m.properties.contentType),
        contentEncoding: str(m.properties.contentEncoding),
        headers: { ...(m.properties.headers ?? {}) },
        ref: `${queue}#${m.fields.deliveryTag}`,
        remove: () => ch.ack(m),
      };
    },
    /**
     * The channel is closed (not just the connection): acks are not answered, and RabbitMQ drops
     * those still queued for a channel when the connection closes under it (measured: acks sent
     * just before connection.close were lost); channel.close-ok comes after them.
     */
    async close() {
      try {
        ch.nackAll(true);
        await withTimeout(ch.close(), timeoutMs, `closing the channel of ${queue}`);
      } catch {
        // The channel is already gone: the broker requeued them itself.
      }
    },
  };
}

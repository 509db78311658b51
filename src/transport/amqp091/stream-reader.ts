/**
 * Reading a RabbitMQ stream over AMQP 0-9-1 (RabbitMQ docs, streams): a
 * consumer with manual acks, a prefetch (the credit; acks only move the
 * credit window, a stream keeps every message), and the argument
 * `x-stream-offset`: 'first', 'last', 'next', an offset, or a timestamp
 * (seconds, AMQP type timestamp). Each delivery carries its offset in the
 * header `x-stream-offset`.
 *
 * On a channel of the transport's own connection, bounded by its operation
 * deadline; not resumed after a loss: a lost channel ends the read with a
 * TransportError (a reader starts again from the last offset it saw).
 */
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { TransportError } from '../../errors';
import { amqpCode, errorText, withTimeout } from '../timing';
import type { StreamReader, StreamRecord, StreamStart } from '../transport';

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function offsetArg(from: StreamStart): unknown {
  if (from instanceof Date) return { '!': 'timestamp', value: Math.floor(from.getTime() / 1000) };
  return from;
}

function recordOf(m: ConsumeMessage): StreamRecord {
  const headers: Record<string, unknown> = { ...(m.properties.headers ?? {}) };
  const off = headers['x-stream-offset'];
  const ts: unknown = m.properties.timestamp;
  return {
    offset: typeof off === 'number' ? off : Number(off),
    exchange: m.fields.exchange,
    routingKey: m.fields.routingKey,
    headers,
    contentType: str(m.properties.contentType),
    contentEncoding: str(m.properties.contentEncoding),
    userId: str(m.properties.userId),
    timestamp: typeof ts === 'number' ? new Date(ts * 1000) : undefined,
    body: m.content,
  };
}

export async function openStreamReader(model: ChannelModel, stream: string, from: StreamStart, prefetch: number, timeoutMs: number): Promise<StreamReader> {
  const ch: Channel = await withTimeout(model.createChannel(), timeoutMs, `opening a channel to read ${stream}`, (late) => {
    void late.close().catch(() => undefined);
  });
  const buffered: StreamRecord[] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  const fail = (err: Error): void => {
    failure ??= err;
    wake?.();
  };
  ch.on('error', (err: Error) => fail(new TransportError(`reading ${stream}: ${errorText(err)}`, { stream })));
  ch.on('close', () => fail(new TransportError(`reading ${stream}: the channel closed`, { stream })));
  const close = (): Promise<void> => withTimeout(ch.close(), timeoutMs, `closing the channel reading ${stream}`).catch(() => undefined);
  try {
    await withTimeout(ch.prefetch(prefetch), timeoutMs, `setting the prefetch to read ${stream}`);
    await withTimeout(
      ch.consume(stream, (m) => {
        if (m === null) {
          fail(new TransportError(`reading ${stream}: the consumer was cancelled by the broker`, { stream }));
          return;
        }
        buffered.push(recordOf(m));
        ch.ack(m);
        wake?.();
      }, { noAck: false, arguments: { 'x-stream-offset': offsetArg(from) } }),
      timeoutMs,
      `consuming ${stream}`,
    );
  } catch (err) {
    await close();
    if (amqpCode(err) === 404) throw new TransportError(`no stream ${stream} on the broker`, { stream, missing: true });
    throw err instanceof TransportError ? err : new TransportError(`cannot read ${stream}: ${errorText(err)}`, { stream });
  }
  return {
    async next(waitMs) {
      if (buffered.length === 0 && failure === undefined) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, waitMs);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = undefined;
      }
      const r = buffered.shift();
      if (r !== undefined) return r;
      if (failure) throw failure;
      return undefined;
    },
    append: (record) => appendToStream(model, stream, record, timeoutMs),
    close,
  };
}

/** Through the default exchange straight to the stream (routed nowhere else), mandatory and confirmed. */
async function appendToStream(model: ChannelModel, stream: string, record: { body: Buffer; contentType: string; headers: Record<string, unknown> }, timeoutMs: number): Promise<void> {
  const ch = await withTimeout(model.createConfirmChannel(), timeoutMs, `opening a channel to append to ${stream}`, (late) => {
    void late.close().catch(() => undefined);
  });
  ch.on('error', () => undefined);
  let returned = false;
  ch.on('return', () => {
    returned = true;
  });
  try {
    ch.publish('', stream, record.body, { mandatory: true, contentType: record.contentType, headers: record.headers });
    await withTimeout(ch.waitForConfirms(), timeoutMs, `appending to ${stream}`);
    // A basic.return comes before the confirm of the same message.
    if (returned) throw new TransportError(`no stream ${stream} on the broker`, { stream, missing: true });
  } catch (err) {
    throw err instanceof TransportError ? err : new TransportError(`appending to ${stream}: ${errorText(err)}`, { stream });
  } finally {
    await withTimeout(ch.close(), timeoutMs, `closing the channel appending to ${stream}`).catch(() => undefined);
  }
}

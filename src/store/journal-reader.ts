/**
 * Reading the journal stream over AMQP 0-9-1, for `hostwall replay` and for
 * operators: records from an offset or a point in time, each with its
 * original exchange, routing key, headers, properties and body.
 *
 * How streams are read over 0-9-1 (RabbitMQ docs, streams): a consumer with
 * manual acks, a prefetch (the credit; acks only move the credit window, a
 * stream keeps every message), and the argument `x-stream-offset`: 'first',
 * 'last', 'next', an offset, or a timestamp (seconds, AMQP type timestamp).
 * Each delivery carries its offset in the header `x-stream-offset`.
 *
 * Time: the broker finds a timestamp by chunk (a batch of messages written
 * together), so reading "from T" may start a little before T. Messages carry
 * no per-message broker time over 0-9-1; `timestamp` is the AMQP timestamp
 * property when the publisher set one. `until: Date` is resolved to the
 * offset of the first chunk at or after that time, with the same precision.
 *
 * A stream never ends: reading stops at `until`, after `limit` records, or
 * when nothing arrives for `idleMs` (caught up). A busy journal is never
 * idle, and a reader that re-sends what it reads (replay) appends to it, so
 * `stopAtTail` stops at the stream's tail as it was when reading began:
 * the reader appends a marker record (journal-marker.ts) straight to the
 * stream, has the broker confirm it, and stops when it reads it back. Marker
 * records are never yielded, by any read.
 */
import type * as amqp from 'amqplib';
import { TransportError } from '../errors';
import { connectFirstHost } from '../transport/amqp091/first-host';
import { JOURNAL_STREAM } from './journal';
import { appendMarker, isMarker, markerOf } from './journal-marker';

export type JournalStart = 'first' | 'last' | 'next' | number | Date;

export interface JournalRecord {
  offset: number;
  exchange: string;
  routingKey: string;
  headers: Record<string, unknown>;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  userId: string | undefined;
  timestamp: Date | undefined;
  body: Buffer;
}

export interface JournalReadOptions {
  url: string;
  stream?: string;
  from: JournalStart;
  /** Stop before this offset, or before the first chunk written at or after this time. */
  until?: number | Date;
  /** Stop before anything appended after reading began (a marker, see above); never ends on idle then. */
  stopAtTail?: boolean;
  /** Told the offset reading stopped before, when it stopped at `until` or the tail: a second pass with it as `until` reads the same records. */
  onStop?: (offset: number) => void;
  limit?: number;
  /** Caught up when nothing arrives for this long (default 1,000 ms). */
  idleMs?: number;
  prefetch?: number;
  /** amqplib socket options (TLS material for amqps://). */
  socket?: amqp.Options.Connect | Record<string, unknown>;
  /** Deadline of each broker operation (default 10,000 ms). */
  timeoutMs?: number;
}

function offsetArg(from: JournalStart): unknown {
  if (from instanceof Date) return { '!': 'timestamp', value: Math.floor(from.getTime() / 1000) };
  return from;
}

async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TransportError(`${what}: no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function recordOf(m: amqp.ConsumeMessage): JournalRecord {
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

/** The offset of the first record at or after `at`, or undefined if none was written since. */
export async function offsetAt(opts: Omit<JournalReadOptions, 'from' | 'until' | 'limit'>, at: Date): Promise<number | undefined> {
  // A look-up of its own: no marker, and nothing to tell the caller's onStop.
  const { stopAtTail: _tail, onStop: _stop, ...plain } = opts;
  for await (const r of readJournal({ ...plain, from: at, limit: 1, idleMs: opts.idleMs ?? 500 })) return r.offset;
  return undefined;
}

export async function* readJournal(opts: JournalReadOptions): AsyncGenerator<JournalRecord> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const idleMs = opts.idleMs ?? 1_000;
  const stopAt = opts.until instanceof Date ? await offsetAt(opts, opts.until) : opts.until;
  // Each host of the URL in turn, each bounded by timeoutMs.
  const conn = await connectFirstHost(opts.url, opts.socket ?? {}, timeoutMs);
  conn.on('error', () => undefined);
  const stream = opts.stream ?? JOURNAL_STREAM;
  const buffered: JournalRecord[] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  try {
    const ch = await bounded(conn.createChannel(), timeoutMs, 'opening a journal channel');
    ch.on('error', (err: Error) => {
      failure = err;
      wake?.();
    });
    await bounded(ch.prefetch(opts.prefetch ?? 500), timeoutMs, 'setting the journal prefetch');
    const tail = opts.stopAtTail === true ? await appendMarker(conn, stream, timeoutMs) : undefined;
    // Before its tail marker the stream is never "caught up": a pause is the broker's, and long is an error.
    const quietMs = tail === undefined ? idleMs : timeoutMs;
    await bounded(
      ch.consume(stream, (m) => {
        if (m === null) {
          failure = new TransportError('the journal consumer was cancelled by the broker');
        } else {
          buffered.push(recordOf(m));
          ch.ack(m);
        }
        wake?.();
      }, { noAck: false, arguments: { 'x-stream-offset': offsetArg(opts.from) } }),
      timeoutMs,
      'consuming the journal',
    );
    let given = 0;
    for (;;) {
      if (buffered.length === 0) {
        const arrived = await new Promise<boolean>((resolve) => {
          const t = setTimeout(() => resolve(false), quietMs);
          wake = () => {
            clearTimeout(t);
            resolve(true);
          };
        });
        wake = undefined;
        if (failure) throw failure;
        if (!arrived && tail !== undefined) throw new TransportError(`the journal delivered nothing for ${quietMs} ms before reaching its tail marker`);
        if (!arrived) return;
        continue;
      }
      const r = buffered.shift();
      if (r === undefined) continue;
      if ((stopAt !== undefined && r.offset >= stopAt) || (tail !== undefined && markerOf(r.headers) === tail)) {
        opts.onStop?.(r.offset);
        return;
      }
      if (isMarker(r.headers)) continue;
      yield r;
      if (opts.limit !== undefined && ++given >= opts.limit) return;
    }
  } finally {
    await bounded(conn.close(), timeoutMs, 'closing the journal connection').catch(() => undefined);
  }
}

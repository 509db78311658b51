/**
 * Reading the journal stream, for `hostwall replay` and for operators:
 * records from an offset or a point in time, each with its original
 * exchange, routing key, headers, properties and body. The bytes come
 * through the caller's Transport (readStream: its connection, TLS and
 * deadlines; transport/amqp091/stream-reader.ts says how a stream is read).
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
import { TransportError } from '../errors';
import type { StreamReader, StreamRecord, StreamStart, Transport } from '../transport/transport';
import { JOURNAL_STREAM } from './journal';
import { appendMarker, isMarker, markerOf } from './journal-marker';

export type JournalStart = StreamStart;

export type JournalRecord = StreamRecord;

export interface JournalReadOptions {
  /** A started transport that can read streams (Transport.readStream). */
  transport: Transport;
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
  /** Before its tail marker, a pause this long is an error, not "caught up" (default 10,000 ms). */
  timeoutMs?: number;
}

/** The offset of the first record at or after `at`, or undefined if none was written since. */
export async function offsetAt(opts: Omit<JournalReadOptions, 'from' | 'until' | 'limit'>, at: Date): Promise<number | undefined> {
  // A look-up of its own: no marker, and nothing to tell the caller's onStop.
  const { stopAtTail: _tail, onStop: _stop, ...plain } = opts;
  for await (const r of readJournal({ ...plain, from: at, limit: 1, idleMs: opts.idleMs ?? 500 })) return r.offset;
  return undefined;
}

export async function* readJournal(opts: JournalReadOptions): AsyncGenerator<JournalRecord> {
  const { transport } = opts;
  if (!transport.readStream) throw new TransportError('this transport cannot read the journal stream (AMQP 1.0 without a RabbitMQ 0-9-1 connection: set amqp10AdminUrl)');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const idleMs = opts.idleMs ?? 1_000;
  const stopAt = opts.until instanceof Date ? await offsetAt(opts, opts.until) : opts.until;
  const stream = opts.stream ?? JOURNAL_STREAM;
  let reader: StreamReader;
  try {
    reader = await transport.readStream(stream, opts.from, { prefetch: opts.prefetch ?? 500 });
  } catch (err) {
    if (err instanceof TransportError && err.details.missing === true) throw new TransportError(`no journal stream ${stream} on the broker (has a worker with the journal on ever run here?)`, { stream });
    throw err;
  }
  try {
    const tail = opts.stopAtTail === true ? await appendMarker(reader, stream) : undefined;
    // Before its tail marker the stream is never "caught up": a pause is the broker's, and long is an error.
    const quietMs = tail === undefined ? idleMs : timeoutMs;
    let given = 0;
    for (;;) {
      const r = await reader.next(quietMs);
      if (r === undefined && tail !== undefined) throw new TransportError(`the journal delivered nothing for ${quietMs} ms before reaching its tail marker`);
      if (r === undefined) return;
      if ((stopAt !== undefined && r.offset >= stopAt) || (tail !== undefined && markerOf(r.headers) === tail)) {
        opts.onStop?.(r.offset);
        return;
      }
      if (isMarker(r.headers)) continue;
      yield r;
      if (opts.limit !== undefined && ++given >= opts.limit) return;
    }
  } finally {
    await reader.close();
  }
}

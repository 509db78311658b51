/**
 * The journal (docs/design.md#topology): a RabbitMQ stream, `hostwall.journal`, bound to
 * the control exchange for `<topic>.#` (which also matches `<topic>`), so
 * every intent message the broker routes to the compute queues is also
 * appended to a replicated, retained log that `hostwall replay` reads by
 * offset or time (journal-reader.ts). Fanout casts (`compute_fanout`) are
 * not journaled.
 *
 * Streams need no plugin over AMQP 0-9-1 (RabbitMQ 3.9+): a durable queue
 * with `x-queue-type: stream`. Retention: `x-max-age` and
 * `x-max-length-bytes`, applied per segment (`x-stream-max-segment-size-bytes`).
 * Every worker declares it; the broker keeps the arguments of the first
 * declaration and refuses a different one (406), which the worker logs and
 * then carries on with the stream that exists.
 */
import type { Config } from '../config';
import type { Topology } from '../transport/transport';

export const JOURNAL_STREAM = 'hostwall.journal';

/** Segment size: retention is applied a whole segment at a time. */
export const JOURNAL_SEGMENT_BYTES = 100_000_000;

export function journalQueue(config: Pick<Config, 'journalMaxAge' | 'journalMaxBytes'>): Topology {
  return {
    exchanges: [],
    queues: [{
      name: JOURNAL_STREAM, durable: true, autoDelete: false, exclusive: false,
      arguments: {
        'x-queue-type': 'stream',
        'x-max-age': config.journalMaxAge,
        'x-max-length-bytes': config.journalMaxBytes,
        'x-stream-max-segment-size-bytes': JOURNAL_SEGMENT_BYTES,
      },
    }],
    bindings: [],
  };
}

export function journalBindings(config: Pick<Config, 'controlExchange' | 'topic'>): Topology {
  return { exchanges: [], queues: [], bindings: [{ queue: JOURNAL_STREAM, exchange: config.controlExchange, routingKey: `${config.topic}.#` }] };
}

/**
 * What both transports refuse in consume() before touching the broker, and
 * which of the call's queues are to be consumed exclusively.
 */
import { TransportError } from '../errors';
import type { ConsumeOptions } from './transport';

/** The queues of one consume() call that it asks to hold alone; throws for an empty list or a prefetch AMQP cannot carry. */
export function checkConsume(queues: readonly string[], opts: ConsumeOptions): string[] | undefined {
  if (queues.length === 0) throw new TransportError('consume() needs at least one queue');
  if (!Number.isInteger(opts.prefetch) || opts.prefetch < 0 || opts.prefetch > 65535) {
    throw new TransportError(`prefetch must be an integer in 0..65535, got ${opts.prefetch}`);
  }
  return opts.exclusive?.filter((q) => queues.includes(q));
}

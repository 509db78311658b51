/**
 * Counting the deliveries of a message that keeps coming back unfinished
 * (the worker crashed on it, or could not settle it), so it is dead-lettered
 * as POISON after `poisonDeliveries` instead of looping for ever (BullMQ's
 * maxStartedAttempts; Watermill's poison queue).
 *
 * Two counts, the larger wins: a quorum queue's `x-delivery-count` header
 * (returns counted by the broker), and a local count in the intent store by
 * the body's SHA-256, bumped (and committed at once) for every delivery the
 * broker flags `redelivered`. The local count is what classic queues have,
 * and it survives the crashes it counts. Only redeliveries are counted: the
 * first delivery of every message costs nothing.
 *
 * Only what the broker says is counted, never what the sender wrote: the
 * `redelivered` flag is the broker's, but an `x-delivery-count` header is
 * the broker's only on a quorum queue (RabbitMQ 3.x sets it on every
 * delivery, 0 on the first, over whatever the publisher put there). On a
 * classic queue it is the publisher's own header, passed through: trusted,
 * it made a valid first delivery poison (issue 15). So the header is read
 * only from queues the worker declared as quorum queues, and only on a
 * redelivery (a first delivery has nothing to count).
 *
 * Refusals are counted the same way: a refused message whose dead letter
 * could not be sent (the queue was deleted, the broker refused it) comes
 * back; past the limit it is dead-lettered as POISON when it can be, and
 * until then each return waits refusalBackoffMs first, so it never spins.
 */
import { createHash } from 'node:crypto';
import type { InboundMessage } from '../transport/transport';
import type { IntentStore } from '../store/intent-store';

export interface DeliveryCount {
  fingerprint: string;
  /** This delivery's number: 1 for the first. */
  deliveries: number;
}

/** Whether the broker counts the deliveries of a consumed queue in `x-delivery-count` (its quorum queues). */
export type CountedByBroker = (queue: string) => boolean;

export function countDelivery(msg: InboundMessage, store: IntentStore, countedByBroker: CountedByBroker = () => false): DeliveryCount | undefined {
  if (!msg.redelivered) return undefined;
  const header = countedByBroker(msg.queue) ? msg.headers['x-delivery-count'] : undefined;
  const brokerCount = typeof header === 'number' && Number.isFinite(header) ? header : 0;
  const fingerprint = createHash('sha256').update(msg.body).digest('hex');
  return { fingerprint, deliveries: 1 + Math.max(store.countDelivery(fingerprint), brokerCount) };
}

/** The first pause before a refusal that could not be dead-lettered is requeued, doubled per delivery. */
const REFUSAL_BACKOFF_FIRST_MS = 100;
/** At most this: a pause holds the message (and a prefetch slot), and a graceful stop waits for it. */
const REFUSAL_BACKOFF_MAX_MS = 5_000;

export function refusalBackoffMs(deliveries: number): number {
  return Math.min(REFUSAL_BACKOFF_FIRST_MS * 2 ** Math.min(Math.max(0, deliveries - 1), 16), REFUSAL_BACKOFF_MAX_MS);
}

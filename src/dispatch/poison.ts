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

export function countDelivery(msg: InboundMessage, store: IntentStore): DeliveryCount | undefined {
  const header = msg.headers['x-delivery-count'];
  const brokerCount = typeof header === 'number' && Number.isFinite(header) ? header : undefined;
  if (!msg.redelivered && brokerCount === undefined) return undefined;
  const fingerprint = createHash('sha256').update(msg.body).digest('hex');
  const local = msg.redelivered ? store.countDelivery(fingerprint) : 0;
  return { fingerprint, deliveries: 1 + Math.max(local, brokerCount ?? 0) };
}

/** The first pause before a refusal that could not be dead-lettered is requeued, doubled per delivery. */
const REFUSAL_BACKOFF_FIRST_MS = 100;
/** At most this: a pause holds the message (and a prefetch slot), and a graceful stop waits for it. */
const REFUSAL_BACKOFF_MAX_MS = 5_000;

export function refusalBackoffMs(deliveries: number): number {
  return Math.min(REFUSAL_BACKOFF_FIRST_MS * 2 ** Math.min(Math.max(0, deliveries - 1), 16), REFUSAL_BACKOFF_MAX_MS);
}
